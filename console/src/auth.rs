//! Sign-in, sign-out, and who a request is: [`Signed`] resolves the session cookie to an active
//! user on every request (a user disabled at HQ loses the console once that syncs); [`Signed::check`]
//! refuses a state-changing form whose CSRF token is not the session's.

use crate::layout::{self, Page};
use crate::session::{self, Flash, NoSession, SESSION_COOKIE, SIGNIN_COOKIE};
use crate::{strings as s, Console};
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::html;
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;
use switchboard_node::auth::CurrentUser;

/// A cookie's value from the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Whether the browser reached the node over TLS: the node's own TLS listener (configured
/// with `Options::secure_cookies`), or a TLS proxy in front of it that says so
/// (`X-Forwarded-Proto: https`; a client claiming it only makes its own cookies stricter).
pub fn over_tls(console: &Console, headers: &HeaderMap) -> bool {
    console.options.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
}

fn set_cookie(secure: bool, name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let age = max_age
        .map(|a| format!("; Max-Age={a}"))
        .unwrap_or_default();
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict{secure}{age}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// A signed-in request: the user, the session's cookie and CSRF token, and the message kept for
/// this page.
pub struct Signed {
    /// Who.
    pub user: CurrentUser,
    /// The session cookie's value.
    pub cookie: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// The message kept for this page.
    pub flash: Option<Flash>,
}

/// Where an unsigned request goes: the sign-in page (saying why when the session expired).
pub struct SignInFirst(NoSession);

impl IntoResponse for SignInFirst {
    fn into_response(self) -> Response {
        match self.0 {
            NoSession::Expired => Redirect::to("/sign-in?expired=1").into_response(),
            NoSession::Missing => Redirect::to("/sign-in").into_response(),
        }
    }
}

impl FromRequestParts<Console> for Signed {
    type Rejection = SignInFirst;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Console,
    ) -> Result<Self, Self::Rejection> {
        let value =
            cookie(&parts.headers, SESSION_COOKIE).ok_or(SignInFirst(NoSession::Missing))?;
        let (session, flash) = console
            .sessions
            .resume(value, Instant::now())
            .map_err(SignInFirst)?;
        let user = console.app.active_user(session.user).ok_or_else(|| {
            console.sessions.end(value);
            SignInFirst(NoSession::Missing)
        })?;
        Ok(Signed {
            user: CurrentUser(user),
            cookie: value.to_string(),
            csrf: session.csrf,
            flash,
        })
    }
}

/// A background request of a signed-in page (banner, live notice, pictures): the user, without
/// touching the session's idle time.
pub struct Watching {
    /// Who.
    pub user: CurrentUser,
}

impl FromRequestParts<Console> for Watching {
    type Rejection = SignInFirst;

    async fn from_request_parts(
        parts: &mut Parts,
        console: &Console,
    ) -> Result<Self, Self::Rejection> {
        let value =
            cookie(&parts.headers, SESSION_COOKIE).ok_or(SignInFirst(NoSession::Missing))?;
        let session = console
            .sessions
            .peek(value, Instant::now())
            .map_err(SignInFirst)?;
        let user = console
            .app
            .active_user(session.user)
            .ok_or(SignInFirst(NoSession::Missing))?;
        Ok(Watching {
            user: CurrentUser(user),
        })
    }
}

impl Signed {
    /// The form's CSRF token is this session's, or the request is refused (403) and does nothing.
    pub fn check(&self, form_token: &str) -> Result<(), CsrfRefused> {
        if session::same_token(form_token, &self.csrf) {
            Ok(())
        } else {
            Err(CsrfRefused)
        }
    }

    /// Keeps a message for the next page.
    pub fn flash(&self, console: &Console, flash: Flash) {
        console.sessions.flash(&self.cookie, flash);
    }
}

/// A form whose CSRF token is not its session's: refused (403), nothing done.
#[derive(Debug)]
pub struct CsrfRefused;

impl IntoResponse for CsrfRefused {
    fn into_response(self) -> Response {
        csrf_refused()
    }
}

fn csrf_refused() -> Response {
    let page = layout::bare(
        s::CSRF_REFUSED,
        html! {
            p role="alert" { (s::CSRF_REFUSED) }
            p { a href="/" { (s::RELOAD) } }
        },
    );
    (StatusCode::FORBIDDEN, page).into_response()
}

/// The client's address, when the server knows it (the node's accept loop records it).
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip()),
        ))
    }
}

/// Query of the sign-in page.
#[derive(Deserialize)]
pub struct SignInQuery {
    expired: Option<String>,
    out: Option<String>,
}

/// `GET /sign-in`: the form, with a fresh pre-session token (double-submit CSRF).
pub async fn sign_in_page(
    State(console): State<Console>,
    headers: HeaderMap,
    Query(q): Query<SignInQuery>,
) -> Response {
    let tls = over_tls(&console, &headers);
    let note = if q.expired.is_some() {
        Some(s::SESSION_EXPIRED.to_string())
    } else if q.out.is_some() {
        Some(s::SIGNED_OUT.to_string())
    } else {
        None
    };
    sign_in_form(tls, note, None, StatusCode::OK)
}

fn sign_in_form(
    tls: bool,
    note: Option<String>,
    error: Option<String>,
    status: StatusCode,
) -> Response {
    let token = session::new_token();
    let body = html! {
        main id="main" class="signin" {
            h1 { (s::APP) " — " (s::SIGN_IN) }
            @if let Some(n) = &note { p role="status" { (n) } }
            @if let Some(e) = &error { p role="alert" class="error" id="signin-error" { (e) } }
            form method="post" action="/sign-in" {
                input type="hidden" name="csrf" value=(token);
                label for="name" { (s::USER_NAME) }
                input id="name" name="name" type="text" autocomplete="username" required autofocus;
                label for="password" { (s::PASSWORD) }
                input id="password" name="password" type="password" autocomplete="current-password" required;
                button type="submit" id="sign-in" { (s::SIGN_IN) }
            }
        }
    };
    let mut resp = (status, layout::bare(s::SIGN_IN, body)).into_response();
    resp.headers_mut().append(
        SET_COOKIE,
        set_cookie(tls, SIGNIN_COOKIE, &token, Some(600)),
    );
    resp
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    name: String,
    password: String,
}

/// `POST /sign-in`: checks the throttle, then the password; starts a session.
pub async fn sign_in(
    State(console): State<Console>,
    headers: HeaderMap,
    ClientAddr(addr): ClientAddr,
    Form(f): Form<SignInForm>,
) -> Response {
    let tls = over_tls(&console, &headers);
    let pre = cookie(&headers, SIGNIN_COOKIE).unwrap_or("");
    if pre.is_empty() || !session::same_token(pre, &f.csrf) {
        return csrf_refused();
    }
    let now = Instant::now();
    if let Some(wait) = console.throttle.locked(&f.name, addr, now) {
        let secs = wait.as_secs().max(1);
        return sign_in_form(
            tls,
            None,
            Some(s::throttled(secs)),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let user = match console.app.sign_in(&f.name, &f.password).await {
        Ok(u) => u,
        Err(e) => {
            tracing::warn!(error = %e, "console sign-in failed");
            None
        }
    };
    let Some(user) = user else {
        console.throttle.failed(&f.name, addr, Instant::now());
        return sign_in_form(
            tls,
            None,
            Some(s::BAD_CREDENTIALS.into()),
            StatusCode::UNAUTHORIZED,
        );
    };
    console.throttle.succeeded(&f.name);
    let value = console.sessions.start(user.id, Instant::now());
    let mut resp = Redirect::to("/").into_response();
    resp.headers_mut()
        .append(SET_COOKIE, set_cookie(tls, SESSION_COOKIE, &value, None));
    resp.headers_mut()
        .append(SET_COOKIE, set_cookie(tls, SIGNIN_COOKIE, "", Some(0)));
    resp
}

/// A form that carries only its CSRF token.
#[derive(Deserialize)]
pub struct CsrfForm {
    /// The session's token.
    pub csrf: String,
}

/// `POST /sign-out`.
pub async fn sign_out(
    State(console): State<Console>,
    signed: Signed,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Response {
    if let Err(r) = signed.check(&f.csrf) {
        return r.into_response();
    }
    let tls = over_tls(&console, &headers);
    console.sessions.end(&signed.cookie);
    let mut resp = Redirect::to("/sign-in?out=1").into_response();
    resp.headers_mut()
        .append(SET_COOKIE, set_cookie(tls, SESSION_COOKIE, "", Some(0)));
    resp
}

/// The page shell of a signed-in page.
pub fn page<'a>(console: &'a Console, signed: &'a Signed, title: &'a str) -> Page<'a> {
    Page {
        console,
        signed,
        title,
    }
}
