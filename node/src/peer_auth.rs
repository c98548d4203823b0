//! Peer authentication for `/sync/v1`: every request and response carries an HMAC-SHA256 over the
//! frame, the sender's node id, a timestamp and a nonce, keyed with the per-peer shared secret.
//! A responder refuses timestamps outside a window around its own (system) clock and nonces it
//! has seen inside that window, so a captured request cannot be replayed.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::Mutex;

type HmacSha256 = Hmac<Sha256>;

/// Header naming the sending node.
pub const H_NODE: &str = "x-switchboard-node";
/// Header with the sender's Unix time in milliseconds.
pub const H_TS: &str = "x-switchboard-ts";
/// Header with a random nonce (hex).
pub const H_NONCE: &str = "x-switchboard-nonce";
/// Header with the hex HMAC.
pub const H_SIG: &str = "x-switchboard-sig";

/// How far a request's timestamp may be from the responder's clock.
pub const REPLAY_WINDOW_MS: i64 = 5 * 60 * 1000;

/// Why a signed message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A header is missing or malformed.
    #[error("missing or malformed {0} header")]
    BadHeader(&'static str),
    /// The signature does not verify with the peer's secret.
    #[error("bad signature")]
    BadSignature,
    /// The timestamp is outside the replay window.
    #[error("timestamp outside the replay window")]
    Stale,
    /// The nonce was seen before.
    #[error("replayed request")]
    Replayed,
}

fn mac(secret: &str, parts: &[&[u8]]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut m =
        <HmacSha256 as Mac>::new_from_slice(secret.as_bytes()).expect("hmac takes any key length");
    for p in parts {
        m.update(&(p.len() as u64).to_be_bytes());
        m.update(p);
    }
    m
}

/// Signs a request: (method, path, node, ts, nonce, body).
pub fn sign_request(
    secret: &str,
    method: &str,
    path: &str,
    node: &str,
    ts: i64,
    nonce: &str,
    body: &[u8],
) -> String {
    let ts = ts.to_string();
    hex::encode(
        mac(
            secret,
            &[
                b"req",
                method.as_bytes(),
                path.as_bytes(),
                node.as_bytes(),
                ts.as_bytes(),
                nonce.as_bytes(),
                body,
            ],
        )
        .finalize()
        .into_bytes(),
    )
}

/// Signs a response to the request with `nonce`.
pub fn sign_response(secret: &str, node: &str, nonce: &str, body: &[u8]) -> String {
    hex::encode(
        mac(secret, &[b"resp", node.as_bytes(), nonce.as_bytes(), body])
            .finalize()
            .into_bytes(),
    )
}

fn verify_hex(m: HmacSha256, sig_hex: &str) -> Result<(), AuthError> {
    let sig = hex::decode(sig_hex).map_err(|_| AuthError::BadHeader(H_SIG))?;
    m.verify_slice(&sig).map_err(|_| AuthError::BadSignature)
}

/// Verifies a request signature (constant time).
#[allow(clippy::too_many_arguments)]
pub fn verify_request(
    secret: &str,
    method: &str,
    path: &str,
    node: &str,
    ts: i64,
    nonce: &str,
    body: &[u8],
    sig_hex: &str,
) -> Result<(), AuthError> {
    let ts_s = ts.to_string();
    verify_hex(
        mac(
            secret,
            &[
                b"req",
                method.as_bytes(),
                path.as_bytes(),
                node.as_bytes(),
                ts_s.as_bytes(),
                nonce.as_bytes(),
                body,
            ],
        ),
        sig_hex,
    )
}

/// Verifies a response signature (constant time).
pub fn verify_response(
    secret: &str,
    node: &str,
    nonce: &str,
    body: &[u8],
    sig_hex: &str,
) -> Result<(), AuthError> {
    verify_hex(
        mac(secret, &[b"resp", node.as_bytes(), nonce.as_bytes(), body]),
        sig_hex,
    )
}

/// Nonces seen inside the replay window.
#[derive(Default)]
pub struct ReplayGuard {
    seen: Mutex<HashMap<String, i64>>,
}

impl ReplayGuard {
    /// Accepts `(ts, nonce)` once if `ts` is within the window around `now_ms`.
    pub fn check(&self, now_ms: i64, ts: i64, nonce: &str) -> Result<(), AuthError> {
        if (now_ms - ts).abs() > REPLAY_WINDOW_MS {
            return Err(AuthError::Stale);
        }
        if nonce.len() < 16 || nonce.len() > 64 || !nonce.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AuthError::BadHeader(H_NONCE));
        }
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if seen.len() > 4096 {
            seen.retain(|_, t| (now_ms - *t).abs() <= REPLAY_WINDOW_MS);
        }
        if seen.insert(nonce.to_string(), ts).is_some() {
            return Err(AuthError::Replayed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_every_part() {
        let sig = sign_request(
            "s3cret",
            "POST",
            "/sync/v1/frame",
            "n1",
            1000,
            "00112233445566778899",
            b"body",
        );
        assert!(verify_request(
            "s3cret",
            "POST",
            "/sync/v1/frame",
            "n1",
            1000,
            "00112233445566778899",
            b"body",
            &sig
        )
        .is_ok());
        for (secret, path, node, ts, body) in [
            ("other", "/sync/v1/frame", "n1", 1000, &b"body"[..]),
            ("s3cret", "/sync/v1/x", "n1", 1000, b"body"),
            ("s3cret", "/sync/v1/frame", "n2", 1000, b"body"),
            ("s3cret", "/sync/v1/frame", "n1", 1001, b"body"),
            ("s3cret", "/sync/v1/frame", "n1", 1000, b"bodz"),
        ] {
            assert_eq!(
                verify_request(
                    secret,
                    "POST",
                    path,
                    node,
                    ts,
                    "00112233445566778899",
                    body,
                    &sig
                ),
                Err(AuthError::BadSignature)
            );
        }
        assert_eq!(
            verify_request(
                "s3cret",
                "POST",
                "/sync/v1/frame",
                "n1",
                1000,
                "00112233445566778899",
                b"body",
                "zz"
            ),
            Err(AuthError::BadHeader(H_SIG))
        );
        let r = sign_response("s3cret", "n2", "00112233445566778899", b"resp");
        assert!(verify_response("s3cret", "n2", "00112233445566778899", b"resp", &r).is_ok());
        assert!(verify_response("s3cret", "n2", "00112233445566778898", b"resp", &r).is_err());
    }

    #[test]
    fn replays_and_stale_requests_are_refused() {
        let g = ReplayGuard::default();
        let n = "0123456789abcdef0123";
        assert_eq!(g.check(10_000_000, 10_000_000, n), Ok(()));
        assert_eq!(g.check(10_000_000, 10_000_000, n), Err(AuthError::Replayed));
        assert_eq!(
            g.check(
                10_000_000,
                10_000_000 - REPLAY_WINDOW_MS - 1,
                "fedcba9876543210fedc"
            ),
            Err(AuthError::Stale)
        );
        assert_eq!(
            g.check(10_000_000, 10_000_000, "short"),
            Err(AuthError::BadHeader(H_NONCE))
        );
    }
}
