//! The retry schedule of one peer link: capped exponential backoff with jitter. Pure: the caller
//! passes the time and the random draw, so tests and simulations are deterministic.

use serde::{Deserialize, Serialize};

/// Backoff parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Backoff {
    /// Delay after the first failure, in ms.
    pub base_ms: u64,
    /// The cap, in ms.
    pub max_ms: u64,
    /// Time between sessions while the link is healthy, in ms.
    pub interval_ms: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base_ms: 500,
            max_ms: 60_000,
            interval_ms: 5_000,
        }
    }
}

/// One peer link's schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerLink {
    backoff: Backoff,
    failures: u32,
    next_attempt_ms: u64,
}

impl PeerLink {
    /// A link that may sync right away.
    pub fn new(backoff: Backoff) -> Self {
        PeerLink {
            backoff,
            failures: 0,
            next_attempt_ms: 0,
        }
    }

    /// Whether a session should start at `now_ms`.
    pub fn due(&self, now_ms: u64) -> bool {
        now_ms >= self.next_attempt_ms
    }

    /// When the next session should start.
    pub fn next_attempt_ms(&self) -> u64 {
        self.next_attempt_ms
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// A session succeeded: reset the backoff, next session after the interval.
    pub fn on_success(&mut self, now_ms: u64) -> u64 {
        self.failures = 0;
        self.next_attempt_ms = now_ms.saturating_add(self.backoff.interval_ms);
        self.next_attempt_ms
    }

    /// Local changes want a session soon: no earlier than the backoff allows.
    pub fn on_local_change(&mut self, now_ms: u64) {
        if self.failures == 0 {
            self.next_attempt_ms = self.next_attempt_ms.min(now_ms);
        }
    }

    /// A session failed: the next attempt is `min(max, base × 2^failures)`, scaled into
    /// `[1/2, 1]` of itself by `jitter_0_1` ("equal jitter"), so that links that failed together
    /// do not retry together. Returns the time of the next attempt.
    pub fn on_failure(&mut self, now_ms: u64, jitter_0_1: f64) -> u64 {
        let exp = self.failures.min(32);
        self.failures = self.failures.saturating_add(1);
        let full = self
            .backoff
            .base_ms
            .saturating_mul(1u64 << exp.min(40))
            .min(self.backoff.max_ms);
        let j = if jitter_0_1.is_finite() {
            jitter_0_1.clamp(0.0, 1.0)
        } else {
            0.5
        };
        let delay = (full as f64 * (0.5 + 0.5 * j)) as u64;
        self.next_attempt_ms = now_ms.saturating_add(delay.max(1));
        self.next_attempt_ms
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let mut l = PeerLink::new(Backoff {
            base_ms: 100,
            max_ms: 1_000,
            interval_ms: 50,
        });
        assert!(l.due(0));
        assert_eq!(l.on_failure(0, 1.0), 100);
        assert_eq!(l.on_failure(0, 1.0), 200);
        assert_eq!(l.on_failure(0, 0.0), 200);
        assert_eq!(l.on_failure(0, 1.0), 800);
        assert_eq!(l.on_failure(0, 1.0), 1_000);
        assert_eq!(l.on_failure(0, 1.0), 1_000);
        assert!(!l.due(999));
        assert!(l.due(1_000));
        assert_eq!(l.on_success(2_000), 2_050);
        assert_eq!(l.failures(), 0);
        assert_eq!(l.on_failure(3_000, f64::NAN), 3_075);
    }
}
