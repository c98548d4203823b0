//! Documents and the change feed: one feed entry per document, per-kind counters, increments
//! and compaction.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feed_has_one_entry_per_doc_and_scans_since() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let storage = open(dir.path(), StoreOptions::default());
    let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    for (id, v) in [(a, "1"), (b, "1"), (a, "2"), (c, "1"), (a, "3")] {
        storage.submit(put_job(id, v.into())).await.expect("write");
    }
    let s = storage.store();
    assert_eq!(s.feed_seq().expect("seq"), 5);
    let all = s.feed_since(0, 100).expect("feed");
    let order: Vec<(u64, Uuid)> = all.iter().map(|e| (e.seq, e.doc)).collect();
    assert_eq!(order, vec![(2, b), (4, c), (5, a)]);
    let since = s.feed_since(2, 100).expect("feed");
    assert_eq!(since.iter().map(|e| e.doc).collect::<Vec<_>>(), vec![c, a]);
    assert_eq!(s.feed_since(0, 1).expect("feed").len(), 1);
    assert!(s.feed_since(5, 100).expect("feed").is_empty());
    assert_eq!(s.doc_record(a).expect("rec").expect("a").seq, 5);
    // Two puts of one doc inside one job still leave one entry.
    storage
        .submit(move |ctx: &mut WriteCtx<'_>| {
            let d = doc_with("v", "x");
            ctx.put_doc(b, meta(), &d)?;
            ctx.put_doc(b, meta(), &d)
        })
        .await
        .expect("write");
    assert_eq!(s.count(TreeId::Feed).expect("count"), 3);
    assert_eq!(s.doc_counts().expect("counts"), vec![(DocKind::Order, 3)]);
    // A doc changing kind moves between counters.
    storage
        .submit(move |ctx: &mut WriteCtx<'_>| {
            let m = DocMeta {
                kind: DocKind::Customer,
                call_center: None,
            };
            ctx.put_doc(c, m, &doc_with("v", "y"))
        })
        .await
        .expect("write");
    let mut counts = s.doc_counts().expect("counts");
    counts.sort();
    assert_eq!(counts, vec![(DocKind::Order, 2), (DocKind::Customer, 1)]);
    assert!(verify_store(s).is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn increments_are_stored_and_compacted() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let storage = open(dir.path(), StoreOptions::default());
    let id = Uuid::new_v4();
    let mut max_incs = 0;
    for i in 0..100 {
        storage
            .submit(put_job(id, format!("v{i}")))
            .await
            .expect("write");
        let rec = storage.store().doc_record(id).expect("read").expect("rec");
        max_incs = max_incs.max(rec.increments.len());
        let (_, d) = storage.store().load_doc(id).expect("load").expect("doc");
        assert_eq!(read_field(&d, "v"), Some(format!("v{i}")));
        assert_eq!(d.get_heads(), rec.change_hashes());
    }
    assert!(max_incs >= 2, "no increments were stored");
    assert!(max_incs <= records::MAX_INCREMENTS);
    // A version that does not descend from the stored one is stored whole.
    storage
        .submit(move |ctx: &mut WriteCtx<'_>| ctx.put_doc(id, meta(), &doc_with("other", "x")))
        .await
        .expect("write");
    let rec = storage.store().doc_record(id).expect("read").expect("rec");
    assert!(rec.increments.is_empty());
    let (_, d) = storage.store().load_doc(id).expect("load").expect("doc");
    assert_eq!(read_field(&d, "other").as_deref(), Some("x"));
    assert_eq!(read_field(&d, "v"), None);
    assert!(storage.verify().await.expect("verify").is_ok());
}

#[test]
fn a_record_loads_the_same_in_one_pass_as_in_turn() {
    // A snapshot and increments as the writer stores them (one `save_after` per write).
    let mut doc = doc_with("a", "0");
    let bytes = doc.save();
    let mut increments = Vec::new();
    for i in 1..9 {
        let before = doc.get_heads();
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(ROOT, "a", i.to_string())?;
            tx.put(ROOT, format!("k{i}"), "v")?;
            Ok(())
        })
        .expect("transact");
        increments.push(doc.save_after(&before));
    }
    let rec = records::DocRecord {
        meta: meta(),
        seq: 1,
        heads: doc.get_heads().iter().map(|h| h.0).collect(),
        bytes,
        increments,
    };
    let id = Uuid::from_u128(7);
    let one = rec.load(id).expect("one pass");
    let in_turn = rec.load_in_turn(id).expect("in turn");
    assert_eq!(one.get_heads(), doc.get_heads());
    assert_eq!(in_turn.get_heads(), doc.get_heads());
    assert_eq!(one.save(), in_turn.save());
    assert_eq!(read_field(&one, "a").as_deref(), Some("8"));
    // A damaged increment: the one pass ends where applying them in turn ends (automerge skips
    // a truncated chunk, and the changes after it wait for the one lost).
    let mut broken = rec.clone();
    broken.increments[3] = vec![0x85, 0x6f, 0x4a, 0x83, 1, 2, 3];
    let heads =
        |r: Result<Automerge, NodeError>| r.map(|d| d.get_heads()).map_err(|e| e.to_string());
    assert_eq!(heads(broken.load(id)), heads(broken.load_in_turn(id)));
}
