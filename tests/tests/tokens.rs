//! The token lifecycle across real node processes (`switchboard serve` children, HQ and a site
//! linked through proxies): a revocation or rotation made at HQ takes effect at the site once it
//! has synced, and a site whose clock is past a token's expiry refuses it.

use serde_json::{json, Value};
use std::time::{Duration, Instant};
use switchboard_tests::api_harness::call_center_body;
use switchboard_tests::cluster::{Cluster, Node, NodeSpec, Reply};

/// How long the configuration may take to reach the site.
const SYNCED: Duration = Duration::from_secs(60);

/// `north` configured at HQ; the body of each new user.
async fn configure(hq: &Node, users: &[(&str, &str)]) -> Vec<Value> {
    hq.put(
        "/api/v1/call-centers/north",
        &hq.admin,
        call_center_body("North"),
    )
    .await
    .expect(200);
    let mut out = Vec::new();
    for (name, role) in users {
        let v = hq
            .post(
                "/api/v1/call-centers/north/users",
                &hq.admin,
                json!({"name": name, "role": role}),
            )
            .await
            .expect(201)
            .clone();
        assert!(v["expires_at"].is_string(), "{v}");
        out.push(v);
    }
    out
}

fn s(v: &Value, key: &str) -> String {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .to_string()
}

/// Whether the answer is the 401 of a refused token whose detail says `why`.
fn refused(r: &Reply, why: &str) -> bool {
    r.status == 401
        && r.content_type == "application/problem+json"
        && r.body["code"] == "unauthorized"
        && r.body["detail"].as_str().is_some_and(|d| d.contains(why))
}

/// Syncs the cluster until `done` holds at the site, or panics at the deadline.
async fn sync_until<F, Fut>(c: &Cluster, what: &str, done: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let until = Instant::now() + SYNCED;
    loop {
        c.sync_round().await;
        if done().await {
            return;
        }
        if Instant::now() > until {
            c.dump_logs(30);
            panic!("{what}: not so at the site after syncing for {SYNCED:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_and_a_rotation_made_at_hq_take_effect_at_a_site_once_it_syncs() {
    let mut c = Cluster::new();
    c.add(NodeSpec::hq("hq")).await;
    c.add(NodeSpec::site("north-1", &["north"])).await;
    c.link("hq", "north-1").await;
    let (hq, site) = (c.node("hq"), c.node("north-1"));
    // Step 1: two agents made at HQ work at the site once the configuration has synced.
    let users = configure(hq, &[("Ann", "agent"), ("Bob", "agent")]).await;
    let (ann, bob) = (&users[0], &users[1]);
    let (ann_tok, bob_tok) = (s(ann, "token"), s(bob, "token"));
    sync_until(&c, "both agents sign in", || async {
        site.has_call_center("north", &ann_tok).await
            && site.has_call_center("north", &bob_tok).await
    })
    .await;
    // Step 2: at HQ, Ann is revoked and Bob's token rotated; HQ refuses the old tokens at once.
    let revoked = hq
        .post(
            &format!("/api/v1/users/{}/revoke", s(ann, "user_id")),
            &hq.admin,
            json!({}),
        )
        .await
        .expect(200)
        .clone();
    assert_eq!(revoked["disabled"], true);
    let rotated = hq
        .post(
            &format!("/api/v1/users/{}/rotate", s(bob, "user_id")),
            &hq.admin,
            json!({}),
        )
        .await
        .expect(200)
        .clone();
    let bob_new = s(&rotated, "token");
    let path = "/api/v1/call-centers/north";
    assert!(refused(&hq.get(path, &ann_tok).await, "revoked"));
    assert!(refused(&hq.get(path, &bob_tok).await, "unknown"));
    hq.get(path, &bob_new).await.expect(200);
    // Step 3: the site is told by sync: Ann's token and Bob's old one are refused there too, and
    // Bob's new token works.
    sync_until(&c, "the revocation and the rotation", || async {
        refused(&site.get(path, &ann_tok).await, "revoked")
            && refused(&site.get(path, &bob_tok).await, "unknown")
            && site.get(path, &bob_new).await.status == 200
    })
    .await;
    // Step 4: the site's list of users says Ann is revoked; the site writes no users itself.
    let list = site
        .get("/api/v1/call-centers/north/users", &site.admin)
        .await
        .expect(200)
        .clone();
    let ann_row = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|u| u["user_id"] == ann["user_id"])
        .cloned()
        .expect("Ann is listed at the site");
    assert_eq!(ann_row["disabled"], true);
    let r = site
        .post(
            &format!("/api/v1/users/{}/rotate", s(bob, "user_id")),
            &site.admin,
            json!({}),
        )
        .await;
    r.problem(403, "forbidden");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_site_whose_clock_is_past_a_tokens_expiry_refuses_it() {
    // The site's clock runs 91 days ahead: past the default 90-day lifetime of HQ's tokens.
    let ahead = (91 * 24 * 3600).to_string();
    let mut c = Cluster::new();
    c.add(NodeSpec::hq("hq")).await;
    c.add(NodeSpec::site("north-1", &["north"]).env("SWITCHBOARD_CLOCK_OFFSET_SECS", &ahead))
        .await;
    c.link("hq", "north-1").await;
    let (hq, site) = (c.node("hq"), c.node("north-1"));
    let users = configure(hq, &[("Ann", "agent")]).await;
    let ann_tok = s(&users[0], "token");
    // The configuration reaches the site (its own admin, made with a year's lifetime, sees it);
    // the agent's token is refused there as expired, and still works at HQ.
    let site_admin = site.admin.clone();
    sync_until(&c, "the configuration", || async {
        site.has_call_center("north", &site_admin).await
    })
    .await;
    let path = "/api/v1/call-centers/north";
    let r = site.get(path, &ann_tok).await;
    assert!(refused(&r, "expired"), "{}", r.text);
    hq.get(path, &ann_tok).await.expect(200);
}
