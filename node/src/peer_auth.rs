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

/// What a peer request's signature covers.
#[derive(Clone, Copy, Debug)]
pub struct RequestParts<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Request path.
    pub path: &'a str,
    /// The sending node's id.
    pub node: &'a str,
    /// The sender's Unix time, ms.
    pub ts: i64,
    /// The sender's nonce.
    pub nonce: &'a str,
    /// The body.
    pub body: &'a [u8],
}

impl RequestParts<'_> {
    fn mac(&self, secret: &str) -> HmacSha256 {
        let ts = self.ts.to_string();
        mac(
            secret,
            &[
                b"req",
                self.method.as_bytes(),
                self.path.as_bytes(),
                self.node.as_bytes(),
                ts.as_bytes(),
                self.nonce.as_bytes(),
                self.body,
            ],
        )
    }

    /// The hex signature.
    pub fn sign(&self, secret: &str) -> String {
        hex::encode(self.mac(secret).finalize().into_bytes())
    }

    /// Verifies a hex signature (constant time).
    pub fn verify(&self, secret: &str, sig_hex: &str) -> Result<(), AuthError> {
        verify_hex(self.mac(secret), sig_hex)
    }
}

/// Signs a POST-style request given as plain parts (a shorthand for [`RequestParts::sign`]).
pub fn sign_request(
    secret: &str,
    method: &str,
    path: &str,
    node: &str,
    ts: i64,
    nonce: &str,
    body: &[u8],
) -> String {
    RequestParts {
        method,
        path,
        node,
        ts,
        nonce,
        body,
    }
    .sign(secret)
}

fn response_mac(secret: &str, node: &str, nonce: &str, body: &[u8]) -> HmacSha256 {
    mac(secret, &[b"resp", node.as_bytes(), nonce.as_bytes(), body])
}

/// Signs a response to the request with `nonce`.
pub fn sign_response(secret: &str, node: &str, nonce: &str, body: &[u8]) -> String {
    hex::encode(
        response_mac(secret, node, nonce, body)
            .finalize()
            .into_bytes(),
    )
}

fn verify_hex(m: HmacSha256, sig_hex: &str) -> Result<(), AuthError> {
    let sig = hex::decode(sig_hex).map_err(|_| AuthError::BadHeader(H_SIG))?;
    m.verify_slice(&sig).map_err(|_| AuthError::BadSignature)
}

/// Verifies a response signature (constant time).
pub fn verify_response(
    secret: &str,
    node: &str,
    nonce: &str,
    body: &[u8],
    sig_hex: &str,
) -> Result<(), AuthError> {
    verify_hex(response_mac(secret, node, nonce, body), sig_hex)
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
        let n = "00112233445566778899";
        let base = RequestParts {
            method: "POST",
            path: "/sync/v1/frame",
            node: "n1",
            ts: 1000,
            nonce: n,
            body: b"body",
        };
        let sig = base.sign("s3cret");
        assert!(base.verify("s3cret", &sig).is_ok());
        assert_eq!(base.verify("other", &sig), Err(AuthError::BadSignature));
        for changed in [
            RequestParts {
                method: "PUT",
                ..base
            },
            RequestParts {
                path: "/sync/v1/x",
                ..base
            },
            RequestParts { node: "n2", ..base },
            RequestParts { ts: 1001, ..base },
            RequestParts {
                nonce: "00112233445566778898",
                ..base
            },
            RequestParts {
                body: b"bodz",
                ..base
            },
        ] {
            assert_eq!(changed.verify("s3cret", &sig), Err(AuthError::BadSignature));
        }
        assert_eq!(
            base.verify("s3cret", "zz"),
            Err(AuthError::BadHeader(H_SIG))
        );
        let r = sign_response("s3cret", "n2", n, b"resp");
        assert!(verify_response("s3cret", "n2", n, b"resp", &r).is_ok());
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
