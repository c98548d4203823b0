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

/// Entries read from each gram before choosing the order in which grams are intersected.
const PROBE: usize = 64;

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

/// The first customer id `>= from` holding `prefix`'s gram.
fn seek(store: &dyn Store, prefix: &[u8], from: &[u8; 16]) -> Result<Option<[u8; 16]>, NodeError> {
    let mut start = prefix.to_vec();
    start.extend_from_slice(from);
    match store.iter_from(TreeId::IdxCustomerSearch, &start).next() {
        None => Ok(None),
        Some(kv) => {
            let (k, _) = kv?;
            if !k.starts_with(prefix) {
                return Ok(None);
            }
            Ok(k[prefix.len()..].try_into().ok())
        }
    }
}

/// The id right after `id` in byte order, if any.
fn successor(mut id: [u8; 16]) -> Option<[u8; 16]> {
    for b in id.iter_mut().rev() {
        if *b == u8::MAX {
            *b = 0;
        } else {
            *b += 1;
            return Some(id);
        }
    }
    None
}

/// Calls `f` with every customer id holding all `grams`, ascending, from the first id whose
/// bytes are `>= from` (16 bytes at most; shorter is padded with zeros), until `f` returns
/// `false`. The lists are intersected by leapfrogging, rarest gram first, so the work follows
/// the rarest gram's entries, not the number of customers.
pub fn candidates(
    store: &dyn Store,
    grams: &[String],
    from: &[u8],
    mut f: impl FnMut(Uuid) -> Result<bool, NodeError>,
) -> Result<(), NodeError> {
    let mut start = [0u8; 16];
    let n = from.len().min(16);
    start[..n].copy_from_slice(&from[..n]);
    // Order the grams by how many entries they have (up to PROBE) after the start.
    let mut lists = Vec::with_capacity(grams.len());
    for g in grams {
        let prefix = gram_prefix(g);
        let mut s = prefix.clone();
        s.extend_from_slice(&start);
        let mut count = 0;
        for kv in store.iter_from(TreeId::IdxCustomerSearch, &s).take(PROBE) {
            let (k, _) = kv?;
            if !k.starts_with(&prefix) {
                break;
            }
            count += 1;
        }
        if count == 0 {
            return Ok(());
        }
        lists.push((count, prefix));
    }
    lists.sort();
    let Some(((_, driver), others)) = lists.split_first() else {
        return Ok(());
    };
    let mut cand = start;
    'next: loop {
        let Some(c) = seek(store, driver, &cand)? else {
            return Ok(());
        };
        cand = c;
        for (_, other) in others {
            match seek(store, other, &cand)? {
                None => return Ok(()),
                Some(x) if x == cand => {}
                Some(x) => {
                    cand = x;
                    continue 'next;
                }
            }
        }
        if !f(Uuid::from_bytes(cand))? {
            return Ok(());
        }
        match successor(cand) {
            Some(n) => cand = n,
            None => return Ok(()),
        }
    }
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

    #[test]
    fn successor_carries() {
        let mut id = [0u8; 16];
        id[15] = 0xff;
        let mut want = [0u8; 16];
        want[14] = 1;
        assert_eq!(successor(id), Some(want));
        assert_eq!(successor([0xff; 16]), None);
    }
}
