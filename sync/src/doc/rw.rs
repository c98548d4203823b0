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
use switchboard_domain::order::{Note, Stamp};
use switchboard_domain::{NoteId, Timestamp};

/// The change message: who and where, and what the change did. A struct rather than a JSON map,
/// so the bytes do not depend on serde_json's features (continuity children need byte-identical
/// first changes on every node).
pub(crate) fn message(
    user: &impl serde::Serialize,
    node: &impl serde::Serialize,
    summary: &str,
) -> String {
    #[derive(serde::Serialize)]
    struct Message<'a, U, N> {
        by: &'a U,
        node: &'a N,
        summary: &'a str,
    }
    serde_json::to_string(&Message {
        by: user,
        node,
        summary,
    })
    .unwrap_or_else(|_| summary.to_string())
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

/// A map of the hydrated document and where it sits (the keys from the root), so a field
/// flagged as conflicted can be looked up again with `get_all`.
pub(crate) struct Node<'h> {
    map: &'h hydrate::Map,
    path: Vec<String>,
}

impl<'h> Node<'h> {
    /// The root of a hydrated document.
    pub(crate) fn root(map: &'h hydrate::Map) -> Self {
        Node {
            map,
            path: Vec::new(),
        }
    }

    /// The path of a field of this map, e.g. `lines/<id>/quantity`.
    pub(crate) fn path_of(&self, key: &str) -> String {
        let mut p = self.path.join("/");
        if !p.is_empty() {
            p.push('/');
        }
        p.push_str(key);
        p
    }

    /// The keys of this map.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &'h String> {
        self.map.iter().map(|(k, _)| k)
    }

    fn child(&self, map: &'h hydrate::Map, key: &str) -> Node<'h> {
        let mut path = self.path.clone();
        path.push(key.to_string());
        Node { map, path }
    }
}

/// The whole document as plain values, read in one pass (much cheaper than a `get` per field).
pub(crate) fn hydrate_root(doc: &impl ReadDoc) -> Result<hydrate::Map, DocError> {
    match doc.hydrate(ROOT, None)? {
        hydrate::Value::Map(m) => Ok(m),
        _ => Err(malformed("", "the root is not a map")),
    }
}

/// An entry of a collection map: its key, the winning copy, and the losing copies (only when two
/// nodes created an entry under the same key).
pub(crate) type Entry<'h> = (String, Node<'h>, Vec<hydrate::Map>);

/// Reads typed fields from a hydrated document; collects conflicts unless quiet.
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

    /// The map at `key` (the winner if several).
    pub(crate) fn opt_map<'h>(
        &self,
        n: &Node<'h>,
        key: &str,
    ) -> Result<Option<Node<'h>>, DocError> {
        match n.map.get(key) {
            None => Ok(None),
            Some(hydrate::Value::Map(m)) => Ok(Some(n.child(m, key))),
            Some(_) => Err(malformed(&n.path_of(key), "expected a map")),
        }
    }

    pub(crate) fn map<'h>(&self, n: &Node<'h>, key: &str) -> Result<Node<'h>, DocError> {
        self.opt_map(n, key)?
            .ok_or_else(|| malformed(&n.path_of(key), "missing"))
    }

    /// The automerge object of a node, found again by its path (winners all the way).
    fn object_of(&self, n: &Node<'_>) -> Result<ObjId, DocError> {
        let mut obj = ROOT;
        for k in &n.path {
            obj = match self.doc.get(&obj, k.as_str())? {
                Some((Value::Object(_), id)) => id,
                _ => return Err(malformed(&n.path.join("/"), "vanished while reading")),
            };
        }
        Ok(obj)
    }

    /// The entries of a collection map, in key order.
    pub(crate) fn entries<'h>(&self, n: &Node<'h>) -> Result<Vec<Entry<'h>>, DocError> {
        let mut keys: Vec<(&String, &'h hydrate::MapValue)> = n.map.iter().collect();
        keys.sort_by(|a, b| a.0.cmp(b.0));
        let mut out = Vec::with_capacity(keys.len());
        for (key, mv) in keys {
            let hydrate::Value::Map(m) = &mv.value else {
                return Err(malformed(&n.path_of(key), "expected a map"));
            };
            let mut losers = Vec::new();
            if mv.conflict {
                let coll = self.object_of(n)?;
                let winner = self.doc.get(&coll, key.as_str())?.map(|(_, id)| id);
                for (v, id) in self.doc.get_all(&coll, key.as_str())? {
                    if matches!(v, Value::Object(ObjType::Map)) && Some(&id) != winner.as_ref() {
                        if let hydrate::Value::Map(l) = self.doc.hydrate(&id, None)? {
                            losers.push(l);
                        }
                    }
                }
            }
            out.push((key.clone(), n.child(m, key), losers));
        }
        Ok(out)
    }

    /// The scalar at `key` (`None` if absent or null). With several distinct values, the winner
    /// (what `get` returns) is used and a conflict recorded.
    pub(crate) fn scalar(
        &mut self,
        n: &Node<'_>,
        key: &str,
        how: Render,
    ) -> Result<Option<ScalarValue>, DocError> {
        let Some(mv) = n.map.get_key_value(key).map(|(_, mv)| mv) else {
            return Ok(None);
        };
        let hydrate::Value::Scalar(winner) = &mv.value else {
            return Err(malformed(&n.path_of(key), "expected a scalar"));
        };
        if mv.conflict && !self.quiet {
            let obj = self.object_of(n)?;
            let mut values = vec![render(winner, how)];
            for (v, _) in self.doc.get_all(&obj, key)? {
                if let Some(s) = v.as_scalar() {
                    let j = render(s, how);
                    if !values.contains(&j) {
                        values.push(j);
                    }
                }
            }
            if values.len() > 1 {
                self.conflicts.push(Conflict {
                    path: n.path_of(key),
                    values,
                });
            }
        }
        match winner {
            ScalarValue::Null => Ok(None),
            other => Ok(Some(other.clone())),
        }
    }

    fn opt_str_as(
        &mut self,
        n: &Node<'_>,
        key: &str,
        how: Render,
    ) -> Result<Option<String>, DocError> {
        match self.scalar(n, key, how)? {
            None => Ok(None),
            Some(ScalarValue::Str(s)) => Ok(Some(s.to_string())),
            Some(_) => Err(malformed(&n.path_of(key), "expected a string")),
        }
    }

    pub(crate) fn opt_str(&mut self, n: &Node<'_>, key: &str) -> Result<Option<String>, DocError> {
        self.opt_str_as(n, key, Render::Plain)
    }

    pub(crate) fn str(&mut self, n: &Node<'_>, key: &str) -> Result<String, DocError> {
        self.opt_str(n, key)?
            .ok_or_else(|| malformed(&n.path_of(key), "missing"))
    }

    /// A string field parsed as an id or code (anything that deserializes from a JSON string).
    pub(crate) fn opt_id<T: DeserializeOwned>(
        &mut self,
        n: &Node<'_>,
        key: &str,
    ) -> Result<Option<T>, DocError> {
        match self.opt_str(n, key)? {
            None => Ok(None),
            Some(s) => parse_id(&s)
                .map(Some)
                .ok_or_else(|| malformed(&n.path_of(key), format!("invalid value {s:?}"))),
        }
    }

    pub(crate) fn id<T: DeserializeOwned>(
        &mut self,
        n: &Node<'_>,
        key: &str,
    ) -> Result<T, DocError> {
        self.opt_id(n, key)?
            .ok_or_else(|| malformed(&n.path_of(key), "missing"))
    }

    pub(crate) fn opt_int(
        &mut self,
        n: &Node<'_>,
        key: &str,
        how: Render,
    ) -> Result<Option<i64>, DocError> {
        match self.scalar(n, key, how)? {
            None => Ok(None),
            Some(ScalarValue::Int(i)) => Ok(Some(i)),
            Some(ScalarValue::Uint(u)) => i64::try_from(u)
                .map(Some)
                .map_err(|_| malformed(&n.path_of(key), "integer out of range")),
            Some(_) => Err(malformed(&n.path_of(key), "expected an integer")),
        }
    }

    pub(crate) fn int(&mut self, n: &Node<'_>, key: &str) -> Result<i64, DocError> {
        self.opt_int(n, key, Render::Plain)?
            .ok_or_else(|| malformed(&n.path_of(key), "missing"))
    }

    pub(crate) fn opt_time(
        &mut self,
        n: &Node<'_>,
        key: &str,
    ) -> Result<Option<Timestamp>, DocError> {
        Ok(self
            .opt_int(n, key, Render::Time)?
            .map(Timestamp::from_millis))
    }

    pub(crate) fn time(&mut self, n: &Node<'_>, key: &str) -> Result<Timestamp, DocError> {
        self.opt_time(n, key)?
            .ok_or_else(|| malformed(&n.path_of(key), "missing"))
    }

    pub(crate) fn opt_decimal(
        &mut self,
        n: &Node<'_>,
        key: &str,
    ) -> Result<Option<Decimal>, DocError> {
        match self.opt_str(n, key)? {
            None => Ok(None),
            Some(s) => Decimal::from_str(&s)
                .map(Some)
                .map_err(|_| malformed(&n.path_of(key), format!("not a decimal: {s:?}"))),
        }
    }

    pub(crate) fn decimal(&mut self, n: &Node<'_>, key: &str) -> Result<Decimal, DocError> {
        self.opt_decimal(n, key)?
            .ok_or_else(|| malformed(&n.path_of(key), "missing"))
    }

    pub(crate) fn opt_bool(&mut self, n: &Node<'_>, key: &str) -> Result<Option<bool>, DocError> {
        match self.scalar(n, key, Render::Plain)? {
            None => Ok(None),
            Some(ScalarValue::Boolean(b)) => Ok(Some(b)),
            Some(_) => Err(malformed(&n.path_of(key), "expected a boolean")),
        }
    }

    /// A JSON-text field (whole-value register).
    pub(crate) fn opt_json<T: DeserializeOwned>(
        &mut self,
        n: &Node<'_>,
        key: &str,
    ) -> Result<Option<T>, DocError> {
        match self.opt_str_as(n, key, Render::Json)? {
            None => Ok(None),
            Some(s) => serde_json::from_str(&s)
                .map(Some)
                .map_err(|e| malformed(&n.path_of(key), format!("invalid JSON record: {e}"))),
        }
    }

    pub(crate) fn json<T: DeserializeOwned>(
        &mut self,
        n: &Node<'_>,
        key: &str,
    ) -> Result<T, DocError> {
        self.opt_json(n, key)?
            .ok_or_else(|| malformed(&n.path_of(key), "missing"))
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
    let s = match doc.get(ROOT, "kind")? {
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Str(s) => s.to_string(),
            _ => return Err(malformed("kind", "expected a string")),
        },
        Some(_) => return Err(malformed("kind", "expected a string")),
        None => return Err(malformed("kind", "missing")),
    };
    DocKind::parse(&s).ok_or_else(|| malformed("kind", format!("unknown kind {s:?}")))
}

/// Fails unless the document is of `expected` kind, in a layout version this code knows.
pub(crate) fn expect_kind(doc: &impl ReadDoc, expected: DocKind) -> Result<(), DocError> {
    let found = kind_of(doc)?;
    if found != expected {
        return Err(DocError::WrongKind { expected, found });
    }
    match doc.get(ROOT, "schema")? {
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Int(v) if (1..=SCHEMA_VERSION).contains(v) => Ok(()),
            other => Err(malformed(
                "schema",
                format!("unsupported layout version {other}"),
            )),
        },
        Some(_) => Err(malformed("schema", "expected an integer")),
        None => Err(malformed("schema", "missing")),
    }
}

/// A code or id stored at the root.
pub(crate) fn root_code<T: DeserializeOwned>(doc: &impl ReadDoc, key: &str) -> Result<T, DocError> {
    match doc.get(ROOT, key)? {
        Some((Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Str(s) => {
                parse_id(s).ok_or_else(|| malformed(key, format!("invalid value {s:?}")))
            }
            _ => Err(malformed(key, "expected a string")),
        },
        Some(_) => Err(malformed(key, "expected a string")),
        None => Err(malformed(key, "missing")),
    }
}

/// The map object at a collection key of `obj` (the winner if several), if any.
pub(crate) fn entry(
    doc: &impl ReadDoc,
    obj: &ObjId,
    path: &str,
    key: &str,
) -> Result<Option<ObjId>, DocError> {
    match doc.get(obj, key)? {
        None => Ok(None),
        Some((Value::Object(ObjType::Map), id)) => Ok(Some(id)),
        Some(_) => Err(malformed(&join(path, key), "expected a map")),
    }
}

/// The map object at a root key.
pub(crate) fn root_map(doc: &impl ReadDoc, key: &str) -> Result<ObjId, DocError> {
    entry(doc, &ROOT, "", key)?.ok_or_else(|| malformed(key, "missing"))
}

/// A stamp stored as `<prefix>_at` / `<prefix>_by`.
pub(crate) fn read_stamp<D: ReadDoc>(
    rd: &mut Rd<'_, D>,
    n: &Node<'_>,
    prefix: &str,
) -> Result<Stamp, DocError> {
    Ok(Stamp {
        at: rd.time(n, &format!("{prefix}_at"))?,
        by: rd.id(n, &format!("{prefix}_by"))?,
    })
}

/// A note entry (orders and customers store notes alike).
pub(crate) fn read_note<D: ReadDoc>(
    rd: &mut Rd<'_, D>,
    n: &Node<'_>,
    id: NoteId,
) -> Result<Note, DocError> {
    Ok(Note {
        id,
        added: read_stamp(rd, n, "added")?,
        text: rd.str(n, "text")?,
    })
}
