//! The console's rules without a browser: the password endpoints of the API, and the console's
//! sign-in, sessions, CSRF tokens and throttle, through its router in process (`tower::oneshot`).

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::json;
use std::time::Duration;
use switchboard_tests::api_harness::{ApiNode, World};
use tower::ServiceExt;

/// A console over a test node.
struct Console {
    app: Router,
}

/// An answer of the console.
struct Page {
    status: StatusCode,
    location: String,
    cookies: Vec<String>,
    text: String,
}

impl Console {
    fn over(node: &ApiNode, idle: Duration, secure: bool) -> Console {
        let hub = switchboard_node::sync_driver::SyncHub::new(node.state.clone());
        let opts = switchboard_console::Options {
            idle,
            secure_cookies: secure,
        };
        Console {
            app: switchboard_console::router(node.state.clone(), hub, opts),
        }
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        cookies: &[String],
        form: Option<&str>,
    ) -> Page {
        let mut req = Request::builder().method(method).uri(path);
        let jar: Vec<&str> = cookies.iter().filter_map(|c| c.split(';').next()).collect();
        if !jar.is_empty() {
            req = req.header(header::COOKIE, jar.join("; "));
        }
        let body = match form {
            Some(f) => {
                req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(f.to_string())
            }
            None => Body::empty(),
        };
        let resp = self
            .app
            .clone()
            .oneshot(req.body(body).expect("request"))
            .await
            .expect("infallible");
        let status = resp.status();
        let location = resp
            .headers()
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let cookies = resp
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .expect("body");
        Page {
            status,
            location,
            cookies,
            text: String::from_utf8_lossy(&bytes).to_string(),
        }
    }

    async fn get(&self, path: &str, cookies: &[String]) -> Page {
        self.send(Method::GET, path, cookies, None).await
    }

    async fn post(&self, path: &str, cookies: &[String], form: &str) -> Page {
        self.send(Method::POST, path, cookies, Some(form)).await
    }

    /// Signs in: the form's pre-session token and cookie, then the post. Answers the post.
    async fn sign_in(&self, name: &str, password: &str) -> Page {
        let form = self.get("/sign-in", &[]).await;
        assert_eq!(form.status, StatusCode::OK);
        let token = csrf_of(&form.text);
        self.post(
            "/sign-in",
            &form.cookies,
            &format!("csrf={token}&name={name}&password={}", enc(password)),
        )
        .await
    }

    /// Signs in and answers the session cookie and the session's CSRF token.
    async fn session(&self, name: &str, password: &str) -> (Vec<String>, String) {
        let p = self.sign_in(name, password).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text);
        let cookies: Vec<String> = p
            .cookies
            .into_iter()
            .filter(|c| c.starts_with("sb_session="))
            .collect();
        let page = self.get("/customers", &cookies).await;
        assert_eq!(page.status, StatusCode::OK);
        (cookies, csrf_of(&page.text))
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The CSRF token in a page's first form.
fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a csrf field")
        + 19;
    html[at..at + 64].to_string()
}

/// A user with a console password; answers the user's id.
async fn user_with_password(w: &World, name: &str, role: &str, password: &str) -> String {
    let a = w
        .node
        .post(
            "/api/v1/call-centers/cc1/users",
            &w.node.admin,
            json!({"name": name, "role": role, "password": password}),
        )
        .await;
    a.ok(201)["user_id"].as_str().expect("user id").to_string()
}

#[tokio::test]
async fn passwords_are_set_by_admins_supervisors_or_the_user_with_the_current_one() {
    let w = World::new().await;
    let ann = user_with_password(&w, "ann.p", "agent", "first password").await;
    let c = Console::over(&w.node, Duration::from_secs(600), false);
    assert_eq!(
        c.sign_in("ann.p", "first password").await.status,
        StatusCode::SEE_OTHER
    );

    // Too short: 422 before anything is stored; a name already signing in: 409.
    w.node
        .post(
            "/api/v1/call-centers/cc1/users",
            &w.node.admin,
            json!({"name": "x", "role": "agent", "password": "short"}),
        )
        .await
        .problem(422, "validation");
    w.node
        .post(
            "/api/v1/call-centers/cc1/users",
            &w.node.admin,
            json!({"name": "ANN.P", "role": "agent", "password": "long enough"}),
        )
        .await
        .problem(409, "conflict");

    // The admin sets it.
    let path = format!("/api/v1/users/{ann}/password");
    let a = w
        .node
        .put(&path, &w.node.admin, json!({"password": "second password"}))
        .await;
    assert_eq!(a.status, 204, "{}", a.text);
    assert_eq!(
        c.sign_in("ann.p", "first password").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        c.sign_in("ann.p", "second password").await.status,
        StatusCode::SEE_OTHER
    );

    // A supervisor of the call center sets it; an agent may not set another's.
    w.node
        .put(&path, &w.supervisor, json!({"password": "third password"}))
        .await
        .ok(204);
    let bob = user_with_password(&w, "bob.p", "agent", "bob password").await;
    w.node
        .put(
            &format!("/api/v1/users/{bob}/password"),
            &w.agent,
            json!({"password": "hijacked!"}),
        )
        .await
        .problem(403, "forbidden");
    // Another call center's agent does not even see the user.
    w.node
        .put(&path, &w.other_agent, json!({"password": "hijacked!"}))
        .await
        .problem(404, "not_found");

    // The user itself, with its bearer token: only with the current password.
    let token = w
        .node
        .post(
            "/api/v1/call-centers/cc1/users",
            &w.node.admin,
            json!({"name": "cid", "role": "agent", "password": "cid password"}),
        )
        .await;
    let (cid, cid_token) = (
        token.body["user_id"].as_str().expect("id").to_string(),
        token.body["token"].as_str().expect("token").to_string(),
    );
    let own = format!("/api/v1/users/{cid}/password");
    w.node
        .put(&own, &cid_token, json!({"password": "new cid password"}))
        .await
        .problem(403, "forbidden");
    w.node
        .put(
            &own,
            &cid_token,
            json!({"password": "new cid password", "current": "wrong"}),
        )
        .await
        .problem(403, "forbidden");
    w.node
        .put(
            &own,
            &cid_token,
            json!({"password": "new cid password", "current": "cid password"}),
        )
        .await
        .ok(204);
    assert_eq!(
        c.sign_in("cid", "new cid password").await.status,
        StatusCode::SEE_OTHER
    );
    // A user that does not exist.
    w.node
        .put(
            "/api/v1/users/00000000-0000-0000-0000-000000000001/password",
            &w.node.admin,
            json!({"password": "long enough"}),
        )
        .await
        .problem(404, "not_found");
}

#[tokio::test]
async fn passwords_are_written_at_hq_only() {
    let site = ApiNode::site();
    site.put(
        "/api/v1/users/00000000-0000-0000-0000-000000000001/password",
        &site.admin,
        json!({"password": "long enough"}),
    )
    .await
    .problem(403, "forbidden");
}

#[tokio::test]
async fn cookies_are_http_only_same_site_strict_and_secure_over_tls() {
    let w = World::new().await;
    user_with_password(&w, "dee", "agent", "dee password").await;
    let plain = Console::over(&w.node, Duration::from_secs(600), false);
    let p = plain.sign_in("dee", "dee password").await;
    let session = p
        .cookies
        .iter()
        .find(|c| c.starts_with("sb_session="))
        .expect("session cookie");
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
    assert!(!session.contains("Secure"), "{session}");
    let tls = Console::over(&w.node, Duration::from_secs(600), true);
    let p = tls.sign_in("dee", "dee password").await;
    let session = p
        .cookies
        .iter()
        .find(|c| c.starts_with("sb_session="))
        .expect("session cookie");
    assert!(session.contains("Secure"), "{session}");
    // Behind a TLS proxy that says so.
    let form = plain.get("/sign-in", &[]).await;
    let pre = form.cookies[0]
        .split(';')
        .next()
        .unwrap_or_default()
        .to_string();
    let req = Request::builder()
        .method(Method::POST)
        .uri("/sign-in")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-forwarded-proto", "https")
        .header(header::COOKIE, pre);
    let body = format!(
        "csrf={}&name=dee&password=dee+password",
        csrf_of(&form.text)
    );
    let resp = plain
        .app
        .clone()
        .oneshot(req.body(Body::from(body)).expect("request"))
        .await
        .expect("infallible");
    let session = resp
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("sb_session="))
        .expect("session cookie")
        .to_string();
    assert!(session.contains("Secure"), "{session}");
}

#[tokio::test]
async fn pages_need_a_session_and_forms_the_session_s_csrf_token() {
    let w = World::new().await;
    user_with_password(&w, "eve", "agent", "eve password").await;
    let c = Console::over(&w.node, Duration::from_secs(600), false);
    // No session, or a forged one: to the sign-in page.
    for cookies in [vec![], vec!["sb_session=forged".to_string()]] {
        let p = c.get("/customers", &cookies).await;
        assert_eq!(
            (p.status, p.location.as_str()),
            (StatusCode::SEE_OTHER, "/sign-in")
        );
    }
    // The sign-in form itself needs its pre-session token.
    let p = c
        .post("/sign-in", &[], "csrf=x&name=eve&password=eve+password")
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);

    let (cookies, csrf) = c.session("eve", "eve password").await;
    let before = w.node.get("/api/v1/customers?q=Mallory", &w.agent).await;
    assert_eq!(before.ok(200)["items"].as_array().map(Vec::len), Some(0));
    // Without the token, with another session's token, or with none: refused, nothing written.
    let (_, other_csrf) = c.session("eve", "eve password").await;
    for token in ["", "0000", other_csrf.as_str()] {
        let p = c
            .post(
                "/customers",
                &cookies,
                &format!("csrf={token}&name=Mallory"),
            )
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "token {token:?}");
        assert!(p.text.contains("no longer valid"), "{}", p.text);
    }
    let after = w.node.get("/api/v1/customers?q=Mallory", &w.agent).await;
    assert_eq!(after.ok(200)["items"].as_array().map(Vec::len), Some(0));
    // With it: done.
    let p = c
        .post("/customers", &cookies, &format!("csrf={csrf}&name=Mallory"))
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert!(p.location.starts_with("/customers/"), "{}", p.location);

    // Sign-out needs the token too, and ends the session.
    assert_eq!(
        c.post("/sign-out", &cookies, "csrf=bad").await.status,
        StatusCode::FORBIDDEN
    );
    let p = c.post("/sign-out", &cookies, &format!("csrf={csrf}")).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(c.get("/customers", &cookies).await.location, "/sign-in");
}

#[tokio::test]
async fn an_idle_session_expires() {
    let w = World::new().await;
    user_with_password(&w, "fay", "agent", "fay password").await;
    // No idle time at all: the next request comes after it.
    let c = Console::over(&w.node, Duration::ZERO, false);
    let p = c.sign_in("fay", "fay password").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let cookies: Vec<String> = p
        .cookies
        .into_iter()
        .filter(|c| c.starts_with("sb_session="))
        .collect();
    let p = c.get("/customers", &cookies).await;
    assert_eq!(p.location, "/sign-in?expired=1");
    let p = c.get("/sign-in?expired=1", &[]).await;
    assert!(p.text.contains("session expired"), "{}", p.text);
}

#[tokio::test]
async fn wrong_passwords_are_throttled_per_user() {
    let w = World::new().await;
    user_with_password(&w, "gil", "agent", "gil password").await;
    let c = Console::over(&w.node, Duration::from_secs(600), false);
    for _ in 0..4 {
        let p = c.sign_in("gil", "wrong password").await;
        assert_eq!(p.status, StatusCode::UNAUTHORIZED);
        assert!(p.text.contains("Wrong user name or password"), "{}", p.text);
    }
    // The fifth failure locks the name: even the right password is refused for now.
    assert_eq!(
        c.sign_in("gil", "wrong password").await.status,
        StatusCode::UNAUTHORIZED
    );
    let p = c.sign_in("gil", "gil password").await;
    assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(p.text.contains("Too many wrong passwords"), "{}", p.text);
    // An unknown name is refused like a wrong password.
    assert_eq!(
        c.sign_in("nobody", "gil password").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_refused_order_action_shows_the_domain_s_reason() {
    let w = World::new().await;
    user_with_password(&w, "hal", "agent", "hal password").await;
    let c = Console::over(&w.node, Duration::from_secs(600), false);
    let (cookies, csrf) = c.session("hal", "hal password").await;
    let order = w.order().await;
    w.line(&order, "widget", 1).await;
    let p = c
        .post(
            &format!("/orders/{order}/submit"),
            &cookies,
            &format!("csrf={csrf}"),
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let page = c.get(&p.location, &cookies).await;
    assert!(
        page.text.contains("payments must cover the total"),
        "{}",
        page.text
    );
    // A price override within the agent's limit, with its reason code; one beyond it is
    // refused with the domain's reason.
    let lines = format!("/orders/{order}/lines");
    let p = c
        .post(
            &lines,
            &cookies,
            &format!(
                "csrf={csrf}&product_id=widget&quantity=1&unit_price=19.50&override_reason=match"
            ),
        )
        .await;
    assert_eq!(p.location, format!("/orders/{order}?added=widget"));
    let page = c.get(&p.location, &cookies).await;
    assert!(page.text.contains("overridden (match)"), "{}", page.text);
    assert!(page.text.contains("€19.50"), "{}", page.text);
    let p = c
        .post(
            &lines,
            &cookies,
            &format!(
                "csrf={csrf}&product_id=widget&quantity=1&unit_price=1.00&override_reason=match"
            ),
        )
        .await;
    let page = c.get(&p.location, &cookies).await;
    assert!(
        page.text.contains("exceeds the agent limit"),
        "{}",
        page.text
    );
    // An order of another call center does not exist for this agent.
    let other = w
        .node
        .post(
            "/api/v1/customers",
            &w.other_agent,
            json!({"name": "Other"}),
        )
        .await;
    let other = other.ok(201)["id"].as_str().expect("id").to_string();
    let p = c.get(&format!("/customers/{other}"), &cookies).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
}

#[test]
fn the_console_never_touches_the_store() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../console/src");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("console/src") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("source");
        seen += 1;
        for word in [
            "storage", "store::", "StoreExt", "sled", "WriteCtx", "load_doc",
        ] {
            assert!(
                !text.contains(word),
                "{} names {word:?}: the console goes through the service, never the store",
                path.display()
            );
        }
    }
    assert!(seen >= 5, "the console's sources were not found");
}

#[tokio::test]
async fn product_pictures_are_type_checked_stored_and_served() {
    let w = World::new().await;
    let admin = w.node.admin.clone();
    let png: Vec<u8> = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR-not-a-real-image".to_vec();
    let put = |who: String, body: Vec<u8>, product: &'static str| {
        let node = &w.node;
        async move {
            node.raw(
                Method::PUT,
                &format!("/api/v1/products/{product}/image"),
                Some(&who),
                body,
            )
            .await
        }
    };
    let a = put(admin.clone(), png.clone(), "widget").await;
    assert_eq!(a.status, 204, "{}", a.text);
    let got = w.node.get("/api/v1/products/widget/image", &w.agent).await;
    assert_eq!(
        (got.status.as_u16(), got.content_type.as_str()),
        (200, "image/png")
    );
    assert_eq!(
        got.text.as_bytes(),
        String::from_utf8_lossy(&png).as_bytes()
    );
    w.node
        .get("/api/v1/products/gadget/image", &w.agent)
        .await
        .problem(404, "not_found");

    // Not a picture, a scripted SVG, too large, not an admin, no such product: refused.
    put(admin.clone(), b"GIF89a....".to_vec(), "widget")
        .await
        .problem(422, "validation");
    put(
        admin.clone(),
        b"<svg onload=alert(1)></svg>".to_vec(),
        "widget",
    )
    .await
    .problem(422, "validation");
    let mut big = png.clone();
    big.resize(300 * 1024, 0);
    let a = put(admin.clone(), big, "widget").await;
    assert!(matches!(a.status.as_u16(), 413 | 422), "{}", a.status);
    put(w.agent.clone(), png.clone(), "widget")
        .await
        .problem(403, "forbidden");
    put(admin.clone(), png.clone(), "nothing")
        .await
        .problem(404, "not_found");

    // The console shows the stored picture on order lines, and draws one for the others.
    user_with_password(&w, "ivy", "agent", "ivy password").await;
    let c = Console::over(&w.node, Duration::from_secs(600), false);
    let (cookies, _) = c.session("ivy", "ivy password").await;
    let p = c.get("/console/product-image/widget", &cookies).await;
    assert_eq!(p.status, StatusCode::OK);
    assert_eq!(p.text.as_bytes(), String::from_utf8_lossy(&png).as_bytes());
    let p = c.get("/console/product-image/gadget", &cookies).await;
    assert!(p.text.starts_with("<svg"), "{}", p.text);
    assert_eq!(
        c.get("/console/product-image/widget", &[]).await.status,
        StatusCode::SEE_OTHER
    );
}

/// Reads the event stream until `want` shows, within a deadline; answers what was read.
async fn read_events(body: &mut Body, want: &str) -> String {
    use axum::body::HttpBody;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !seen.contains(want) {
        let frame = tokio::time::timeout_at(
            deadline,
            std::future::poll_fn(|cx| std::pin::Pin::new(&mut *body).poll_frame(cx)),
        )
        .await
        .unwrap_or_else(|_| panic!("the stream never said {want:?}; it said {seen:?}"));
        let Some(frame) = frame else {
            panic!("the stream ended before {want:?}; it said {seen:?}")
        };
        if let Ok(data) = frame.expect("a frame").into_data() {
            seen.push_str(&String::from_utf8_lossy(&data));
        }
    }
    seen
}

#[tokio::test]
async fn the_order_page_s_event_stream_says_what_changed() {
    let w = World::new().await;
    user_with_password(&w, "ivy", "agent", "ivy password").await;
    let c = Console::over(&w.node, Duration::from_secs(600), false);
    let (cookies, _) = c.session("ivy", "ivy password").await;
    let order = w.order().await;
    // Without a session: no stream.
    let p = c.get(&format!("/orders/{order}/events"), &[]).await;
    assert_ne!(p.status, StatusCode::OK);
    let p = c.get("/orders/not-an-order/events", &cookies).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    // Signed in: a stream of server-sent events.
    let jar: Vec<&str> = cookies.iter().filter_map(|k| k.split(';').next()).collect();
    let req = Request::builder()
        .uri(format!("/orders/{order}/events"))
        .header(header::COOKIE, jar.join("; "))
        .body(Body::empty())
        .expect("request");
    let resp = c.app.clone().oneshot(req).await.expect("infallible");
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(
        resp.headers()[header::CONTENT_TYPE],
        "text/event-stream",
        "{:?}",
        resp.headers()
    );
    let mut body = resp.into_body();
    // Another user's change to the order is told, with what it was and who made it.
    w.line(&order, "widget", 2).await;
    let said = read_events(&mut body, "event: changed").await;
    let said = read_events(&mut body, "\n\n").await + &said;
    assert!(said.contains("widget"), "{said}");
    assert!(said.contains("on this node"), "{said}");
    // A change to another order is not.
    let other = w.order().await;
    w.line(&other, "widget", 1).await;
    w.node
        .post(
            &format!("/api/v1/orders/{order}/notes"),
            &w.agent,
            json!({"text": "call back at five"}),
        )
        .await
        .ok(201);
    let said = read_events(&mut body, "note").await;
    assert!(!said.contains(&other), "{said}");
}

/// The flash message a redirect led to, read from the next page.
async fn after(c: &Console, p: &Page, cookies: &[String]) -> String {
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.text);
    c.get(&p.location, cookies).await.text
}

#[tokio::test]
async fn admin_users_page_adds_sets_passwords_and_disables_with_csrf() {
    let w = World::new().await;
    user_with_password(&w, "ada", "admin", "ada password").await;
    let c = Console::over(&w.node, Duration::from_secs(600), false);
    let (cookies, csrf) = c.session("ada", "ada password").await;
    let page = c.get("/admin/users", &cookies).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("href=\"/admin/users\""),
        "the nav links it"
    );
    assert!(
        page.text.contains("Ann") && page.text.contains("Sue"),
        "{}",
        page.text
    );
    assert!(
        !page.text.contains("Olga"),
        "another call center's users are not shown"
    );

    // Every action needs the session's token: refused, nothing written.
    let add = "call_center=cc1&name=newbie&role=agent&password=newbie+password";
    for token in ["", "forged"] {
        let p = c
            .post("/admin/users", &cookies, &format!("csrf={token}&{add}"))
            .await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(
        c.sign_in("newbie", "newbie password").await.status,
        StatusCode::UNAUTHORIZED
    );
    let p = c
        .post("/admin/users", &cookies, &format!("csrf={csrf}&{add}"))
        .await;
    let text = after(&c, &p, &cookies).await;
    assert!(text.contains("User newbie added"), "{text}");
    assert_eq!(
        c.sign_in("newbie", "newbie password").await.status,
        StatusCode::SEE_OTHER
    );
    // The domain's refusals come back as the page's message: a name taken, a short password.
    for (form, why) in [
        (
            "call_center=cc1&name=NEWBIE&role=agent&password=long+enough",
            "already signs in",
        ),
        (
            "call_center=cc1&name=shorty&role=agent&password=short",
            "password",
        ),
        (
            "call_center=cc2&name=elsewhere&role=agent&password=long+enough",
            "admin of the call center",
        ),
    ] {
        let p = c
            .post("/admin/users", &cookies, &format!("csrf={csrf}&{form}"))
            .await;
        let text = after(&c, &p, &cookies).await;
        assert!(
            text.contains("Refused") && text.contains(why),
            "{form}: {text}"
        );
    }

    // Set a password, then disable: each refused without the token.
    let list = w
        .node
        .get("/api/v1/call-centers/cc1/users", &w.node.admin)
        .await;
    let newbie = list.ok(200)["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|u| u["name"] == "newbie")
        .and_then(|u| u["user_id"].as_str())
        .expect("newbie")
        .to_string();
    let pw = format!("/admin/users/{newbie}/password");
    let p = c
        .post(&pw, &cookies, "csrf=forged&password=other+password")
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = c
        .post(
            &pw,
            &cookies,
            &format!("csrf={csrf}&password=other+password"),
        )
        .await;
    assert!(after(&c, &p, &cookies).await.contains("Password set"));
    assert_eq!(
        c.sign_in("newbie", "newbie password").await.status,
        StatusCode::UNAUTHORIZED
    );
    let (newbie_cookies, _) = c.session("newbie", "other password").await;
    let off = format!("/admin/users/{newbie}/disable");
    assert_eq!(
        c.post(&off, &cookies, "csrf=forged").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        c.get("/customers", &newbie_cookies).await.status,
        StatusCode::OK
    );
    let p = c.post(&off, &cookies, &format!("csrf={csrf}")).await;
    assert!(after(&c, &p, &cookies)
        .await
        .contains("User newbie disabled"));
    // Disabled: the open session ends and sign-in is refused.
    assert_eq!(
        c.get("/customers", &newbie_cookies).await.location,
        "/sign-in"
    );
    assert_eq!(
        c.sign_in("newbie", "other password").await.status,
        StatusCode::UNAUTHORIZED
    );
    let page = c.get("/admin/users", &cookies).await;
    assert!(page.text.contains("disabled"), "{}", page.text);
}

#[tokio::test]
async fn admin_pages_refuse_agents_and_supervisors() {
    let w = World::new().await;
    user_with_password(&w, "ivy", "agent", "ivy password").await;
    user_with_password(&w, "sid", "supervisor", "sid password").await;
    let c = Console::over(&w.node, Duration::from_secs(600), false);
    for (name, pw) in [("ivy", "ivy password"), ("sid", "sid password")] {
        let (cookies, csrf) = c.session(name, pw).await;
        let home = c.get("/customers", &cookies).await;
        assert!(!home.text.contains("/admin/"), "{name}: no admin link");
        for path in ["/admin/users", "/admin/peers"] {
            let p = c.get(path, &cookies).await;
            assert_eq!(p.status, StatusCode::FORBIDDEN, "{name} {path}");
            assert!(
                p.text.contains("needs an admin"),
                "{name} {path}: {}",
                p.text
            );
        }
        // Actions: refused with the service's reason, nothing written.
        let p = c
            .post(
                "/admin/users",
                &cookies,
                &format!("csrf={csrf}&call_center=cc1&name=sneaky-{name}&role=admin&password=long+enough"),
            )
            .await;
        let text = after(&c, &p, &cookies).await;
        assert!(text.contains("Refused"), "{name}: {text}");
        assert_eq!(
            c.sign_in(&format!("sneaky-{name}"), "long enough")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
        let p = c
            .post("/admin/sync", &cookies, &format!("csrf={csrf}"))
            .await;
        let text = after(&c, &p, &cookies).await;
        assert!(text.contains("Refused"), "{name}: {text}");
        // The forged form is refused before anything else.
        let p = c.post("/admin/sync", &cookies, "csrf=forged").await;
        assert_eq!(p.status, StatusCode::FORBIDDEN);
    }
}

#[tokio::test]
async fn admin_peers_page_shows_status_and_syncs_with_csrf() {
    let w = World::new().await;
    user_with_password(&w, "ada", "admin", "ada password").await;
    let c = Console::over(&w.node, Duration::from_secs(600), false);
    let (cookies, csrf) = c.session("ada", "ada password").await;
    let page = c.get("/admin/peers", &cookies).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    for want in [
        "Peers and sync status",
        "No peers",
        "Standalone node",
        "Sync now",
    ] {
        assert!(page.text.contains(want), "{want}: {}", page.text);
    }
    assert_eq!(
        c.post("/admin/sync", &cookies, "csrf=forged").await.status,
        StatusCode::FORBIDDEN
    );
    let p = c
        .post("/admin/sync", &cookies, &format!("csrf={csrf}"))
        .await;
    let text = after(&c, &p, &cookies).await;
    assert!(text.contains("Standalone node"), "{text}");
}

#[tokio::test]
async fn the_order_page_shows_a_continuity_program_and_its_children() {
    let w = World::new().await;
    user_with_password(&w, "cal", "agent", "cal password").await;
    let admin = w.node.admin.clone();
    w.node
        .put(
            "/api/v1/products/coffee-club",
            &admin,
            json!({"name": "Coffee club", "price": "12.00", "allow_price_override": false,
                   "continuity": {"every_days": 30, "times": 3}}),
        )
        .await
        .ok(200);
    let c = Console::over(&w.node, Duration::from_secs(600), false);
    let (cookies, _) = c.session("cal", "cal password").await;
    let order = w.order().await;
    let page = c.get(&format!("/orders/{order}"), &cookies).await;
    assert!(
        page.text
            .contains("Coffee club — €12.00 — Continuity program: every 30 days × 3"),
        "the product picker marks it: {}",
        page.text
    );
    w.line(&order, "coffee-club", 2).await;
    let page = c.get(&format!("/orders/{order}"), &cookies).await;
    for want in [
        "Continuity program: every 30 days × 3 · 0 created, 3 to come",
        "scheduled when the order is submitted",
        "Continuity: Coffee club, every 30 days × 3",
    ] {
        assert!(page.text.contains(want), "{want}: {}", page.text);
    }
    w.pay_all(&order).await;
    w.node
        .post(
            &format!("/api/v1/orders/{order}/submit"),
            &w.agent,
            json!({}),
        )
        .await
        .ok(200);
    w.node.set_now("2026-12-29T12:00:00Z");
    assert_eq!(
        switchboard_node::scheduler::generate_due(&w.node.state)
            .await
            .expect("scheduler"),
        1
    );
    let page = c.get(&format!("/orders/{order}"), &cookies).await;
    assert!(
        page.text.contains("1 created, 2 to come · next delivery"),
        "{}",
        page.text
    );
    let parent: switchboard_domain::OrderId = order.parse().expect("id");
    let line = w
        .node
        .get(&format!("/api/v1/orders/{order}"), &w.agent)
        .await
        .ok(200)["lines"][0]["id"]
        .as_str()
        .expect("line")
        .parse()
        .expect("line id");
    let child = switchboard_domain::continuity::child_id(parent, line, 1);
    assert!(
        page.text.contains(&format!("/orders/{child}")),
        "the child is linked"
    );
    // The child's page links back to its parent.
    let page = c.get(&format!("/orders/{child}"), &cookies).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text
            .contains("Continuity delivery 1 of 3, made from order"),
        "{}",
        page.text
    );
    assert!(
        page.text.contains(&format!("/orders/{order}")),
        "{}",
        page.text
    );
}

#[tokio::test]
async fn users_change_their_own_password_with_the_present_one() {
    let w = World::new().await;
    user_with_password(&w, "joe", "agent", "joe password").await;
    let c = Console::over(&w.node, Duration::from_secs(600), false);
    let (cookies, csrf) = c.session("joe", "joe password").await;
    let page = c.get("/account/password", &cookies).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Current password"), "{}", page.text);
    let form = "current=joe+password&password=joe+new+password";
    let p = c
        .post(
            "/account/password",
            &cookies,
            &format!("csrf=forged&{form}"),
        )
        .await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    let p = c
        .post(
            "/account/password",
            &cookies,
            &format!("csrf={csrf}&current=wrong+guess&password=joe+new+password"),
        )
        .await;
    let text = after(&c, &p, &cookies).await;
    assert!(text.contains("current password is wrong"), "{text}");
    assert_eq!(
        c.sign_in("joe", "joe new password").await.status,
        StatusCode::UNAUTHORIZED
    );
    let p = c
        .post(
            "/account/password",
            &cookies,
            &format!("csrf={csrf}&{form}"),
        )
        .await;
    assert!(after(&c, &p, &cookies).await.contains("Password set"));
    assert_eq!(
        c.sign_in("joe", "joe new password").await.status,
        StatusCode::SEE_OTHER
    );
    // Guessing the present password from an open session is throttled like sign-in (the good
    // sign-in above started the name's count over).
    let guess = format!("csrf={csrf}&current=a+guess&password=long+enough+guess");
    for _ in 0..5 {
        let p = c.post("/account/password", &cookies, &guess).await;
        assert!(after(&c, &p, &cookies)
            .await
            .contains("current password is wrong"));
    }
    let p = c
        .post(
            "/account/password",
            &cookies,
            &format!("csrf={csrf}&current=joe+new+password&password=long+enough+guess"),
        )
        .await;
    let text = after(&c, &p, &cookies).await;
    assert!(text.contains("Too many wrong passwords"), "{text}");
    assert_eq!(
        c.sign_in("joe", "long enough guess").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn the_customer_edit_form_needs_the_csrf_token_and_shows_the_domain_s_refusals() {
    let w = World::new().await;
    user_with_password(&w, "ivy", "agent", "ivy password").await;
    let c = Console::over(&w.node, Duration::from_secs(600), false);
    let (cookies, csrf) = c.session("ivy", "ivy password").await;
    let created = w
        .node
        .post(
            "/api/v1/customers",
            &w.agent,
            json!({"name": "Olga Berg", "phone": "+44 20 7946 0101",
                   "address": {"city": "Leeds", "street": "1 Main St"}}),
        )
        .await;
    let id = created.ok(201)["id"].as_str().expect("id").to_string();
    let path = format!("/customers/{id}");
    // The page has the form, filled with the customer's fields, each labelled.
    let page = c.get(&path, &cookies).await;
    assert_eq!(page.status, StatusCode::OK);
    for want in [
        "id=\"customer-edit\"",
        "value=\"Olga Berg\"",
        "value=\"+44 20 7946 0101\"",
        "name=\"address.city\" value=\"Leeds\"",
        "Address: street",
    ] {
        assert!(page.text.contains(want), "{want} in {}", page.text);
    }
    // Without the token, or with a wrong one: refused, nothing changed.
    let (_, other_csrf) = c.session("ivy", "ivy password").await;
    for form in [
        "name=Mallory".to_string(),
        "csrf=&name=Mallory".to_string(),
        format!("csrf={other_csrf}&name=Mallory"),
    ] {
        let p = c.post(&path, &cookies, &form).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{form}");
        assert!(p.text.contains("no longer valid"), "{}", p.text);
    }
    assert_eq!(customer_now(&w, &id).await["name"], "Olga Berg");
    // With it: the fields change (an emptied phone is cleared, an emptied address field goes,
    // a new one is added) and the page says so.
    let p = c
        .post(
            &path,
            &cookies,
            &format!(
                "csrf={csrf}&name=Olga+Berg-Lund&phone=&email=olga%40example.org\
                 &address.city=York&address.street=&new_address_key=country&new_address_value=UK"
            ),
        )
        .await;
    assert_eq!(
        (p.status, p.location.as_str()),
        (StatusCode::SEE_OTHER, path.as_str())
    );
    let page = c.get(&path, &cookies).await;
    assert!(page.text.contains("Customer saved."), "{}", page.text);
    let now = customer_now(&w, &id).await;
    assert_eq!(now["name"], "Olga Berg-Lund");
    assert_eq!(now["phone"], json!(null));
    assert_eq!(now["email"], "olga@example.org");
    assert_eq!(now["address"], json!({"city": "York", "country": "UK"}));
    // A refusal shows the domain's reason and changes nothing.
    let p = c
        .post(&path, &cookies, &format!("csrf={csrf}&name=Olga&phone=12"))
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    let page = c.get(&path, &cookies).await;
    assert!(
        page.text.contains("phone: must have at least 3 digits"),
        "{}",
        page.text
    );
    assert_eq!(customer_now(&w, &id).await["name"], "Olga Berg-Lund");
    // A customer of another call center does not exist for this agent, edit or not.
    let other = w
        .node
        .post(
            "/api/v1/customers",
            &w.other_agent,
            json!({"name": "Other"}),
        )
        .await;
    let other = other.ok(201)["id"].as_str().expect("id").to_string();
    let p = c
        .post(
            &format!("/customers/{other}"),
            &cookies,
            &format!("csrf={csrf}&name=X"),
        )
        .await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
}

/// A customer as the API shows it to cc1's agent.
async fn customer_now(w: &World, id: &str) -> serde_json::Value {
    let c = w
        .node
        .get(&format!("/api/v1/customers/{id}"), &w.agent)
        .await;
    c.ok(200).clone()
}

#[tokio::test]
async fn the_customer_page_records_catalog_requests_with_the_csrf_token_only() {
    let w = World::new().await;
    user_with_password(&w, "ivy", "agent", "ivy password").await;
    let c = Console::over(&w.node, Duration::from_secs(600), false);
    let (cookies, csrf) = c.session("ivy", "ivy password").await;
    let created = w
        .node
        .post(
            "/api/v1/customers",
            &w.agent,
            json!({"name": "Clara Catalog"}),
        )
        .await;
    let id = created.ok(201)["id"].as_str().expect("id").to_string();
    let page_path = format!("/customers/{id}");
    let path = format!("/customers/{id}/catalog-requests");
    let requests = || async {
        let h = w
            .node
            .get(&format!("/api/v1/customers/{id}/history"), &w.agent)
            .await;
        h.ok(200)["catalog_requests"].clone()
    };
    // The page has the form, with the call center's source codes.
    let page = c.get(&page_path, &cookies).await;
    assert!(
        page.text.contains("id=\"catalog-request\""),
        "{}",
        page.text
    );
    assert!(
        page.text.contains("option value=\"SPRING\""),
        "{}",
        page.text
    );
    // Without the token, or with another session's: refused, nothing recorded.
    let (_, other_csrf) = c.session("ivy", "ivy password").await;
    for form in [
        "source_code=SPRING&quantity=1".to_string(),
        format!("csrf={other_csrf}&source_code=SPRING&quantity=1"),
    ] {
        let p = c.post(&path, &cookies, &form).await;
        assert_eq!(p.status, StatusCode::FORBIDDEN, "{form}");
    }
    assert_eq!(requests().await, json!([]));
    // With it: recorded, shown on the page with its source code and quantity.
    let p = c
        .post(
            &path,
            &cookies,
            &format!("csrf={csrf}&source_code=SPRING&quantity=2"),
        )
        .await;
    assert_eq!(
        (p.status, p.location.as_str()),
        (StatusCode::SEE_OTHER, page_path.as_str())
    );
    let page = c.get(&page_path, &cookies).await;
    assert!(
        page.text.contains("Catalog request recorded."),
        "{}",
        page.text
    );
    assert!(page.text.contains("SPRING × 2"), "{}", page.text);
    let r = requests().await;
    assert_eq!(r.as_array().map(Vec::len), Some(1), "{r}");
    assert_eq!(r[0]["quantity"], 2);
    // Refusals say why and record nothing: an unknown source code (the domain's reason) and a
    // quantity out of range.
    for (form, why) in [
        (format!("csrf={csrf}&source_code=NOPE&quantity=1"), "source"),
        (
            format!("csrf={csrf}&source_code=SPRING&quantity=0"),
            "quantity",
        ),
    ] {
        let p = c.post(&path, &cookies, &form).await;
        assert_eq!(p.status, StatusCode::SEE_OTHER, "{form}");
        let page = c.get(&page_path, &cookies).await;
        assert!(page.text.contains("Refused"), "{form}: {}", page.text);
        assert!(page.text.contains(why), "{form}: {}", page.text);
    }
    assert_eq!(requests().await.as_array().map(Vec::len), Some(1));
}
