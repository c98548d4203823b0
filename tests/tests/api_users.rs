//! API tests: the token lifecycle (expiry, rotation, revocation), the users of a call center, and
//! admins scoped to a call center. One node in process, its clock moved by the harness.

use serde_json::{json, Value};
use switchboard_domain::config::{Role as UserRole, User};
use switchboard_domain::{Timestamp, UserId};
use switchboard_node::identity::{new_token, token_hash};
use switchboard_node::service::ServiceError;
use switchboard_node::store::{Op, StoreExt, TreeId, UserOrigin};
use switchboard_sync::doc::{self as sdoc, Author, UserRecord};
use switchboard_tests::api_harness::{call_center_body, Answer, ApiNode, T0, TOKEN_DAYS};

/// An HQ node with call centers `cc1` and `cc2`.
async fn hq() -> ApiNode {
    let node = ApiNode::hq();
    for (cc, name) in [("cc1", "North"), ("cc2", "South")] {
        node.put(
            &format!("/api/v1/call-centers/{cc}"),
            &node.admin,
            call_center_body(name),
        )
        .await
        .ok(200);
    }
    node
}

/// Adds a user with `token` (an admin's); the answer's body.
async fn add(node: &ApiNode, token: &str, cc: &str, name: &str, role: &str) -> Value {
    node.post(
        &format!("/api/v1/call-centers/{cc}/users"),
        token,
        json!({"name": name, "role": role}),
    )
    .await
    .ok(201)
    .clone()
}

fn s(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .to_string()
}

/// A 401 `unauthorized` whose detail says `why`, with the bearer challenge.
#[track_caller]
fn refused(a: &Answer, why: &str) {
    a.problem(401, "unauthorized");
    assert!(
        a.body["detail"].as_str().unwrap_or_default().contains(why),
        "detail of {}",
        a.text
    );
}

#[tokio::test]
async fn a_token_works_until_its_expires_at_and_is_refused_after() {
    let node = hq().await;
    let ann = add(&node, &node.admin, "cc1", "Ann", "agent").await;
    let expires = Timestamp::parse(&s(&ann, "expires_at")).expect("expires_at is a time");
    assert_eq!(
        expires,
        Timestamp::from_millis(T0).plus_days(TOKEN_DAYS as i64),
        "one configured lifetime from now"
    );
    let token = s(&ann, "token");
    node.set_now(&Timestamp::from_millis(expires.as_millis() - 1).to_string());
    node.get("/api/v1/call-centers/cc1", &token).await.ok(200);
    node.set_now(&expires.to_string());
    let a = node.get("/api/v1/call-centers/cc1", &token).await;
    refused(&a, "expired");
    // The same answer as any 401: a bearer challenge.
    let raw = node
        .raw(
            axum::http::Method::GET,
            "/api/v1/orders",
            Some(&token),
            Vec::new(),
        )
        .await;
    refused(&raw, "expired");
    // Rotating it gives a working token with a fresh lifetime; an expired token cannot rotate
    // itself, an admin can.
    let path = format!("/api/v1/users/{}/rotate", s(&ann, "user_id"));
    refused(&node.post_empty(&path, &token).await, "expired");
    let admin = node.admin.clone();
    let rotated = node.post_empty(&path, &admin).await.ok(200).clone();
    let fresh = s(&rotated, "token");
    assert!(Timestamp::parse(&s(&rotated, "expires_at")).expect("time") > expires);
    node.get("/api/v1/call-centers/cc1", &fresh).await.ok(200);
}

#[tokio::test]
async fn the_bearer_challenge_comes_with_an_expired_token() {
    let node = hq().await;
    let ann = add(&node, &node.admin, "cc1", "Ann", "agent").await;
    node.set_now("2040-01-01T00:00:00Z");
    let app = node.app.clone();
    let req = axum::http::Request::builder()
        .uri("/api/v1/orders")
        .header("authorization", format!("Bearer {}", s(&ann, "token")))
        .body(axum::body::Body::empty())
        .expect("request");
    let resp = tower::ServiceExt::oneshot(app, req).await.expect("answer");
    assert_eq!(resp.status(), 401);
    assert!(resp.headers().contains_key("www-authenticate"));
}

#[tokio::test]
async fn rotation_replaces_the_token_and_revocation_ends_every_token() {
    let node = hq().await;
    let admin = node.admin.clone();
    let ann = add(&node, &admin, "cc1", "Ann", "agent").await;
    let bob = add(&node, &admin, "cc1", "Bob", "agent").await;
    let (ann_id, ann_tok) = (s(&ann, "user_id"), s(&ann, "token"));
    let (bob_id, bob_tok) = (s(&bob, "user_id"), s(&bob, "token"));

    // A user rotates their own token: the old one stops working at once.
    let r = node
        .post_empty(&format!("/api/v1/users/{ann_id}/rotate"), &ann_tok)
        .await
        .ok(200)
        .clone();
    let ann_new = s(&r, "token");
    assert_ne!(ann_new, ann_tok);
    refused(
        &node.get("/api/v1/call-centers/cc1", &ann_tok).await,
        "unknown",
    );
    node.get("/api/v1/call-centers/cc1", &ann_new).await.ok(200);
    // An agent may not rotate or revoke someone else.
    node.post_empty(&format!("/api/v1/users/{bob_id}/rotate"), &ann_new)
        .await
        .problem(403, "forbidden");
    node.post_empty(&format!("/api/v1/users/{bob_id}/revoke"), &ann_new)
        .await
        .problem(403, "forbidden");

    // Revocation: Bob's token is refused, the list says so, and it stays that way.
    let v = node
        .post_empty(&format!("/api/v1/users/{bob_id}/revoke"), &admin)
        .await
        .ok(200)
        .clone();
    assert_eq!(
        (v["user_id"].clone(), v["disabled"].clone()),
        (json!(bob_id), json!(true))
    );
    refused(
        &node.get("/api/v1/call-centers/cc1", &bob_tok).await,
        "revoked",
    );
    node.post_empty(&format!("/api/v1/users/{bob_id}/rotate"), &admin)
        .await
        .problem(409, "conflict");
    node.post_empty(&format!("/api/v1/users/{bob_id}/revoke"), &admin)
        .await
        .ok(200);
    refused(
        &node.get("/api/v1/call-centers/cc1", &bob_tok).await,
        "revoked",
    );
    // The admin made by init is rotated, never revoked.
    let users = node.state.storage.store();
    let admin_id = users
        .user_by_token_hash(&token_hash(&admin))
        .expect("read")
        .expect("admin entry")
        .user
        .id;
    node.post_empty(&format!("/api/v1/users/{admin_id}/revoke"), &admin)
        .await
        .problem(409, "conflict");
    let r = node
        .post_empty(&format!("/api/v1/users/{admin_id}/rotate"), &admin)
        .await
        .ok(200)
        .clone();
    refused(&node.get("/api/v1/node", &admin).await, "unknown");
    node.get("/api/v1/node", &s(&r, "token")).await.ok(200);
    // Unknown and malformed ids.
    let new_admin = s(&r, "token");
    for id in ["00000000-0000-0000-0000-000000000000", "nope"] {
        node.post_empty(&format!("/api/v1/users/{id}/revoke"), &new_admin)
            .await
            .problem(404, "not_found");
    }
}

#[tokio::test]
async fn admins_list_a_call_centers_users_a_page_at_a_time() {
    let node = hq().await;
    let admin = node.admin.clone();
    let mut ids = Vec::new();
    for name in ["Ann", "Bob", "Cid"] {
        ids.push(s(
            &add(&node, &admin, "cc1", name, "agent").await,
            "user_id",
        ));
    }
    add(&node, &admin, "cc2", "Olga", "agent").await;
    node.post_empty(&format!("/api/v1/users/{}/revoke", ids[1]), &admin)
        .await
        .ok(200);
    ids.sort();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let path = match &cursor {
            Some(c) => format!("/api/v1/call-centers/cc1/users?limit=2&cursor={c}"),
            None => "/api/v1/call-centers/cc1/users?limit=2".to_string(),
        };
        let page = node.get(&path, &admin).await.ok(200).clone();
        for u in page["items"].as_array().expect("items") {
            assert_eq!(u["role"], "agent");
            assert!(u["created_at"].is_string(), "{u}");
            assert!(u.get("token").is_none() && u.get("token_hash").is_none());
            seen.push((s(u, "user_id"), u["disabled"].as_bool().expect("disabled")));
        }
        cursor = page["next_cursor"].as_str().map(str::to_string);
        if cursor.is_none() {
            break;
        }
    }
    let listed: Vec<String> = seen.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(listed, ids, "every user of cc1, by id, once");
    assert_eq!(seen.iter().filter(|(_, d)| *d).count(), 1, "one revoked");
    // Not for agents; another call center's list is not there for a scoped admin.
    let agent = node.user("cc1", "Dan", "agent").await;
    node.get("/api/v1/call-centers/cc1/users", &agent)
        .await
        .problem(403, "forbidden");
    let scoped = s(&add(&node, &admin, "cc1", "Ada", "admin").await, "token");
    node.get("/api/v1/call-centers/cc1/users", &scoped)
        .await
        .ok(200);
    node.get("/api/v1/call-centers/cc2/users", &scoped)
        .await
        .problem(404, "not_found");
    node.get("/api/v1/call-centers/cc1/users?cursor=zz", &admin)
        .await
        .problem(422, "validation");
}

#[tokio::test]
async fn a_scoped_admin_administers_its_call_center_and_nothing_global() {
    let node = hq().await;
    let admin = node.admin.clone();
    let ada = s(&add(&node, &admin, "cc1", "Ada", "admin").await, "token");
    let olga = add(&node, &admin, "cc2", "Olga", "agent").await;
    // Its own call center: users, their tokens, its configuration, its customers and orders.
    let ann = add(&node, &ada, "cc1", "Ann", "agent").await;
    node.post_empty(
        &format!("/api/v1/users/{}/rotate", s(&ann, "user_id")),
        &ada,
    )
    .await
    .ok(200);
    node.put(
        "/api/v1/call-centers/cc1",
        &ada,
        call_center_body("North 2"),
    )
    .await
    .ok(200);
    node.post(
        "/api/v1/customers",
        &ada,
        json!({"name": "Carla", "call_center_id": "cc1"}),
    )
    .await
    .ok(201);
    // Another call center: not there, or forbidden to write.
    node.get("/api/v1/call-centers/cc2", &ada)
        .await
        .problem(404, "not_found");
    for (path, body) in [
        ("/api/v1/call-centers/cc2", call_center_body("South 2")),
        ("/api/v1/call-centers/cc3", call_center_body("New")),
    ] {
        node.put(path, &ada, body).await.problem(403, "forbidden");
    }
    node.post(
        "/api/v1/call-centers/cc2/users",
        &ada,
        json!({"name": "Eve", "role": "admin"}),
    )
    .await
    .problem(403, "forbidden");
    node.post_empty(
        &format!("/api/v1/users/{}/revoke", s(&olga, "user_id")),
        &ada,
    )
    .await
    .problem(404, "not_found");
    node.post(
        "/api/v1/customers",
        &ada,
        json!({"name": "Carl", "call_center_id": "cc2"}),
    )
    .await
    .problem(403, "forbidden");
    // Global configuration, peers, sync and the warehouse: node-wide admins only.
    node.put(
        "/api/v1/products/widget",
        &ada,
        json!({"name": "Widget", "price": "1.00"}),
    )
    .await
    .problem(403, "forbidden");
    node.put(
        "/api/v1/price-groups/north",
        &ada,
        json!({"name": "North", "prices": {}}),
    )
    .await
    .problem(403, "forbidden");
    node.get("/api/v1/peers", &ada)
        .await
        .problem(403, "forbidden");
    node.post_empty("/api/v1/sync", &ada)
        .await
        .problem(403, "forbidden");
    // The node-wide admin still does all of it.
    node.put(
        "/api/v1/products/widget",
        &admin,
        json!({"name": "Widget", "price": "1.00"}),
    )
    .await
    .ok(200);
    node.get("/api/v1/call-centers/cc2/users", &admin)
        .await
        .ok(200);
}

#[tokio::test]
async fn users_are_written_at_hq_only() {
    let node = ApiNode::site();
    let admin = node.admin.clone();
    let some = "00000000-0000-0000-0000-000000000001";
    for action in ["revoke", "rotate"] {
        node.post_empty(&format!("/api/v1/users/{some}/{action}"), &admin)
            .await
            .problem(403, "forbidden");
    }
}

/// The first layout of a user entry (bincode, before tokens expired), as a node of the previous
/// version wrote it.
#[derive(serde::Serialize)]
struct EntryV1 {
    user: User,
    origin: UserOrigin,
}

#[tokio::test]
async fn a_token_stored_before_tokens_expired_works_until_the_legacy_deadline() {
    let node = ApiNode::hq();
    let old = new_token();
    let v1 = EntryV1 {
        user: User {
            id: UserId(uuid::Uuid::from_u128(42)),
            name: "old admin".into(),
            role: UserRole::Admin,
            call_center: None,
        },
        origin: UserOrigin::Local,
    };
    node.state
        .storage
        .store()
        .apply(&[Op {
            tree: TreeId::Users,
            key: token_hash(&old).into_bytes(),
            value: Some(switchboard_sync::codec::encode(&v1)),
        }])
        .expect("write a first-layout entry");
    // The deadline was set at the first start: one token lifetime after it.
    let deadline = node.state.legacy_token_deadline;
    assert_eq!(
        deadline,
        Timestamp::from_millis(T0).plus_days(TOKEN_DAYS as i64)
    );
    let node = node.restart().await;
    assert_eq!(
        node.state.legacy_token_deadline, deadline,
        "kept, not renewed"
    );
    node.get("/api/v1/node", &old).await.ok(200);
    node.set_now(&deadline.to_string());
    refused(&node.get("/api/v1/node", &old).await, "expired");
}

#[tokio::test]
async fn a_user_record_without_an_expiry_works_until_the_legacy_deadline() {
    // A call-center document as a version before expiry wrote it: a user without `expires_at`.
    let node = hq().await;
    let token = new_token();
    let rec = UserRecord {
        user: User {
            id: UserId(uuid::Uuid::from_u128(43)),
            name: "Old".into(),
            role: UserRole::Agent,
            call_center: Some(switchboard_domain::CallCenterId::parse("cc1").expect("cc")),
        },
        token_hash: token_hash(&token),
        disabled: false,
        created_at: None,
        expires_at: None,
        password_hash: None,
    };
    let author = Author {
        actor: node.state.identity.actor_id(),
        user: rec.user.id,
        node: node.state.identity.node_id,
        now: node.state.now(),
    };
    node.state
        .storage
        .submit(move |ctx| -> Result<(), ServiceError> {
            let id = sdoc::call_center_doc_id(rec.user.call_center.as_ref().expect("cc"));
            let (meta, mut doc) = ctx.load_doc(id)?.expect("the cc1 document");
            sdoc::put_user(&mut doc, &rec, &author)?;
            ctx.put_doc(id, meta, &doc)?;
            Ok(())
        })
        .await
        .expect("write the old record");
    let admin = node.admin.clone();
    let list = node
        .get("/api/v1/call-centers/cc1/users", &admin)
        .await
        .ok(200)
        .clone();
    assert_eq!(list["items"][0]["created_at"], Value::Null, "{list}");
    node.get("/api/v1/call-centers/cc1", &token).await.ok(200);
    node.set_now(&node.state.legacy_token_deadline.to_string());
    refused(
        &node.get("/api/v1/call-centers/cc1", &token).await,
        "expired",
    );
}
