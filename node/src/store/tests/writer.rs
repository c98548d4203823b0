//! The writer: acknowledgement after a durable flush, crashes, failing and panicking jobs, group
//! commit, the bounded document cache, and what jobs of one batch see.

use super::*;
use std::sync::Mutex;

/// A store wrapper that records which keys are durable, to check acknowledgement order.
struct Recording {
    inner: sled::SledStore,
    pending: Mutex<Vec<Vec<u8>>>,
    durable: Mutex<std::collections::HashSet<Vec<u8>>>,
}

impl Store for Recording {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, NodeError> {
        self.inner.get(tree, key)
    }
    fn iter_from(&self, tree: TreeId, start: &[u8]) -> KvIter<'_> {
        self.inner.iter_from(tree, start)
    }
    fn iter_prefix(&self, tree: TreeId, prefix: &[u8], reverse: bool) -> KvIter<'_> {
        self.inner.iter_prefix(tree, prefix, reverse)
    }
    fn last(&self, tree: TreeId) -> Result<Option<Kv>, NodeError> {
        self.inner.last(tree)
    }
    fn count(&self, tree: TreeId) -> Result<u64, NodeError> {
        self.inner.count(tree)
    }
    fn apply(&self, ops: &[Op]) -> Result<(), NodeError> {
        self.inner.apply(ops)?;
        let mut p = self.pending.lock().expect("lock");
        p.extend(
            ops.iter()
                .filter(|o| o.tree == TreeId::Docs)
                .map(|o| o.key.clone()),
        );
        Ok(())
    }
    fn clear(&self, tree: TreeId) -> Result<(), NodeError> {
        self.inner.clear(tree)
    }
    fn flush(&self) -> Result<(), NodeError> {
        let mut p = self.pending.lock().expect("lock");
        self.inner.flush()?;
        self.durable.lock().expect("lock").extend(p.drain(..));
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_only_after_flush_and_visible_after_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let rec = Arc::new(Recording {
        inner: sled::SledStore::open(dir.path(), 1 << 20).expect("open"),
        pending: Mutex::new(Vec::new()),
        durable: Mutex::new(Default::default()),
    });
    let writer = Writer::start(rec.clone(), &StoreOptions::default()).expect("writer");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..100 {
        let w = writer.clone();
        let rec = rec.clone();
        tasks.spawn(async move {
            let id = Uuid::new_v4();
            w.submit(put_job(id, format!("v{i}"))).await.expect("write");
            // At acknowledgement time the write must already be durable.
            assert!(
                rec.durable
                    .lock()
                    .expect("lock")
                    .contains(id.as_bytes().as_slice()),
                "acknowledged before flush"
            );
            id
        });
    }
    let mut ids = Vec::new();
    while let Some(r) = tasks.join_next().await {
        ids.push(r.expect("task"));
    }
    writer.shutdown().await.expect("shutdown");
    drop(writer);
    drop(rec);
    let storage = open(dir.path(), StoreOptions::default());
    for id in &ids {
        let (_, d) = storage.store().load_doc(*id).expect("read").expect("doc");
        assert!(read_field(&d, "v").is_some());
    }
    assert!(storage.verify().await.expect("verify").is_ok());
}

/// Child half of the crash test: writes until killed by `abort`, printing every acknowledged id.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var("SWITCHBOARD_STORE_CRASH_CHILD") else {
        return;
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async move {
        let opts = StoreOptions {
            projector: Some(projector()),
            ..StoreOptions::default()
        };
        let storage = open(Path::new(&dir), opts);
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Uuid>();
        for _ in 0..16 {
            let s = storage.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                loop {
                    let id = Uuid::new_v4();
                    if s.submit(put_job(id, "x".into())).await.is_ok() {
                        let _ = tx.send(id);
                    }
                }
            });
        }
        let mut n = 0;
        while let Some(id) = rx.recv().await {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "ACK {id}");
            let _ = out.flush();
            n += 1;
            if n == 400 {
                std::process::abort();
            }
        }
    });
}

#[test]
fn crash_loses_no_acknowledged_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let exe = std::env::current_exe().expect("exe");
    let out = std::process::Command::new(exe)
        .args([
            "store::tests::writer::crash_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("SWITCHBOARD_STORE_CRASH_CHILD", dir.path())
        .output()
        .expect("run child");
    assert!(!out.status.success(), "child should have aborted");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let acked: Vec<Uuid> = stdout
        .lines()
        .filter_map(|l| l.split_once("ACK ").map(|(_, id)| id))
        .map(|s| s.trim().parse().expect("uuid"))
        .collect();
    assert_eq!(acked.len(), 400, "child output: {stdout}");
    let opts = StoreOptions {
        projector: Some(projector()),
        ..StoreOptions::default()
    };
    let storage = open(dir.path(), opts);
    for id in &acked {
        assert!(
            storage.store().doc_record(*id).expect("read").is_some(),
            "acknowledged write {id} lost in the crash"
        );
    }
    let report = verify_store(storage.store());
    assert!(report.is_ok(), "{:?}", report.problems);
    // The read model was written atomically with the documents: nothing to rebuild.
    assert_eq!(storage.open_report().rebuilt_read_model, None);
    for id in &acked {
        assert!(storage
            .store()
            .rm_get(TreeId::OrderSummaries, id.as_bytes())
            .expect("read")
            .is_some());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_job_writes_nothing_and_leaves_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let opts = StoreOptions {
        projector: Some(projector()),
        ..StoreOptions::default()
    };
    let storage = open(dir.path(), opts);
    let (id, other) = (Uuid::new_v4(), Uuid::new_v4());
    let node = NodeId(Uuid::new_v4());
    storage
        .submit(put_job(id, "good".into()))
        .await
        .expect("first");
    let seq_before = storage.store().feed_seq().expect("seq");
    let res: Result<(), NodeError> = storage
        .submit(move |ctx: &mut WriteCtx<'_>| {
            let (m, mut d) = ctx.load_doc(id)?.expect("doc");
            d.transact::<_, _, automerge::AutomergeError>(|tx| {
                tx.put(ROOT, "v", "bad")?;
                Ok(())
            })
            .expect("edit");
            ctx.put_doc(id, m.clone(), &d)?;
            ctx.put_doc(other, m, &d)?;
            ctx.put_peer(&peer_config("hq", Some(node)))?;
            ctx.put_peer_state(&records::peer_checkpoint_key(&node), &PeerState::default())?;
            ctx.put_peer_heads(&node, &id, &d.get_heads())?;
            Err(NodeError::Config("refused by the job".into()))
        })
        .await;
    assert!(res.is_err());
    let s = storage.store();
    assert_eq!(s.feed_seq().expect("seq"), seq_before);
    assert_eq!(s.count(TreeId::Docs).expect("count"), 1);
    assert_eq!(s.count(TreeId::Feed).expect("count"), 1);
    assert_eq!(
        s.rm_get(TreeId::OrderSummaries, id.as_bytes())
            .expect("get"),
        Some(b"good".to_vec())
    );
    assert!(s
        .rm_get(TreeId::OrderSummaries, other.as_bytes())
        .expect("get")
        .is_none());
    assert_eq!(s.count(TreeId::IdxStatus).expect("count"), 1);
    assert!(s.peers().expect("peers").is_empty());
    assert_eq!(s.count(TreeId::PeerState).expect("count"), 0);
    assert_eq!(s.count(TreeId::PeerHeads).expect("count"), 0);
    // Inside a job, prefix scans see the job's own staged writes and deletes.
    let counts = storage
        .submit(move |ctx: &mut WriteCtx<'_>| {
            let prefix = records::peer_heads_prefix(&node);
            let heads = doc_with("a", "b").get_heads();
            ctx.put_peer_heads(&node, &Uuid::new_v4(), &heads)?;
            let one = ctx.scan_prefix(TreeId::PeerHeads, &prefix)?.len();
            ctx.put_peer_heads(&node, &Uuid::new_v4(), &heads)?;
            let two = ctx.scan_prefix(TreeId::PeerHeads, &prefix)?.len();
            ctx.forget_peer_heads(&node)?;
            let none = ctx.scan_prefix(TreeId::PeerHeads, &prefix)?.len();
            Ok::<_, NodeError>((one, two, none))
        })
        .await
        .expect("scan");
    assert_eq!(counts, (1, 2, 0));
    // No changed copy stays in the cache: the next jobs still see "good".
    let seen = storage
        .submit(move |ctx: &mut WriteCtx<'_>| {
            Ok::<_, NodeError>(ctx.load_doc(id)?.and_then(|(_, d)| read_field(&d, "v")))
        })
        .await
        .expect("read");
    assert_eq!(seen.as_deref(), Some("good"));
    // A panicking job writes nothing and the writer keeps going.
    let panicked: Result<(), NodeError> = storage
        .submit(|_ctx: &mut WriteCtx<'_>| -> Result<(), NodeError> { panic!("job bug") })
        .await;
    assert!(matches!(panicked, Err(NodeError::WriterClosed)));
    storage
        .submit(put_job(id, "after".into()))
        .await
        .expect("writer alive");
    assert!(storage.writer().stats().jobs_failed() >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_batches_concurrent_jobs() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let storage = open(dir.path(), StoreOptions::default());
    // Hold the writer in a gate job until 200 jobs are queued behind it.
    let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let gate = storage.submit(move |_ctx: &mut WriteCtx<'_>| {
        let _ = started_tx.send(());
        gate_rx.recv().map_err(|_| NodeError::WriterClosed)
    });
    let gate = tokio::spawn(gate);
    started_rx.await.expect("gate job started");
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let s = storage.clone();
        tasks.spawn(async move { s.submit(put_job(Uuid::new_v4(), format!("{i}"))).await });
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while storage.writer().queued() < 200 {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for 200 queued jobs"
        );
        tokio::task::yield_now().await;
    }
    let flushes_before = storage.writer().stats().flushes();
    gate_tx.send(()).expect("open gate");
    gate.await.expect("join").expect("gate");
    while let Some(r) = tasks.join_next().await {
        r.expect("join").expect("write");
    }
    let flushes = storage.writer().stats().flushes() - flushes_before;
    assert!(flushes >= 1);
    assert!(
        flushes < 10,
        "200 queued jobs took {flushes} flushes: no group commit"
    );
    assert_eq!(storage.store().count(TreeId::Docs).expect("count"), 200);
    assert!(
        storage
            .writer()
            .stats()
            .max_batch
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 100
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doc_cache_is_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let opts = StoreOptions {
        doc_cache: 4,
        ..StoreOptions::default()
    };
    let storage = open(dir.path(), opts);
    let ids: Vec<Uuid> = (0..50).map(|_| Uuid::new_v4()).collect();
    for id in &ids {
        storage
            .submit(put_job(*id, "v".into()))
            .await
            .expect("write");
    }
    let ids2 = ids.clone();
    let loaded = storage
        .submit(move |ctx: &mut WriteCtx<'_>| {
            let mut n = 0;
            for id in ids2 {
                if ctx.load_doc(id)?.is_some() {
                    n += 1;
                }
            }
            Ok::<_, NodeError>(n)
        })
        .await
        .expect("load");
    assert_eq!(loaded, 50);
    storage
        .submit(put_job(ids[0], "w".into()))
        .await
        .expect("write");
    assert!(storage.writer().stats().cached_docs() <= 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_of_one_batch_see_each_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let opts = StoreOptions {
        projector: Some(projector()),
        ..StoreOptions::default()
    };
    let storage = open(dir.path(), opts);
    let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let gate = tokio::spawn(storage.submit(move |_ctx: &mut WriteCtx<'_>| {
        let _ = started_tx.send(());
        gate_rx.recv().map_err(|_| NodeError::WriterClosed)
    }));
    started_rx.await.expect("gate started");
    let x = Uuid::new_v4();
    let status = records::rm_keys::status_prefix("first");
    let first = tokio::spawn(
        storage
            .submit(move |ctx: &mut WriteCtx<'_>| ctx.put_doc(x, meta(), &doc_with("v", "first"))),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while storage.writer().queued() < 1 {
        assert!(Instant::now() < deadline, "first job not queued");
        tokio::task::yield_now().await;
    }
    let second = tokio::spawn(storage.submit(move |ctx: &mut WriteCtx<'_>| {
        let seen = ctx.load_doc(x)?.and_then(|(_, d)| read_field(&d, "v"));
        let via_store = ctx
            .store()
            .iter_prefix(TreeId::IdxStatus, &status, false)
            .count();
        let last_feed = ctx.store().last(TreeId::Feed)?.map(|(k, _)| k);
        let docs = ctx.store().count(TreeId::Docs)?;
        Ok::<_, NodeError>((seen, via_store, last_feed, docs))
    }));
    while storage.writer().queued() < 2 {
        assert!(Instant::now() < deadline, "second job not queued");
        tokio::task::yield_now().await;
    }
    let flushes = storage.writer().stats().flushes();
    gate_tx.send(()).expect("open gate");
    gate.await.expect("join").expect("gate");
    first.await.expect("join").expect("first");
    let (seen, via_store, last_feed, docs) = second.await.expect("join").expect("second");
    assert_eq!(seen.as_deref(), Some("first"));
    assert_eq!(via_store, 1);
    assert_eq!(last_feed, Some(records::seq_key(1).to_vec()));
    assert_eq!(docs, 1);
    // One flush for the batch of the gate and both jobs.
    assert_eq!(storage.writer().stats().flushes() - flushes, 1);
    // Exclusive jobs see the committed engine and may write it.
    assert!(storage.verify().await.expect("verify").is_ok());
}

/// `durable_seq` starts at the feed seq found at open, moves only after a flush, and never
/// names a seq whose write is not yet durable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_seq_follows_flushes() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    {
        let storage = open(dir.path(), StoreOptions::default());
        for i in 0..3 {
            storage
                .submit(put_job(Uuid::new_v4(), format!("v{i}")))
                .await
                .expect("write");
        }
        storage.shutdown().await.expect("shutdown");
    }
    let rec = Arc::new(Recording {
        inner: sled::SledStore::open(dir.path(), 1 << 20).expect("open"),
        pending: Mutex::new(Vec::new()),
        durable: Mutex::new(Default::default()),
    });
    let writer = Writer::start(rec.clone(), &StoreOptions::default()).expect("writer");
    let mut durable = writer.durable_seq();
    assert_eq!(*durable.borrow_and_update(), 3, "what was there at open");

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let w = writer.clone();
        tasks.spawn(async move {
            let id = Uuid::new_v4();
            let seq = w.submit(put_job(id, format!("w{i}"))).await.expect("write");
            assert!(
                *w.durable_seq().borrow() >= seq,
                "acknowledged seq {seq} beyond durable_seq"
            );
            (id, seq)
        });
    }
    let watcher = {
        let rec = rec.clone();
        let mut durable = writer.durable_seq();
        tokio::spawn(async move {
            let mut seen = 3;
            while durable.changed().await.is_ok() {
                let d = *durable.borrow_and_update();
                assert!(d > seen, "durable_seq went from {seen} to {d}");
                seen = d;
                // Every document written at or before it is durable by now.
                let docs = rec.durable.lock().expect("lock").len() as u64;
                assert!(
                    docs + 3 >= d,
                    "durable_seq {d} with {docs} durable documents"
                );
            }
            seen
        })
    };
    let mut last = 0;
    while let Some(r) = tasks.join_next().await {
        last = last.max(r.expect("task").1);
    }
    assert_eq!(last, 53);
    durable.changed().await.expect("moved");
    writer.shutdown().await.expect("shutdown");
    drop(writer);
    assert_eq!(
        watcher.await.expect("watcher"),
        53,
        "ends at the last flush"
    );
}

/// The order a write leaves beside its document reaches the next job on that document only
/// while the document's heads are still those it was taken at; any other write drops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_state_is_handed_on_only_at_its_heads() {
    use crate::store::cache::OrderState;
    use switchboard_domain::order::{Order, Stamp};
    use switchboard_domain::{CallCenterId, CustomerId, OrderId, Timestamp, UserId};
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let storage = open(dir.path(), StoreOptions::default());
    let id = Uuid::new_v4();
    let order = Order::new(
        OrderId(id),
        CallCenterId::parse("north").expect("id"),
        CustomerId(Uuid::new_v4()),
        Stamp {
            at: Timestamp::parse("2026-12-07T06:00:00Z").expect("time"),
            by: UserId(Uuid::new_v4()),
        },
    );
    let state = |storage: &Storage| {
        storage.submit(move |ctx: &mut WriteCtx<'_>| {
            let (_, _, state) = ctx.load_order_doc(id)?.expect("doc");
            // Put back unchanged, state and all, for the next check.
            Ok::<_, NodeError>(state)
        })
    };
    let first = order.clone();
    storage
        .submit(move |ctx: &mut WriteCtx<'_>| {
            let doc = doc_with("v", "1");
            ctx.put_order_projected(id, meta(), doc, Vec::new(), first, Vec::new())
        })
        .await
        .expect("write");
    // The next job gets the order as it was written.
    let (got, conflicts) = state(&storage).await.expect("load").expect("handed on");
    assert_eq!(got, order);
    assert!(conflicts.is_empty());
    // It took the cached document out without putting it back: the next job loads the
    // document from the store, without a state.
    assert!(state(&storage).await.expect("load").is_none());
    // Written again with a state, then changed by a job that stores no state: dropped.
    let second = order.clone();
    storage
        .submit(move |ctx: &mut WriteCtx<'_>| {
            let (m, d, _) = ctx.load_order_doc(id)?.expect("doc");
            ctx.put_order_projected(id, m, d, Vec::new(), second, Vec::new())
        })
        .await
        .expect("write");
    storage
        .submit(put_job(id, "changed".into()))
        .await
        .expect("write");
    assert!(state(&storage).await.expect("load").is_none());
    // A state whose heads are no longer the document's is never handed on.
    let mut doc = doc_with("v", "1");
    let at = OrderState {
        heads: doc.get_heads(),
        order: order.clone(),
        conflicts: Vec::new(),
    };
    assert!(OrderState::current(Some(at.clone()), &doc).is_some());
    doc.transact::<_, _, automerge::AutomergeError>(|tx| {
        tx.put(ROOT, "v", "later")?;
        Ok(())
    })
    .expect("transact");
    assert!(OrderState::current(Some(at), &doc).is_none());
}
