//! The per-user write rate limit: a token bucket per user id, next to the node-wide limit on
//! writes in flight (`AppState::write_slots`). Every write request (any method but `GET`, `HEAD`
//! and `OPTIONS`) of an authenticated user takes one token; a user whose bucket is empty is
//! answered 429 `rate_limited` with a `Retry-After` header (whole seconds until a token is back),
//! before the request reaches its handler. Buckets refill at `user_writes_per_sec` up to
//! `user_write_burst` (configuration); a rate of 0 turns the limit off.

use super::auth::CurrentUser;
use super::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_domain::UserId;

/// Buckets kept before full (idle) ones are forgotten.
const PRUNE_ABOVE: usize = 10_000;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Token buckets by user.
#[derive(Debug)]
pub struct UserRateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<UserId, Bucket>>,
}

impl UserRateLimiter {
    /// A limiter allowing `per_sec` writes per second per user with bursts of `burst` (0 per
    /// second: no limit).
    pub fn new(per_sec: u32, burst: u32) -> Self {
        UserRateLimiter {
            rate: f64::from(per_sec),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `user` at `now`, or says how long until one is back.
    pub fn take(&self, user: UserId, now: Instant) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if buckets.len() > PRUNE_ABOVE {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, b| refilled(b, now, rate, burst) < burst);
        }
        let b = buckets.entry(user).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        b.tokens = refilled(b, now, self.rate, self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.rate))
        }
    }
}

fn refilled(b: &Bucket, now: Instant, rate: f64, burst: f64) -> f64 {
    let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
    (b.tokens + elapsed * rate).min(burst)
}

/// Middleware (inside authentication): one token per write request of the current user.
pub async fn limit_user_writes(
    State(limiter): State<Arc<UserRateLimiter>>,
    req: Request,
    next: Next,
) -> Response {
    let write = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if let (true, Some(user)) = (write, req.extensions().get::<CurrentUser>()) {
        if let Err(wait) = limiter.take(user.0.id, Instant::now()) {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            let mut resp = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "too many writes by this user (at most {} per second, bursts of {}); retry in {secs} s",
                    limiter.rate, limiter.burst
                ),
            )
            .into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            return resp;
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn buckets_refill_per_user_up_to_the_burst() {
        let l = UserRateLimiter::new(2, 3);
        let (a, b) = (UserId(Uuid::from_u128(1)), UserId(Uuid::from_u128(2)));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(l.take(a, t0), Ok(()));
        }
        let wait = l.take(a, t0).expect_err("empty");
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        // Another user has a bucket of their own.
        assert_eq!(l.take(b, t0), Ok(()));
        // Half a second later one token is back, and only one.
        let t1 = t0 + Duration::from_millis(500);
        assert_eq!(l.take(a, t1), Ok(()));
        assert!(l.take(a, t1).is_err());
        // Long idle: back to the burst, not beyond.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(l.take(a, t2), Ok(()));
        }
        assert!(l.take(a, t2).is_err());
    }

    #[test]
    fn a_zero_rate_is_no_limit() {
        let l = UserRateLimiter::new(0, 0);
        let t0 = Instant::now();
        for _ in 0..10_000 {
            assert_eq!(l.take(UserId(Uuid::nil()), t0), Ok(()));
        }
    }
}
