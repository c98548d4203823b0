//! The nesting depth of a document, measured without recursion.
//!
//! Reading a document into domain values hydrates it (`ReadDoc::hydrate`), which recurses once
//! per nested object, and so does dropping the hydrated value: a document nested a few hundred
//! thousand levels deep overflows the writer thread's stack and aborts the process (a stack
//! overflow is not a panic `catch_unwind` could stop). [`check_depth`] walks every object with an
//! explicit stack, conflicting values included (readers hydrate the losing copies of a colliding
//! entry too), and refuses a document deeper than the limit before anything reads it.

use super::DocError;
use automerge::{ObjId, ObjType, ReadDoc, Value, ValueRef, ROOT};

/// The deepest nesting a document may have: the root is depth 0 and each nested map, list or
/// text one more. The layouts of this crate go three levels deep (`lines/<id>/...`); the limit
/// leaves room for future layouts and keeps every recursive reader far from the end of a 2 MiB
/// thread stack.
pub const MAX_DEPTH: usize = 32;

/// Refuses a document nested deeper than `max` ([`DocError::TooDeep`]).
pub fn check_depth(doc: &impl ReadDoc, max: usize) -> Result<(), DocError> {
    let mut stack: Vec<(ObjId, ObjType, usize)> = vec![(ROOT, ObjType::Map, 0)];
    while let Some((obj, kind, depth)) = stack.pop() {
        let mut children: Vec<(ObjId, ObjType)> = Vec::new();
        match kind {
            ObjType::Map | ObjType::Table => {
                for item in doc.map_range(&obj, ..) {
                    if item.conflict {
                        for (v, id) in doc.get_all(&obj, item.key.as_ref())? {
                            if let Value::Object(t) = v {
                                children.push((id, t));
                            }
                        }
                    } else if let ValueRef::Object(t) = item.value {
                        children.push((item.id(), t));
                    }
                }
            }
            ObjType::List | ObjType::Text => {
                for item in doc.list_range(&obj, ..) {
                    if item.conflict {
                        for (v, id) in doc.get_all(&obj, item.index)? {
                            if let Value::Object(t) = v {
                                children.push((id, t));
                            }
                        }
                    } else if let ValueRef::Object(t) = item.value {
                        children.push((item.id(), t));
                    }
                }
            }
        }
        if !children.is_empty() && depth + 1 > max {
            return Err(DocError::TooDeep { max });
        }
        stack.extend(children.into_iter().map(|(id, t)| (id, t, depth + 1)));
    }
    Ok(())
}
