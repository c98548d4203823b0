//! Console sessions, CSRF tokens and the sign-in throttle: kept in the node's memory (a restart
//! signs everyone out), pure logic over an explicit `now` so the rules are tested without a clock.
//!
//! - A session is a random 256-bit id in an HttpOnly, SameSite=Strict cookie (Secure over TLS);
//!   only its SHA-256 is kept. It ends after `idle` without a request, or at sign-out.
//! - Every state-changing form carries the session's own random CSRF token (`csrf` field),
//!   compared in constant time; the sign-in form, before a session exists, carries the token of
//!   a short-lived pre-session cookie (double submit).
//! - Wrong passwords are throttled per user name and per client address: past a few free
//!   failures each further one locks sign-in for a doubling time (capped), forgotten after a
//!   quiet period; a good sign-in clears the name's count.

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use switchboard_domain::UserId;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "sb_session";
/// Name of the pre-session cookie whose token the sign-in form carries.
pub const SIGNIN_COOKIE: &str = "sb_signin";

/// A fresh random token: 32 bytes, hex.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time equality of two tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A message kept for the next page the session shows (after a redirect).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Flash {
    /// The action was done.
    Done(String),
    /// The action was refused, with the reason.
    Refused(String),
}

/// One signed-in session.
#[derive(Clone, Debug)]
pub struct Session {
    /// Who.
    pub user: UserId,
    /// The token every state-changing form of this session must carry.
    pub csrf: String,
    last_seen: Instant,
    flash: Option<Flash>,
}

/// Why a session cookie does not sign a request in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoSession {
    /// No cookie, or one no session has.
    Missing,
    /// The session was idle too long.
    Expired,
}

/// The sessions of this node.
pub struct Sessions {
    idle: Duration,
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Sessions that end after `idle` without a request.
    pub fn new(idle: Duration) -> Sessions {
        Sessions {
            idle,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts a session for `user`; returns the cookie value (shown to the browser only).
    pub fn start(&self, user: UserId, now: Instant) -> String {
        let token = new_token();
        let mut map = self.lock();
        // Expired sessions are swept now and then, so the map stays bounded by live ones.
        if map.len() % 64 == 63 {
            let idle = self.idle;
            map.retain(|_, s| now.saturating_duration_since(s.last_seen) <= idle);
        }
        map.insert(
            digest(&token),
            Session {
                user,
                csrf: new_token(),
                last_seen: now,
                flash: None,
            },
        );
        token
    }

    /// The session of a cookie value, touched (its idle time starts again) and with its flash
    /// message taken; an idle one is ended.
    pub fn resume(
        &self,
        cookie: &str,
        now: Instant,
    ) -> Result<(Session, Option<Flash>), NoSession> {
        let key = digest(cookie);
        let mut map = self.lock();
        let s = map.get_mut(&key).ok_or(NoSession::Missing)?;
        if now.saturating_duration_since(s.last_seen) > self.idle {
            map.remove(&key);
            return Err(NoSession::Expired);
        }
        s.last_seen = now;
        let flash = s.flash.take();
        Ok((s.clone(), flash))
    }

    /// The session of a cookie value without touching it: what the page's own background
    /// requests (banner, live notice) use, so an open page does not keep a session alive. An
    /// idle session is reported, and left for the next real request to end.
    pub fn peek(&self, cookie: &str, now: Instant) -> Result<Session, NoSession> {
        let map = self.lock();
        let s = map.get(&digest(cookie)).ok_or(NoSession::Missing)?;
        if now.saturating_duration_since(s.last_seen) > self.idle {
            return Err(NoSession::Expired);
        }
        Ok(s.clone())
    }

    /// Keeps a message for the session's next page.
    pub fn flash(&self, cookie: &str, flash: Flash) {
        if let Some(s) = self.lock().get_mut(&digest(cookie)) {
            s.flash = Some(flash);
        }
    }

    /// Ends a session.
    pub fn end(&self, cookie: &str) {
        self.lock().remove(&digest(cookie));
    }
}

/// Failures that cost nothing per user name, and per address.
const FREE_PER_USER: u32 = 5;
const FREE_PER_ADDR: u32 = 20;
/// The first lock, doubled by each further failure, up to the cap.
const FIRST_LOCK: Duration = Duration::from_secs(30);
const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// A count is forgotten after this long without failures.
const FORGET_AFTER: Duration = Duration::from_secs(30 * 60);
/// Most names or addresses tracked; beyond it the quietest are forgotten first.
const MAX_TRACKED: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct Strikes {
    fails: u32,
    last: Instant,
    locked_until: Option<Instant>,
}

/// The sign-in throttle.
#[derive(Default)]
pub struct Throttle {
    users: Mutex<HashMap<String, Strikes>>,
    addrs: Mutex<HashMap<IpAddr, Strikes>>,
}

fn locked<K: std::hash::Hash + Eq>(
    map: &Mutex<HashMap<K, Strikes>>,
    k: &K,
    now: Instant,
) -> Option<Duration> {
    let map = map.lock().unwrap_or_else(|p| p.into_inner());
    let until = map.get(k)?.locked_until?;
    (until > now).then(|| until - now)
}

fn strike<K: std::hash::Hash + Eq + Clone>(
    map: &Mutex<HashMap<K, Strikes>>,
    k: &K,
    free: u32,
    now: Instant,
) {
    let mut map = map.lock().unwrap_or_else(|p| p.into_inner());
    if map.len() >= MAX_TRACKED {
        map.retain(|_, s| now.saturating_duration_since(s.last) < FORGET_AFTER);
        if map.len() >= MAX_TRACKED {
            map.clear();
        }
    }
    let s = map.entry(k.clone()).or_insert(Strikes {
        fails: 0,
        last: now,
        locked_until: None,
    });
    if now.saturating_duration_since(s.last) >= FORGET_AFTER {
        s.fails = 0;
    }
    s.fails = s.fails.saturating_add(1);
    s.last = now;
    if s.fails >= free {
        let doublings = (s.fails - free).min(16);
        let lock = FIRST_LOCK.saturating_mul(1 << doublings).min(MAX_LOCK);
        s.locked_until = Some(now + lock);
    }
}

fn user_key(name: &str) -> String {
    name.trim().to_lowercase()
}

impl Throttle {
    /// How long sign-in stays locked for this name or address (the longer), if it is.
    pub fn locked(&self, name: &str, addr: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let by_user = locked(&self.users, &user_key(name), now);
        let by_addr = addr.and_then(|a| locked(&self.addrs, &a, now));
        by_user.max(by_addr)
    }

    /// Counts a wrong password for this name and address.
    pub fn failed(&self, name: &str, addr: Option<IpAddr>, now: Instant) {
        strike(&self.users, &user_key(name), FREE_PER_USER, now);
        if let Some(a) = addr {
            strike(&self.addrs, &a, FREE_PER_ADDR, now);
        }
    }

    /// A good sign-in: the name's count starts over (the address keeps its count).
    pub fn succeeded(&self, name: &str) {
        self.users
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&user_key(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn user() -> UserId {
        UserId(Uuid::from_u128(7))
    }

    #[test]
    fn sessions_resume_until_idle_then_expire() {
        let t0 = Instant::now();
        let s = Sessions::new(Duration::from_secs(60));
        let cookie = s.start(user(), t0);
        let (a, _) = s.resume(&cookie, t0 + Duration::from_secs(59)).unwrap();
        assert_eq!(a.user, user());
        // A peek does not touch it.
        assert!(s.peek(&cookie, t0 + Duration::from_secs(60)).is_ok());
        // Touched at 59 s: still alive at 118 s.
        assert!(s.resume(&cookie, t0 + Duration::from_secs(118)).is_ok());
        assert_eq!(
            s.peek(&cookie, t0 + Duration::from_secs(179)).unwrap_err(),
            NoSession::Expired
        );
        assert_eq!(
            s.resume(&cookie, t0 + Duration::from_secs(179))
                .unwrap_err(),
            NoSession::Expired
        );
        // Ended for good.
        assert_eq!(
            s.resume(&cookie, t0 + Duration::from_secs(179))
                .unwrap_err(),
            NoSession::Missing
        );
        assert_eq!(s.resume("forged", t0).unwrap_err(), NoSession::Missing);
    }

    #[test]
    fn sessions_have_their_own_csrf_token_and_flash_once() {
        let t0 = Instant::now();
        let s = Sessions::new(Duration::from_secs(60));
        let a = s.start(user(), t0);
        let b = s.start(user(), t0);
        let (sa, _) = s.resume(&a, t0).unwrap();
        let (sb, _) = s.resume(&b, t0).unwrap();
        assert_ne!(sa.csrf, sb.csrf);
        assert_eq!(sa.csrf.len(), 64);
        s.flash(&a, Flash::Refused("no".into()));
        assert_eq!(
            s.resume(&a, t0).unwrap().1,
            Some(Flash::Refused("no".into()))
        );
        assert_eq!(s.resume(&a, t0).unwrap().1, None);
        s.end(&a);
        assert!(s.resume(&a, t0).is_err());
    }

    #[test]
    fn token_comparison() {
        assert!(same_token("abc", "abc"));
        assert!(!same_token("abc", "abd"));
        assert!(!same_token("abc", "ab"));
        assert!(!same_token("", "a"));
    }

    #[test]
    fn throttle_locks_a_name_after_free_failures_and_doubles() {
        let t0 = Instant::now();
        let th = Throttle::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        for i in 0..FREE_PER_USER - 1 {
            th.failed("Ann", Some(ip), t0);
            assert_eq!(th.locked("ann", Some(ip), t0), None, "failure {i} is free");
        }
        th.failed(" ANN ", Some(ip), t0);
        assert_eq!(th.locked("ann", None, t0), Some(FIRST_LOCK));
        // Another name from another address is not locked.
        assert_eq!(
            th.locked("bob", Some("10.0.0.1".parse().unwrap()), t0),
            None
        );
        let t1 = t0 + FIRST_LOCK;
        assert_eq!(th.locked("ann", None, t1), None, "the lock ends");
        th.failed("ann", None, t1);
        assert_eq!(th.locked("ann", None, t1), Some(FIRST_LOCK * 2));
        th.succeeded("ann");
        assert_eq!(th.locked("ann", None, t1), None);
    }

    #[test]
    fn throttle_locks_an_address_across_names_and_caps() {
        let t0 = Instant::now();
        let th = Throttle::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for i in 0..FREE_PER_ADDR {
            th.failed(&format!("user{i}"), Some(ip), t0);
        }
        assert!(th.locked("someone-else", Some(ip), t0).is_some());
        assert_eq!(th.locked("someone-else", None, t0), None);
        for _ in 0..40 {
            th.failed("x", Some(ip), t0);
        }
        assert_eq!(th.locked("x", Some(ip), t0), Some(MAX_LOCK));
        // Forgotten after a quiet period.
        let later = t0 + FORGET_AFTER + MAX_LOCK;
        th.failed("x", Some(ip), later);
        assert_eq!(th.locked("x", None, later), None);
    }
}
