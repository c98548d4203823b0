//! The one place that knows bincode (pinned `=1.3.3`; RUSTSEC-2025-0141 marks it unmaintained, so
//! it stays behind this module). Every encoded value is `[VERSION] ++ bincode(value)` with varint
//! integers; decoding checks the version byte, refuses input over a size limit before touching it,
//! bounds bincode's allocations by the same limit, and refuses trailing bytes. Used for sync frames
//! and for node store records.

use bincode::Options;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The encoding version written as the first byte.
pub const VERSION: u8 = 1;

/// A default decode limit for store records (frames use their own, see `protocol`).
pub const DEFAULT_LIMIT: u64 = 64 * 1024 * 1024;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// No bytes at all.
    #[error("empty input")]
    Empty,
    /// The version byte is not one this build reads.
    #[error("unknown encoding version {0} (this build reads version {VERSION})")]
    UnknownVersion(u8),
    /// The input is larger than the limit.
    #[error("input of {size} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// Input size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The value decoded but bytes were left over.
    #[error("{0} trailing bytes after the value")]
    TrailingBytes(usize),
    /// The bytes are not a value of the expected type.
    #[error("malformed input: {0}")]
    Malformed(String),
}

fn options(limit: u64) -> impl Options {
    bincode::DefaultOptions::new()
        .with_varint_encoding()
        .with_little_endian()
        .with_limit(limit)
        .allow_trailing_bytes()
}

/// Encodes a value: the version byte, then bincode with varint integers.
pub fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let body = bincode::DefaultOptions::new()
        .with_varint_encoding()
        .with_little_endian()
        .serialize(value)
        // Our wire and record types are plain structs, enums, strings, maps and vectors, all of
        // known length: bincode has nothing to refuse in them.
        .expect("bincode encodes values of known length");
    let mut out = Vec::with_capacity(body.len() + 1);
    out.push(VERSION);
    out.extend_from_slice(&body);
    out
}

/// Decodes a value encoded by [`encode`], refusing input over `limit` bytes.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], limit: u64) -> Result<T, CodecError> {
    let (&version, body) = bytes.split_first().ok_or(CodecError::Empty)?;
    if bytes.len() as u64 > limit {
        return Err(CodecError::TooLarge {
            size: bytes.len() as u64,
            limit,
        });
    }
    if version != VERSION {
        return Err(CodecError::UnknownVersion(version));
    }
    decode_body(body, limit)
}

/// Decodes the bincode body of a value (what follows the version byte of [`encode`]), refusing
/// input over `limit` bytes; for containers that carry the version elsewhere (sync frames).
pub fn decode_body<T: DeserializeOwned>(body: &[u8], limit: u64) -> Result<T, CodecError> {
    if body.len() as u64 > limit {
        return Err(CodecError::TooLarge {
            size: body.len() as u64,
            limit,
        });
    }
    let mut rest = body;
    let value = options(limit)
        .deserialize_from::<_, T>(&mut rest)
        .map_err(|e| match *e {
            bincode::ErrorKind::SizeLimit => CodecError::TooLarge {
                size: body.len() as u64,
                limit,
            },
            other => CodecError::Malformed(other.to_string()),
        })?;
    if !rest.is_empty() {
        return Err(CodecError::TrailingBytes(rest.len()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Rec {
        a: u64,
        b: String,
        c: Vec<u8>,
    }

    #[test]
    fn round_trip_and_refusals() {
        let r = Rec {
            a: 7,
            b: "x".into(),
            c: vec![1, 2, 3],
        };
        let bytes = encode(&r);
        assert_eq!(bytes[0], VERSION);
        assert_eq!(decode::<Rec>(&bytes, 1024).unwrap(), r);
        assert_eq!(decode::<Rec>(&[], 1024), Err(CodecError::Empty));
        let mut v2 = bytes.clone();
        v2[0] = 9;
        assert_eq!(decode::<Rec>(&v2, 1024), Err(CodecError::UnknownVersion(9)));
        assert!(matches!(
            decode::<Rec>(&bytes, 4),
            Err(CodecError::TooLarge { .. })
        ));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(
            decode::<Rec>(&trailing, 1024),
            Err(CodecError::TrailingBytes(1))
        );
        assert!(matches!(
            decode::<Rec>(&bytes[..bytes.len() - 1], 1024),
            Err(CodecError::Malformed(_))
        ));
        // A length prefix claiming far more than the limit must not allocate it.
        let mut huge = vec![VERSION, 7, 1, b'x'];
        huge.extend_from_slice(&[0xfd, 0xff, 0xff, 0xff, 0x7f]);
        assert!(decode::<Rec>(&huge, 1024).is_err());
    }
}
