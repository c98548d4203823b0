//! Low-level reading and writing shared by every document kind: the change wrapper that stamps
//! author, time and message; a builder for batch-created maps; and a reader that turns missing or
//! ill-typed fields into [`DocError::Malformed`] and collects [`Conflict`]s.

use super::{Author, Conflict, DocError, DocKind, SCHEMA_VERSION};
use automerge::transaction::{CommitOptions, Transaction};
use automerge::{hydrate, Automerge, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::str::FromStr;
use switchboard_domain::Timestamp;

/// The change message: who and where, and what the change did.
pub(crate) fn message(
    user: &impl serde::Serialize,
    node: &impl serde::Serialize,
    summary: &str,
) -> String {
    serde_json::json!({ "by": user, "node": node, "summary": summary }).to_string()
}

/// Automerge stores change times in whole seconds.
pub(crate) fn secs(t: Timestamp) -> i64 {
    t.as_millis().div_euclid(1000)
}

/// Runs `f` as one change by `author`: actor set first, committed with the author's time and a
/// message carrying `summary`; rolled back if `f` fails. A change without operations is not
/// recorded.
pub(crate) fn change<T>(
    doc: &mut Automerge,
    author: &Author,
    summary: &str,
    f: impl FnOnce(&mut Transaction<'_>) -> Result<T, DocError>,
) -> Result<T, DocError> {
    doc.set_actor(author.actor.clone());
    let opts = CommitOptions::default()
        .with_message(message(&author.user, &author.node, summary))
        .with_time(secs(author.now));
    doc.transact_with(|_| opts, f)
        .map(|s| s.result)
        .map_err(|e| e.error)
}

/// A map to create in one batch (`init_root_from_hydrate` / `batch_create_object`).
#[derive(Default)]
pub(crate) struct HMap(HashMap<String, hydrate::Value>);

impl HMap {
    pub(crate) fn new() -> Self {
        HMap::default()
    }

    /// The root of a new document of `kind`.
    pub(crate) fn root(kind: DocKind) -> Self {
        HMap::new()
            .put("kind", kind.as_str())
            .put("schema", SCHEMA_VERSION)
    }

    pub(crate) fn put(mut self, key: &str, v: impl Into<ScalarValue>) -> Self {
        self.0
            .insert(key.to_string(), hydrate::Value::Scalar(v.into()));
        self
    }

    pub(crate) fn put_opt<V: Into<ScalarValue>>(self, key: &str, v: Option<V>) -> Self {
        match v {
            Some(v) => self.put(key, v),
            None => self,
        }
    }

    pub(crate) fn map(mut self, key: &str, m: HMap) -> Self {
        self.0.insert(key.to_string(), m.into_value());
        self
    }

    pub(crate) fn into_map(self) -> hydrate::Map {
        hydrate::Map::from(self.0)
    }

    pub(crate) fn into_value(self) -> hydrate::Value {
        hydrate::Value::Map(self.into_map())
    }
}

/// A value as a JSON string, for the text-scalar fields (addresses, configuration records).
pub(crate) fn to_json(v: &impl serde::Serialize) -> Result<String, DocError> {
    serde_json::to_string(v).map_err(|e| DocError::Mismatch(format!("cannot encode value: {e}")))
}

fn malformed(path: &str, reason: impl Into<String>) -> DocError {
    DocError::Malformed {
        path: path.to_string(),
        reason: reason.into(),
    }
}

pub(crate) fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}/{key}")
    }
}

/// How a scalar shows in a [`Conflict`].
#[derive(Clone, Copy)]
pub(crate) enum Render {
    Plain,
    Time,
    Json,
}

fn render(v: &ScalarValue, how: Render) -> serde_json::Value {
    use serde_json::Value as J;
    match (v, how) {
        (ScalarValue::Int(ms), Render::Time) => J::String(Timestamp::from_millis(*ms).to_rfc3339()),
        (ScalarValue::Str(s), Render::Json) => {
            serde_json::from_str(s).unwrap_or_else(|_| J::String(s.to_string()))
        }
        (ScalarValue::Str(s), _) => J::String(s.to_string()),
        (ScalarValue::Int(i), _) => J::from(*i),
        (ScalarValue::Uint(i), _) => J::from(*i),
        (ScalarValue::Boolean(b), _) => J::Bool(*b),
        (ScalarValue::Null, _) => J::Null,
        (other, _) => J::String(other.to_string()),
    }
}

/// Reads typed fields; collects conflicts unless quiet.
pub(crate) struct Rd<'a, D: ReadDoc> {
    pub(crate) doc: &'a D,
    pub(crate) conflicts: Vec<Conflict>,
    quiet: bool,
}

impl<'a, D: ReadDoc> Rd<'a, D> {
    pub(crate) fn new(doc: &'a D) -> Self {
        Rd {
            doc,
            conflicts: Vec::new(),
            quiet: false,
        }
    }

    /// A reader that records no conflicts (for the losing copies of a colliding entry).
    pub(crate) fn quiet(doc: &'a D) -> Self {
        Rd {
            doc,
            conflicts: Vec::new(),
            quiet: true,
        }
    }

    /// The map at `key` (winner if several).
    pub(crate) fn opt_map(
        &self,
        obj: &ObjId,
        prefix: &str,
        key: &str,
    ) -> Result<Option<ObjId>, DocError> {
        match self.doc.get(obj, key)? {
            None => Ok(None),
            Some((Value::Object(ObjType::Map), id)) => Ok(Some(id)),
            Some(_) => Err(malformed(&join(prefix, key), "expected a map")),
        }
    }

    pub(crate) fn map(&self, obj: &ObjId, prefix: &str, key: &str) -> Result<ObjId, DocError> {
        self.opt_map(obj, prefix, key)?
            .ok_or_else(|| malformed(&join(prefix, key), "missing"))
    }

    /// The entries of a collection map: each key with its map objects, the winner first (more
    /// than one only if two nodes created an entry under the same key).
    pub(crate) fn entries(
        &self,
        obj: &ObjId,
        path: &str,
    ) -> Result<Vec<(String, Vec<ObjId>)>, DocError> {
        let mut out = Vec::new();
        for key in self.doc.keys(obj) {
            let p = join(path, &key);
            let winner = match self.doc.get(obj, key.as_str())? {
                Some((Value::Object(ObjType::Map), id)) => id,
                Some(_) => return Err(malformed(&p, "expected a map")),
                None => continue,
            };
            let mut objs = vec![winner.clone()];
            for (v, id) in self.doc.get_all(obj, key.as_str())? {
                if matches!(v, Value::Object(ObjType::Map)) && id != winner {
                    objs.push(id);
                }
            }
            out.push((key, objs));
        }
        Ok(out)
    }

    /// The scalar at `key` (`None` if absent or null). With several distinct values, the winner
    /// (what `get` returns) is used and a conflict recorded.
    pub(crate) fn scalar(
        &mut self,
        obj: &ObjId,
        prefix: &str,
        key: &str,
        how: Render,
    ) -> Result<Option<ScalarValue>, DocError> {
        let all = self.doc.get_all(obj, key)?;
        let winner = match all.len() {
            0 => return Ok(None),
            1 => all.into_iter().next().map(|(v, _)| v),
            _ => {
                let winner = self.doc.get(obj, key)?.map(|(v, _)| v);
                if !self.quiet {
                    let mut values: Vec<serde_json::Value> = Vec::new();
                    let winner_scalar = winner.as_ref().and_then(|w| w.as_scalar().cloned());
                    let others = all.iter().filter_map(|(v, _)| v.as_scalar().cloned());
                    for s in winner_scalar.into_iter().chain(others) {
                        let j = render(&s, how);
                        if !values.contains(&j) {
                            values.push(j);
                        }
                    }
                    if values.len() > 1 {
                        self.conflicts.push(Conflict {
                            path: join(prefix, key),
                            values,
                        });
                    }
                }
                winner
            }
        };
        match winner {
            None => Ok(None),
            Some(Value::Scalar(s)) => match s.as_ref() {
                ScalarValue::Null => Ok(None),
                other => Ok(Some(other.clone())),
            },
            Some(Value::Object(_)) => Err(malformed(&join(prefix, key), "expected a scalar")),
        }
    }

    fn opt_str_as(
        &mut self,
        obj: &ObjId,
        prefix: &str,
        key: &str,
        how: Render,
    ) -> Result<Option<String>, DocError> {
        match self.scalar(obj, prefix, key, how)? {
            None => Ok(None),
            Some(ScalarValue::Str(s)) => Ok(Some(s.to_string())),
            Some(_) => Err(malformed(&join(prefix, key), "expected a string")),
        }
    }

    pub(crate) fn opt_str(
        &mut self,
        obj: &ObjId,
        prefix: &str,
        key: &str,
    ) -> Result<Option<String>, DocError> {
        self.opt_str_as(obj, prefix, key, Render::Plain)
    }

    pub(crate) fn str(&mut self, obj: &ObjId, prefix: &str, key: &str) -> Result<String, DocError> {
        self.opt_str(obj, prefix, key)?
            .ok_or_else(|| malformed(&join(prefix, key), "missing"))
    }

    /// A string field parsed as an id or code (anything that deserializes from a JSON string).
    pub(crate) fn opt_id<T: DeserializeOwned>(
        &mut self,
        obj: &ObjId,
        prefix: &str,
        key: &str,
    ) -> Result<Option<T>, DocError> {
        match self.opt_str(obj, prefix, key)? {
            None => Ok(None),
            Some(s) => parse_id(&s)
                .map(Some)
                .ok_or_else(|| malformed(&join(prefix, key), format!("invalid value {s:?}"))),
        }
    }

    pub(crate) fn id<T: DeserializeOwned>(
        &mut self,
        obj: &ObjId,
        prefix: &str,
        key: &str,
    ) -> Result<T, DocError> {
        self.opt_id(obj, prefix, key)?
            .ok_or_else(|| malformed(&join(prefix, key), "missing"))
    }

    pub(crate) fn opt_int(
        &mut self,
        obj: &ObjId,
        prefix: &str,
        key: &str,
        how: Render,
    ) -> Result<Option<i64>, DocError> {
        match self.scalar(obj, prefix, key, how)? {
            None => Ok(None),
            Some(ScalarValue::Int(i)) => Ok(Some(i)),
            Some(ScalarValue::Uint(u)) => i64::try_from(u)
                .map(Some)
                .map_err(|_| malformed(&join(prefix, key), "integer out of range")),
            Some(_) => Err(malformed(&join(prefix, key), "expected an integer")),
        }
    }

    pub(crate) fn int(&mut self, obj: &ObjId, prefix: &str, key: &str) -> Result<i64, DocError> {
        self.opt_int(obj, prefix, key, Render::Plain)?
            .ok_or_else(|| malformed(&join(prefix, key), "missing"))
    }

    pub(crate) fn opt_time(
        &mut self,
        obj: &ObjId,
        prefix: &str,
        key: &str,
    ) -> Result<Option<Timestamp>, DocError> {
        Ok(self
            .opt_int(obj, prefix, key, Render::Time)?
            .map(Timestamp::from_millis))
    }

    pub(crate) fn time(
        &mut self,
        obj: &ObjId,
        prefix: &str,
        key: &str,
    ) -> Result<Timestamp, DocError> {
        self.opt_time(obj, prefix, key)?
            .ok_or_else(|| malformed(&join(prefix, key), "missing"))
    }

    pub(crate) fn opt_decimal(
        &mut self,
        obj: &ObjId,
        prefix: &str,
        key: &str,
    ) -> Result<Option<Decimal>, DocError> {
        match self.opt_str(obj, prefix, key)? {
            None => Ok(None),
            Some(s) => Decimal::from_str(&s)
                .map(Some)
                .map_err(|_| malformed(&join(prefix, key), format!("not a decimal: {s:?}"))),
        }
    }

    pub(crate) fn decimal(
        &mut self,
        obj: &ObjId,
        prefix: &str,
        key: &str,
    ) -> Result<Decimal, DocError> {
        self.opt_decimal(obj, prefix, key)?
            .ok_or_else(|| malformed(&join(prefix, key), "missing"))
    }

    pub(crate) fn opt_bool(
        &mut self,
        obj: &ObjId,
        prefix: &str,
        key: &str,
    ) -> Result<Option<bool>, DocError> {
        match self.scalar(obj, prefix, key, Render::Plain)? {
            None => Ok(None),
            Some(ScalarValue::Boolean(b)) => Ok(Some(b)),
            Some(_) => Err(malformed(&join(prefix, key), "expected a boolean")),
        }
    }

    /// A JSON-text field (whole-value register).
    pub(crate) fn opt_json<T: DeserializeOwned>(
        &mut self,
        obj: &ObjId,
        prefix: &str,
        key: &str,
    ) -> Result<Option<T>, DocError> {
        match self.opt_str_as(obj, prefix, key, Render::Json)? {
            None => Ok(None),
            Some(s) => serde_json::from_str(&s)
                .map(Some)
                .map_err(|e| malformed(&join(prefix, key), format!("invalid JSON record: {e}"))),
        }
    }

    pub(crate) fn json<T: DeserializeOwned>(
        &mut self,
        obj: &ObjId,
        prefix: &str,
        key: &str,
    ) -> Result<T, DocError> {
        self.opt_json(obj, prefix, key)?
            .ok_or_else(|| malformed(&join(prefix, key), "missing"))
    }
}

/// Parses an id or code from its string form.
pub(crate) fn parse_id<T: DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

/// Parses a collection key, or reports the entry as malformed.
pub(crate) fn parse_key<T: DeserializeOwned>(path: &str, key: &str) -> Result<T, DocError> {
    parse_id(key).ok_or_else(|| malformed(&join(path, key), "invalid key"))
}

/// The kind stored in a document.
pub(crate) fn kind_of(doc: &impl ReadDoc) -> Result<DocKind, DocError> {
    let mut rd = Rd::quiet(doc);
    let s = rd.str(&ROOT, "", "kind")?;
    DocKind::parse(&s).ok_or_else(|| malformed("kind", format!("unknown kind {s:?}")))
}

/// Fails unless the document is of `expected` kind.
pub(crate) fn expect_kind(doc: &impl ReadDoc, expected: DocKind) -> Result<(), DocError> {
    let found = kind_of(doc)?;
    if found == expected {
        Ok(())
    } else {
        Err(DocError::WrongKind { expected, found })
    }
}

/// A code or id stored at the root.
pub(crate) fn root_code<T: DeserializeOwned>(doc: &impl ReadDoc, key: &str) -> Result<T, DocError> {
    Rd::quiet(doc).id(&ROOT, "", key)
}

/// The map object at a root key, inside a transaction or a document.
pub(crate) fn root_map(doc: &impl ReadDoc, key: &str) -> Result<ObjId, DocError> {
    Rd::quiet(doc).map(&ROOT, "", key)
}

/// The winning map object of a collection entry, if the entry exists.
pub(crate) fn entry(
    doc: &impl ReadDoc,
    coll: &ObjId,
    path: &str,
    key: &str,
) -> Result<Option<ObjId>, DocError> {
    Rd::quiet(doc).opt_map(coll, path, key)
}
