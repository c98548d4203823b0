//! The page shell: skip link, navigation, who is signed in, the sync banner (on every page,
//! refreshed by the page's script, never blocking work) and the message kept for the page.

use crate::auth::{SignInFirst, Signed, Watching};
use crate::session::Flash;
use crate::{strings as s, Console};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, PreEscaped, DOCTYPE};
use std::time::{Duration, Instant};
use switchboard_domain::Timestamp;

/// How long a computed banner is reused (the banner's status reads the change feed).
const BANNER_TTL: Duration = Duration::from_secs(2);

/// The sync banner's text and whether it warns.
#[derive(Clone, Debug)]
pub struct Banner {
    /// What it says.
    pub text: String,
    /// Whether a peer is unreachable now.
    pub warn: bool,
}

/// A time as agents read it: `10:32 UTC` today, else `2026-12-06 10:32 UTC`.
pub fn when(t: Timestamp, now: Timestamp) -> String {
    let fmt = |t: Timestamp| {
        time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(t.as_millis()) * 1_000_000).ok()
    };
    match (fmt(t), fmt(now)) {
        (Some(a), Some(b)) if a.date() == b.date() => {
            format!("{:02}:{:02} UTC", a.hour(), a.minute())
        }
        (Some(a), _) => format!(
            "{}-{:02}-{:02} {:02}:{:02} UTC",
            a.year(),
            u8::from(a.month()),
            a.day(),
            a.hour(),
            a.minute()
        ),
        _ => t.to_string(),
    }
}

impl Console {
    /// The sync banner: when the peers (HQ, from a site) were last reached and how many local
    /// changes wait for them.
    pub async fn banner(&self) -> Banner {
        if let Ok(g) = self.banner.lock() {
            if let Some((at, b)) = g.as_ref() {
                if at.elapsed() < BANNER_TTL {
                    return b.clone();
                }
            }
        }
        let b = self.compute_banner().await;
        if let Ok(mut g) = self.banner.lock() {
            *g = Some((Instant::now(), b.clone()));
        }
        b
    }

    async fn compute_banner(&self) -> Banner {
        let peers = match self.hub.status().await {
            Ok(p) => p,
            Err(e) => {
                return Banner {
                    text: e.to_string(),
                    warn: true,
                }
            }
        };
        if peers.is_empty() {
            return Banner {
                text: s::SYNC_STANDALONE.to_string(),
                warn: false,
            };
        }
        let kind = if self.app.is_site() {
            s::PEER_HQ
        } else {
            s::PEER_SITES
        };
        let waiting: u64 = peers.iter().map(|p| p.pending_out).sum();
        let last = peers.iter().filter_map(|p| p.last_success).max();
        let down = peers.iter().any(|p| p.reachable == Some(false));
        let mut text = match last {
            Some(t) => s::sync_reached(kind, &when(t, self.app.now()), waiting),
            None => s::sync_never(kind, waiting),
        };
        if down {
            text = format!("{text} · {}", s::SYNC_UNREACHABLE);
        }
        Banner { text, warn: down }
    }
}

fn banner_markup(b: &Banner) -> Markup {
    html! {
        div id="sync-banner" role="status" aria-live="polite" class=(if b.warn { "banner warn" } else { "banner" }) {
            (b.text)
        }
    }
}

/// `GET /console/banner`: the banner alone, which the page's script swaps in every few seconds.
pub async fn banner_fragment(
    State(console): State<Console>,
    signed: Result<Watching, SignInFirst>,
) -> Response {
    match signed {
        Ok(_) => banner_markup(&console.banner().await).into_response(),
        Err(e) => e.into_response(),
    }
}

fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " — " (s::APP) }
            link rel="stylesheet" href="/console/assets/console.css";
            script src="/console/assets/console.js" defer {}
        }
    }
}

/// A page without navigation (sign-in, refusals before a session).
pub fn bare(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body { (body) }
        }
    }
}

/// A signed-in page being built.
pub struct Page<'a> {
    /// The console.
    pub console: &'a Console,
    /// Who is signed in.
    pub signed: &'a Signed,
    /// The page's title.
    pub title: &'a str,
}

impl Page<'_> {
    /// The whole page around `body`.
    pub async fn render(self, body: Markup) -> Markup {
        let banner = self.console.banner().await;
        let u = &self.signed.user.0;
        html! {
            (DOCTYPE)
            html lang="en" {
                (head(self.title))
                body data-csrf=(self.signed.csrf) {
                    a class="skip" href="#main" { (s::SKIP_TO_MAIN) }
                    header {
                        nav aria-label=(s::NAV_LABEL) {
                            strong { (s::APP) }
                            a href="/customers" { (s::NAV_CUSTOMERS) }
                            a href="/orders" { (s::NAV_ORDERS) }
                            a href="/holds" { (s::NAV_HOLDS) }
                            @if self.signed.user.is_admin() { a href="/admin/users" { (s::NAV_ADMIN_USERS) } }
                            @if self.signed.user.require_some_admin().is_ok() { a href="/admin/peers" { (s::NAV_ADMIN_PEERS) } }
                            span class="who" { (s::signed_in_as(&u.name, u.role.as_str())) }
                            a href="/account/password" { (s::NAV_OWN_PASSWORD) }
                            form method="post" action="/sign-out" class="inline" {
                                input type="hidden" name="csrf" value=(self.signed.csrf);
                                button type="submit" { (s::SIGN_OUT) }
                            }
                        }
                        (banner_markup(&banner))
                    }
                    main id="main" tabindex="-1" {
                        h1 { (self.title) }
                        @match &self.signed.flash {
                            Some(Flash::Refused(why)) => p role="alert" class="error" id="flash" { strong { (s::REFUSED) ": " } (why) },
                            Some(Flash::Done(what)) => p role="status" class="done" id="flash" { (what) },
                            None => {},
                        }
                        (body)
                    }
                }
            }
        }
    }
}

/// Text that is already safe HTML (embedded, never user input).
pub fn trusted(s: &'static str) -> PreEscaped<&'static str> {
    PreEscaped(s)
}
