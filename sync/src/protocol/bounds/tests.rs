//! Tests of [`super::measure`]: real automerge bytes pass and are counted; inflation bombs, RLE
//! bombs, bundles and garbage are refused without inflating past the budget; and a replica's
//! `apply` refuses a bomb (or an over-nested document) whole, storing nothing.

use super::*;
use crate::doc::{DocError, DocKind, DocMeta};
use crate::protocol::mem::MemReplica;
use crate::protocol::merge::MergeError;
use crate::protocol::{ApplyBatch, DocPayload, NodeIdentity, Replica, ReplicaError, Role};
use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ObjType, ReadDoc, ROOT};
use std::io::Write as _;
use switchboard_domain::{CallCenterId, NodeId};
use uuid::Uuid;

const MIB: u64 = 1024 * 1024;

/// A document with `n` map entries of a few fields each (big enough for `save` to compress).
fn sample_doc(n: usize) -> Automerge {
    let mut doc = Automerge::new();
    doc.set_actor(ActorId::from(vec![1u8; 16]));
    let mut tx = doc.transaction();
    let lines = tx.put_object(ROOT, "lines", ObjType::Map).expect("map");
    for i in 0..n {
        let e = tx
            .put_object(&lines, format!("line-{i:06}"), ObjType::Map)
            .expect("entry");
        tx.put(&e, "sku", format!("SKU-{:05}", i % 97))
            .expect("sku");
        tx.put(&e, "qty", (i % 7) as i64).expect("qty");
    }
    tx.commit();
    doc
}

fn uleb(mut v: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

fn sleb(mut v: i64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        let done = (v == 0 && b & 0x40 == 0) || (v == -1 && b & 0x40 != 0);
        if done {
            out.push(b);
            return out;
        }
        out.push(b | 0x80);
    }
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).expect("deflate");
    e.finish().expect("deflate")
}

/// DEFLATE of `mib` MiB of zeros, streamed (the zeros never exist at once).
fn deflate_zeros(mib: u64) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; MIB as usize];
    for _ in 0..mib {
        e.write_all(&zeros).expect("deflate");
    }
    e.finish().expect("deflate")
}

/// A chunk of `kind` around `data` (the checksum is not checked by `measure`).
fn chunk(kind: u8, data: &[u8]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    out.extend([0u8; 4]);
    out.push(kind);
    out.extend(uleb(data.len() as u64));
    out.extend(data);
    out
}

/// The fixed fields of a change body (no deps, a 16-byte actor, no message, no other actors),
/// then the given op columns and their data, then `extra`.
fn change_body(cols: &[(u32, &[u8])], extra: &[u8]) -> Vec<u8> {
    let mut b = uleb(0);
    b.extend(uleb(16));
    b.extend([7u8; 16]);
    b.extend(uleb(1)); // seq
    b.extend(uleb(1)); // start op
    b.extend(uleb(0)); // time
    b.extend(uleb(0)); // message
    b.extend(uleb(0)); // other actors
    b.extend(uleb(cols.len() as u64));
    for (spec, data) in cols {
        b.extend(uleb(u64::from(*spec)));
        b.extend(uleb(data.len() as u64));
    }
    for (_, data) in cols {
        b.extend(*data);
    }
    b.extend(extra);
    b
}

/// A document chunk with one actor, no heads, no change columns and the given op columns.
fn document_body(op_cols: &[(u32, &[u8])]) -> Vec<u8> {
    let mut b = uleb(1);
    b.extend(uleb(16));
    b.extend([7u8; 16]);
    b.extend(uleb(0)); // heads
    b.extend(uleb(0)); // change columns
    b.extend(uleb(op_cols.len() as u64));
    for (spec, data) in op_cols {
        b.extend(uleb(u64::from(*spec)));
        b.extend(uleb(data.len() as u64));
    }
    for (_, data) in op_cols {
        b.extend(*data);
    }
    b
}

/// Column spec: id, type, deflate bit.
fn spec(id: u32, kind: u32, deflated: bool) -> u32 {
    (id << 4) | kind | if deflated { DEFLATE_BIT } else { 0 }
}

#[test]
fn real_saves_and_changes_pass_and_are_counted() {
    let doc = sample_doc(3000);
    let full = doc.save();
    let plain = doc.save_nocompress();
    assert!(
        full.len() < plain.len(),
        "save compresses some columns ({} vs {})",
        full.len(),
        plain.len()
    );
    let mut b = FrameBudget::default();
    measure(&full, &mut b).expect("a real save passes");
    // Every op is counted (3 per entry, plus the map), and the inflated size covers the
    // uncompressed form.
    assert!(b.rows >= 9001, "rows {}", b.rows);
    assert!(
        b.inflated_bytes >= plain.len() as u64 * 9 / 10,
        "{} inflated vs {} uncompressed",
        b.inflated_bytes,
        plain.len()
    );
    let mut b2 = FrameBudget::default();
    measure(&plain, &mut b2).expect("an uncompressed save passes");
    assert_eq!(b2.rows, b.rows, "the same document declares the same rows");

    // save_after: change chunks.
    let mut doc2 = doc.clone();
    let heads = doc2.get_heads();
    let mut tx = doc2.transaction();
    tx.put(ROOT, "note", "hello").expect("put");
    tx.commit();
    let after = doc2.save_after(&heads);
    let mut b3 = FrameBudget::default();
    measure(&after, &mut b3).expect("save_after passes");
    assert_eq!(b3.rows, 1);

    // A compressed change chunk (what `Change::bytes` gives for a big change).
    let mut change = doc.get_changes(&[]).into_iter().next().expect("a change");
    let compressed = change.bytes().to_vec();
    assert_eq!(compressed[8], 2, "a big change compresses");
    let mut b4 = FrameBudget::default();
    measure(&compressed, &mut b4).expect("a compressed change passes");
    assert!(b4.rows >= 9001, "rows {}", b4.rows);
    let mut loaded = Automerge::new();
    loaded
        .load_incremental(&compressed)
        .expect("automerge loads it");
    assert_eq!(loaded.get_heads(), doc.get_heads());

    // Budgets are sums over the frame: the same payload twice costs twice.
    let mut twice = FrameBudget::default();
    measure(&full, &mut twice).expect("once");
    measure(&full, &mut twice).expect("twice");
    assert_eq!(twice.rows, 2 * b.rows);
    assert_eq!(twice.inflated_bytes, 2 * b.inflated_bytes);
}

#[test]
fn budgets_are_exact() {
    let full = sample_doc(2000).save();
    let mut cost = FrameBudget::default();
    measure(&full, &mut cost).expect("measure");
    let mut at = FrameBudget::new(cost.inflated_bytes, cost.rows);
    measure(&full, &mut at).expect("exactly the budget passes");
    let mut under = FrameBudget::new(cost.inflated_bytes - 1, MAX_ROWS);
    assert_eq!(
        measure(&full, &mut under),
        Err(BoundsError::Inflated {
            limit: cost.inflated_bytes - 1
        })
    );
    let mut fewer = FrameBudget::new(MAX_INFLATED_BYTES, cost.rows - 1);
    assert!(matches!(
        measure(&full, &mut fewer),
        Err(BoundsError::Rows { .. })
    ));
}

/// A document column that inflates 256 MiB of zeros out of a quarter MiB: refused once the
/// default budget (128 MiB) is spent, never holding more than a buffer.
#[test]
fn a_deflate_bomb_in_a_document_column_is_refused() {
    let bomb = deflate_zeros(256);
    assert!(bomb.len() < 512 * 1024, "{}", bomb.len());
    let doc = chunk(0, &document_body(&[(spec(1, 7, true), &bomb)]));
    let mut b = FrameBudget::default();
    assert_eq!(
        measure(&doc, &mut b),
        Err(BoundsError::Inflated {
            limit: MAX_INFLATED_BYTES
        })
    );
    // Small budgets stop early as well.
    let mut small = FrameBudget::new(MIB, MAX_ROWS);
    assert_eq!(
        measure(&doc, &mut small),
        Err(BoundsError::Inflated { limit: MIB })
    );
}

#[test]
fn a_deflate_bomb_in_a_compressed_change_is_refused() {
    let body = change_body(&[], &vec![0u8; 64 * MIB as usize]);
    let c = chunk(2, &deflate(&body));
    let mut b = FrameBudget::new(8 * MIB, MAX_ROWS);
    assert_eq!(
        measure(&c, &mut b),
        Err(BoundsError::Inflated { limit: 8 * MIB })
    );
    // Under a budget it fits, it passes: the bomb is only a bomb for a budget it exceeds.
    let mut big = FrameBudget::new(100 * MIB, MAX_ROWS);
    measure(&c, &mut big).expect("fits");
    assert!(big.inflated_bytes >= 64 * MIB);
}

/// Ten bytes of RLE declare 2^40 operations: refused by the row budget.
#[test]
fn an_rle_bomb_is_refused() {
    let mut run = sleb(1 << 40);
    run.extend(uleb(0));
    let c = chunk(1, &change_body(&[(spec(1, 1, false), &run)], &[]));
    assert_eq!(
        measure(&c, &mut FrameBudget::default()),
        Err(BoundsError::Rows { limit: MAX_ROWS })
    );
    let d = chunk(0, &document_body(&[(spec(2, 3, false), &run)]));
    assert_eq!(
        measure(&d, &mut FrameBudget::default()),
        Err(BoundsError::Rows { limit: MAX_ROWS })
    );
    // Null runs and boolean runs count too.
    let mut nulls = sleb(0);
    nulls.extend(uleb(1 << 40));
    let c = chunk(1, &change_body(&[(spec(1, 2, false), &nulls)], &[]));
    assert!(matches!(
        measure(&c, &mut FrameBudget::default()),
        Err(BoundsError::Rows { .. })
    ));
    let bools = uleb(1 << 40);
    let c = chunk(1, &change_body(&[(spec(1, 4, false), &bools)], &[]));
    assert!(matches!(
        measure(&c, &mut FrameBudget::default()),
        Err(BoundsError::Rows { .. })
    ));
    // A literal run claiming 2^40 values with none behind it is malformed, found at once.
    let lit = sleb(-(1 << 40));
    let c = chunk(1, &change_body(&[(spec(1, 2, false), &lit)], &[]));
    assert!(matches!(
        measure(&c, &mut FrameBudget::default()),
        Err(BoundsError::Malformed(_))
    ));
}

#[test]
fn bundles_and_garbage_are_refused() {
    assert_eq!(
        measure(&chunk(3, b"whatever"), &mut FrameBudget::default()),
        Err(BoundsError::ChunkType(3))
    );
    assert_eq!(
        measure(&chunk(9, b""), &mut FrameBudget::default()),
        Err(BoundsError::ChunkType(9))
    );
    assert!(matches!(
        measure(b"not automerge at all", &mut FrameBudget::default()),
        Err(BoundsError::Malformed(_))
    ));
    let full = sample_doc(10).save();
    assert!(matches!(
        measure(&full[..full.len() - 3], &mut FrameBudget::default()),
        Err(BoundsError::Malformed(_))
    ));
    // A column longer than its chunk.
    let mut body = change_body(&[(spec(1, 2, false), &[2, 0])], &[]);
    let at = body.len() - 3;
    body[at] = 100;
    assert!(matches!(
        measure(&chunk(1, &body), &mut FrameBudget::default()),
        Err(BoundsError::Malformed(_))
    ));
    // An empty payload costs nothing.
    let mut b = FrameBudget::default();
    measure(&[], &mut b).expect("empty");
    assert_eq!((b.rows, b.inflated_bytes), (0, 0));
}

fn replica() -> MemReplica {
    MemReplica::new(
        NodeIdentity {
            node_id: NodeId(Uuid::from_u128(1)),
            role: Role::Hq,
            call_centers: Vec::new(),
            feed_epoch: Uuid::from_u128(2),
        },
        ActorId::from(vec![9u8; 16]),
    )
}

fn batch(docs: Vec<DocPayload>) -> ApplyBatch {
    ApplyBatch {
        peer: NodeId(Uuid::from_u128(3)),
        docs,
        learned: Vec::new(),
        checkpoint: None,
        peer_epoch: None,
        peer_role: Role::Hq,
        local_role: Role::Hq,
    }
}

fn customer_meta() -> DocMeta {
    DocMeta {
        kind: DocKind::Customer,
        call_center: Some(CallCenterId::parse("north").expect("cc")),
    }
}

/// A replica refuses the whole batch when one payload is a bomb, before loading any of them.
#[test]
fn apply_refuses_a_bomb_whole() {
    let mut r = replica();
    let good = sample_doc(5);
    let bomb = chunk(
        0,
        &document_body(&[(spec(1, 7, true), &deflate_zeros(200))]),
    );
    let docs = vec![
        DocPayload {
            doc: Uuid::from_u128(10),
            meta: customer_meta(),
            heads: good.get_heads(),
            changes: good.save(),
        },
        DocPayload {
            doc: Uuid::from_u128(11),
            meta: customer_meta(),
            heads: Vec::new(),
            changes: bomb,
        },
    ];
    match r.apply(batch(docs)) {
        Err(ReplicaError::Refused {
            doc,
            source: MergeError::Bounds(BoundsError::Inflated { .. }),
        }) => assert_eq!(doc, Uuid::from_u128(11)),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(r.is_empty(), "nothing stored");
}

/// A document nested far deeper than readers allow: refused with a clear error, on a thread
/// with the writer's 2 MiB stack, where hydrating it would overflow.
#[test]
fn an_over_nested_document_is_refused() {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(|| {
            let mut deep = Automerge::new();
            deep.set_actor(ActorId::from(vec![2u8; 16]));
            let mut tx = deep.transaction();
            // A valid order header, so that without the depth check the merge would go on to
            // read the order (hydrate it) and overflow the stack.
            tx.put(ROOT, "kind", "order").expect("kind");
            tx.put(ROOT, "schema", 1).expect("schema");
            tx.put(ROOT, "call_center", "north").expect("cc");
            let mut obj = ROOT;
            for _ in 0..50_000 {
                obj = tx.put_object(&obj, "x", ObjType::Map).expect("nest");
            }
            tx.commit();
            let bytes = deep.save();
            let mut r = replica();
            let docs = vec![DocPayload {
                doc: Uuid::from_u128(12),
                meta: DocMeta {
                    kind: DocKind::Order,
                    ..customer_meta()
                },
                heads: deep.get_heads(),
                changes: bytes,
            }];
            match r.apply(batch(docs)) {
                Err(ReplicaError::Refused {
                    source: MergeError::Doc(DocError::TooDeep { max }),
                    ..
                }) => assert_eq!(max, crate::doc::MAX_DEPTH),
                other => panic!("expected TooDeep, got {other:?}"),
            }
            assert!(r.is_empty(), "nothing stored");
        })
        .expect("spawn")
        .join()
        .expect("the check itself does not recurse");
}

#[test]
fn depth_is_measured_through_maps_lists_and_conflicts() {
    use crate::doc::check_depth;
    let mut doc = Automerge::new();
    doc.set_actor(ActorId::from(vec![3u8; 16]));
    let mut tx = doc.transaction();
    let a = tx.put_object(ROOT, "a", ObjType::Map).expect("a");
    let l = tx.put_object(&a, "l", ObjType::List).expect("l");
    let m = tx.insert_object(&l, 0, ObjType::Map).expect("m");
    tx.put(&m, "leaf", 1).expect("leaf");
    tx.commit();
    // root -> a -> l -> m: depth 3.
    check_depth(&doc, 3).expect("depth 3 is allowed at 3");
    assert!(matches!(
        check_depth(&doc, 2),
        Err(DocError::TooDeep { max: 2 })
    ));

    // A deeper object hidden in the losing side of a conflict still counts.
    let mut other = doc.fork();
    other.set_actor(ActorId::from(vec![4u8; 16]));
    let mut tx = doc.transaction();
    tx.put_object(ROOT, "c", ObjType::Map).expect("c1");
    tx.commit();
    let mut tx = other.transaction();
    let c = tx.put_object(ROOT, "c", ObjType::Map).expect("c2");
    let c1 = tx.put_object(&c, "d", ObjType::Map).expect("d");
    let c2 = tx.put_object(&c1, "e", ObjType::Map).expect("e");
    tx.put_object(&c2, "f", ObjType::Map).expect("f");
    tx.commit();
    doc.merge(&mut other).expect("merge");
    assert_eq!(doc.get_all(ROOT, "c").expect("all").len(), 2);
    check_depth(&doc, 4).expect("4 levels");
    assert!(check_depth(&doc, 3).is_err());
}
