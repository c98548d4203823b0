//! The sales order page, live: `GET /orders/{id}/events` is a stream of server-sent events
//! that tells the open page when the order changed on this node — another agent's action, or a
//! merge from a peer — and what changed (the changes in its history the page had not seen, the
//! merged conflicts that are new). The page's script then swaps in the fresh read-only parts
//! (lines, recap, payments, holds, notes, conflicts, history) and shows the message.
//!
//! What wakes it is the node's own write path: `AppState::changes` moves after every flushed
//! write, local or merged by sync. The stream reads the order through the same
//! service operations as the page, as the signed-in user, and ends when the session does.

use crate::auth::{cookie, SignInFirst, Watching};
use crate::layout::when;
use crate::session::SESSION_COOKIE;
use crate::{strings as s, Console};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeSet;
use std::convert::Infallible;
use std::time::{Duration, Instant};
use switchboard_domain::OrderId;
use switchboard_node::auth::CurrentUser;
use switchboard_node::views::{ChangeView, ConflictView, OrderView};
use uuid::Uuid;

/// Writes that land within this of each other are told as one change.
const SETTLE: Duration = Duration::from_millis(150);
/// How often a quiet stream checks that its session is still alive.
const SESSION_CHECK: Duration = Duration::from_secs(15);

/// What the page has seen of the order.
#[derive(Default)]
struct Seen {
    changes: BTreeSet<String>,
    conflicts: BTreeSet<String>,
    status: String,
    updated: String,
}

fn change_key(c: &ChangeView) -> String {
    format!("{}|{}|{:?}|{:?}", c.at.as_millis(), c.summary, c.by, c.node)
}

fn conflict_key(c: &ConflictView) -> String {
    let values: Vec<String> = c.values.iter().map(|v| v.to_string()).collect();
    format!("{}={}", c.path, values.join(" / "))
}

struct Stream {
    console: Console,
    user: CurrentUser,
    session: String,
    order: OrderId,
    durable: tokio::sync::watch::Receiver<u64>,
    seen: Seen,
    /// A change made between the page's render and the stream's start, told first.
    missed: Option<String>,
}

impl Stream {
    /// The order and its history as the user may see them.
    async fn read(&self) -> Option<(OrderView, Vec<ChangeView>)> {
        let o = self.console.app.order(&self.user, self.order).await.ok()?;
        let h = self
            .console
            .app
            .order_history(&self.user, self.order)
            .await
            .map(|h| h.changes)
            .unwrap_or_default();
        Some((o, h))
    }

    fn who(&self, c: &ChangeView) -> String {
        let name =
            c.by.and_then(|u| self.console.app.user_record(u).map(|(_, r)| r.user.name));
        let place = match c.node {
            Some(n) if n == self.console.app.identity.node_id => s::LIVE_HERE,
            Some(_) => s::LIVE_ELSEWHERE,
            None => "",
        };
        match (name, place.is_empty()) {
            (Some(n), false) => format!("{n}, {place}"),
            (Some(n), true) => n,
            (None, _) => place.to_string(),
        }
    }

    /// What changed since the page last saw the order, one line each; empty when nothing did.
    fn diff(&mut self, o: &OrderView, history: &[ChangeView]) -> Vec<String> {
        let now = self.console.app.now();
        let mut said = Vec::new();
        for c in history {
            if self.seen.changes.insert(change_key(c)) {
                let who = self.who(c);
                said.push(if who.is_empty() {
                    format!("{} ({})", c.summary, when(c.at, now))
                } else {
                    format!("{} — {who} ({})", c.summary, when(c.at, now))
                });
            }
        }
        for c in &o.conflicts {
            if self.seen.conflicts.insert(conflict_key(c)) {
                let values: Vec<String> = c.values.iter().map(|v| v.to_string()).collect();
                said.push(s::live_conflict(&c.path, &values.join(" / ")));
            }
        }
        let status = o.status.as_str().to_string();
        if !self.seen.status.is_empty() && self.seen.status != status {
            said.push(s::live_status(&status));
        }
        self.seen.status = status;
        let updated = o.updated_at.as_millis().to_string();
        if said.is_empty() && !self.seen.updated.is_empty() && self.seen.updated != updated {
            said.push(s::LIVE_SOMETHING.to_string());
        }
        self.seen.updated = updated;
        said
    }

    fn alive(&self) -> bool {
        self.console
            .sessions
            .peek(&self.session, Instant::now())
            .is_ok()
            && self.console.app.active_user(self.user.0.id).is_some()
    }

    /// The next event: after a write that changed the order, its message; `None` ends the
    /// stream (session over, order gone, node stopping).
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Self)> {
        if let Some(m) = self.missed.take() {
            return Some((Ok(Event::default().event("changed").data(m)), self));
        }
        loop {
            match tokio::time::timeout(SESSION_CHECK, self.durable.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return None,
                Err(_) => {
                    if !self.alive() {
                        return None;
                    }
                    continue;
                }
            }
            tokio::time::sleep(SETTLE).await;
            self.durable.borrow_and_update();
            if !self.alive() {
                return None;
            }
            let (o, h) = self.read().await?;
            let said = self.diff(&o, &h);
            if !said.is_empty() {
                let ev = Event::default().event("changed").data(said.join("\n"));
                return Some((Ok(ev), self));
            }
        }
    }
}

/// Query of the event stream: the order's last change as the page showed it (milliseconds).
#[derive(serde::Deserialize)]
pub struct Since {
    since: Option<i64>,
}

/// `GET /orders/{id}/events`: the order's changes, as server-sent events named `changed`
/// whose data is what changed, one line each.
pub async fn events(
    State(console): State<Console>,
    signed: Result<Watching, SignInFirst>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<Since>,
) -> Response {
    let signed = match signed {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    let Ok(order) = Uuid::parse_str(&id).map(OrderId) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let session = cookie(&headers, SESSION_COOKIE)
        .unwrap_or_default()
        .to_string();
    let mut stream = Stream {
        durable: console.app.changes(),
        console,
        user: signed.user,
        session,
        order,
        seen: Seen::default(),
        missed: None,
    };
    // What the page shows now is the baseline.
    let Some((o, h)) = stream.read().await else {
        return StatusCode::NOT_FOUND.into_response();
    };
    stream.durable.borrow_and_update();
    stream.diff(&o, &h);
    if q.since.is_some_and(|t| t != o.updated_at.as_millis()) {
        stream.missed = Some(s::LIVE_SOMETHING.to_string());
    }
    let events = futures_util::stream::unfold(stream, Stream::next);
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}
