//! The customer search index, part of the read model: for every customer, one empty entry in
//! `idx_customer_search` per distinct 3-character gram of its lower-cased name, phone and email,
//! keyed gram length (1 byte) ++ gram (UTF-8) ++ customer id (16 bytes). The projector writes
//! these beside the customer's view ([`entries`]), so the store replaces them in the same atomic
//! write as the view (old grams of a changed name or phone go with it, after a local change or
//! a merge from a peer alike) and a read-model rebuild rebuilds them.
//!
//! A query `q` (already trimmed and lower-cased) of at least [`GRAM`] characters is in a field
//! only if every gram of `q` is a gram of that field, so the customers holding every gram of `q`
//! ([`candidates`]) are a superset of the matches, found without reading any customer; callers
//! then check each candidate's view for the exact "contains" match and the user's scope.
//! Entries of one gram are ordered by customer id, which is the order of the `customers` tree,
//! so candidates come in the order (and with the paging) of a scan. Shorter queries are not
//! indexed: callers scan.

use crate::error::NodeError;
use crate::store::{RmEntry, Store, TreeId};
use std::collections::BTreeSet;
use uuid::Uuid;

/// Characters per gram.
pub const GRAM: usize = 3;

/// The distinct grams of some lower-cased texts.
fn grams_of<'a>(texts: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for t in texts {
        let chars: Vec<char> = t.to_lowercase().chars().collect();
        for w in chars.windows(GRAM) {
            out.insert(w.iter().collect());
        }
    }
    out
}

/// The distinct grams of a customer's name, phone and email.
pub fn customer_grams(name: &str, phone: Option<&str>, email: Option<&str>) -> BTreeSet<String> {
    grams_of([Some(name), phone, email].into_iter().flatten())
}

/// The grams of a query (trimmed and lower-cased), or `None` when it is too short for the index.
pub fn query_grams(q: &str) -> Option<Vec<String>> {
    if q.chars().count() < GRAM {
        return None;
    }
    Some(grams_of([q]).into_iter().collect())
}

/// The key prefix of one gram: its length in bytes, then its bytes.
fn gram_prefix(gram: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + gram.len() + 16);
    // A gram is at most GRAM chars of at most 4 bytes each.
    k.push(gram.len() as u8);
    k.extend_from_slice(gram.as_bytes());
    k
}

/// The `idx_customer_search` key of a gram of a customer.
pub fn key(gram: &str, customer: &Uuid) -> Vec<u8> {
    let mut k = gram_prefix(gram);
    k.extend_from_slice(customer.as_bytes());
    k
}

/// The index entries of a customer.
pub fn entries(
    customer: &Uuid,
    name: &str,
    phone: Option<&str>,
    email: Option<&str>,
) -> Vec<RmEntry> {
    customer_grams(name, phone, email)
        .iter()
        .map(|g| RmEntry {
            tree: TreeId::IdxCustomerSearch,
            key: key(g, customer),
            value: Vec::new(),
        })
        .collect()
}

/// Entries read from every gram's list in turn, at most, to find the shortest list.
const PROBE_CAP: usize = 256;

/// The customer id at the end of an index key under `prefix`.
fn id_of(key: &[u8], prefix: &[u8]) -> Option<[u8; 16]> {
    key.strip_prefix(prefix)?.try_into().ok()
}

/// Calls `f` with every customer id holding all `grams`, ascending, from the first id whose
/// bytes are `>= from` (16 bytes at most; shorter is padded with zeros), until `f` returns
/// `false`. The gram lists are first read in turn, one entry of each at a time, until the
/// shortest ends; after [`PROBE_CAP`] entries each, the list whose last entry read lies
/// furthest (the sparsest there: ids are in creation order) stands for the shortest. That list
/// is then walked and each of its ids checked against the other grams by key (sparsest first),
/// so the work follows the rarest gram's entries (or the matches, when they are dense), not the
/// number of customers.
pub fn candidates(
    store: &dyn Store,
    grams: &[String],
    from: &[u8],
    mut f: impl FnMut(Uuid) -> Result<bool, NodeError>,
) -> Result<(), NodeError> {
    let mut start = [0u8; 16];
    let n = from.len().min(16);
    start[..n].copy_from_slice(&from[..n]);
    let prefixes: Vec<Vec<u8>> = grams.iter().map(|g| gram_prefix(g)).collect();
    if prefixes.is_empty() {
        return Ok(());
    }
    // The shortest list: read every list in turn until one ends.
    let mut iters: Vec<_> = prefixes
        .iter()
        .map(|p| {
            let mut s = p.clone();
            s.extend_from_slice(&start);
            store.iter_from(TreeId::IdxCustomerSearch, &s)
        })
        .collect();
    let mut last = vec![start; prefixes.len()];
    let mut shortest = None;
    'probe: for _ in 0..PROBE_CAP {
        for (i, it) in iters.iter_mut().enumerate() {
            let id = match it.next() {
                Some(kv) => id_of(&kv?.0, &prefixes[i]),
                None => None,
            };
            match id {
                Some(id) => last[i] = id,
                None => {
                    shortest = Some(i);
                    break 'probe;
                }
            }
        }
    }
    drop(iters);
    let shortest = match shortest {
        Some(i) => i,
        None => (0..last.len()).max_by_key(|i| last[*i]).unwrap_or(0),
    };
    let driver = &prefixes[shortest];
    // The other grams, sparsest first, so that most ids not in all lists fail at the first.
    let mut order: Vec<usize> = (0..prefixes.len()).filter(|i| *i != shortest).collect();
    order.sort_by(|a, b| last[*b].cmp(&last[*a]));
    let others: Vec<&Vec<u8>> = order.iter().map(|i| &prefixes[*i]).collect();
    let mut s = driver.clone();
    s.extend_from_slice(&start);
    let mut key = Vec::with_capacity(1 + 12 + 16);
    'walk: for kv in store.iter_from(TreeId::IdxCustomerSearch, &s) {
        let (k, _) = kv?;
        let Some(id) = id_of(&k, driver) else {
            return Ok(());
        };
        for other in &others {
            key.clear();
            key.extend_from_slice(other);
            key.extend_from_slice(&id);
            if store.get(TreeId::IdxCustomerSearch, &key)?.is_none() {
                continue 'walk;
            }
        }
        if !f(Uuid::from_bytes(id))? {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod store_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grams_are_lower_cased_distinct_windows_of_each_field() {
        let g = customer_grams("Ab Ab", Some("123"), None);
        let want: BTreeSet<String> = ["ab ", "b a", " ab", "123"]
            .into_iter()
            .map(String::from)
            .collect();
        assert_eq!(g, want);
        // Grams never span two fields.
        let g = customer_grams("xy", Some("z1"), Some("Ü2é"));
        assert_eq!(g.into_iter().collect::<Vec<_>>(), vec!["ü2é".to_string()]);
    }

    #[test]
    fn short_queries_are_not_indexed() {
        assert_eq!(query_grams("ab"), None);
        assert_eq!(query_grams("é"), None);
        assert_eq!(
            query_grams("abab"),
            Some(vec!["aba".to_string(), "bab".to_string()])
        );
    }
}
