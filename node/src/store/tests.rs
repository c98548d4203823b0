//! Store and writer tests (real sled stores in temp dirs).

use super::*;
use crate::identity::init_data_dir;
use automerge::transaction::Transactable;
use automerge::{ReadDoc, ROOT};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use switchboard_sync::protocol::Role;

fn meta() -> DocMeta {
    DocMeta {
        kind: DocKind::Order,
        call_center: None,
    }
}

fn doc_with(field: &str, value: &str) -> Automerge {
    let mut d = Automerge::new();
    d.transact::<_, _, automerge::AutomergeError>(|tx| {
        tx.put(ROOT, field, value)?;
        Ok(())
    })
    .expect("transact");
    d
}

fn read_field(d: &Automerge, field: &str) -> Option<String> {
    d.get(ROOT, field)
        .ok()
        .flatten()
        .and_then(|(v, _)| v.into_string().ok())
}

fn init(dir: &Path) {
    init_data_dir(dir, "test-node", Role::Hq, &[], false).expect("init");
}

fn open(dir: &Path, opts: StoreOptions) -> Storage {
    Storage::open(dir, opts).expect("open")
}

fn put_job(
    id: Uuid,
    value: String,
) -> impl FnOnce(&mut WriteCtx<'_>) -> Result<u64, NodeError> + Send + 'static {
    move |ctx: &mut WriteCtx<'_>| {
        let mut doc = match ctx.load_doc(id)? {
            Some((_, d)) => d,
            None => Automerge::new(),
        };
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(ROOT, "v", value.as_str())?;
            Ok(())
        })
        .map_err(|e| NodeError::Document {
            doc: id,
            reason: e.error.to_string(),
        })?;
        ctx.put_doc(id, meta(), &doc)
    }
}

/// Polls `cond` until it holds or the deadline passes.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

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
            "store::tests::crash_child",
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
    let storage = open(dir.path(), StoreOptions::default());
    let id = Uuid::new_v4();
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
            ctx.put_doc(Uuid::new_v4(), m, &d)?;
            ctx.rm_put(TreeId::OrderSummaries, b"k", b"v")?;
            ctx.put_user(
                "hash",
                &UserEntry {
                    user: switchboard_domain::config::User {
                        id: switchboard_domain::UserId(Uuid::new_v4()),
                        name: "x".into(),
                        role: switchboard_domain::config::Role::Agent,
                        call_center: None,
                    },
                    origin: UserOrigin::Local,
                },
            )?;
            Err(NodeError::Config("refused by the job".into()))
        })
        .await;
    assert!(res.is_err());
    let s = storage.store();
    assert_eq!(s.feed_seq().expect("seq"), seq_before);
    assert_eq!(s.count(TreeId::Docs).expect("count"), 1);
    assert_eq!(s.count(TreeId::Feed).expect("count"), 1);
    assert!(s
        .rm_get(TreeId::OrderSummaries, b"k")
        .expect("get")
        .is_none());
    assert!(s.user_by_token_hash("hash").expect("get").is_none());
    // Inside a job, prefix scans see the job's own staged writes.
    let counts = storage
        .submit(|ctx: &mut WriteCtx<'_>| {
            let a = records::rm_keys::coupon("SAVE10", &Uuid::new_v4());
            let b = records::rm_keys::coupon("SAVE10", &Uuid::new_v4());
            ctx.rm_put(TreeId::IdxCoupon, &a, b"t")?;
            let prefix = records::rm_keys::status_prefix("SAVE10");
            let one = ctx.count_prefix(TreeId::IdxCoupon, &prefix)?;
            ctx.rm_put(TreeId::IdxCoupon, &b, b"t")?;
            let two = ctx.count_prefix(TreeId::IdxCoupon, &prefix)?;
            ctx.rm_delete(TreeId::IdxCoupon, &a)?;
            let back = ctx.count_prefix(TreeId::IdxCoupon, &prefix)?;
            Ok::<_, NodeError>((one, two, back))
        })
        .await
        .expect("scan");
    assert_eq!(counts, (1, 2, 1));
    // No changed copy stays in the cache: the next jobs still see "good".
    let seen = storage
        .submit(move |ctx: &mut WriteCtx<'_>| {
            let peeked = ctx.with_doc(id, |_, d| read_field(d, "v"))?.flatten();
            let loaded = ctx.load_doc(id)?.and_then(|(_, d)| read_field(&d, "v"));
            Ok::<_, NodeError>((peeked, loaded))
        })
        .await
        .expect("read");
    assert_eq!(seen.0.as_deref(), Some("good"));
    assert_eq!(seen.1.as_deref(), Some("good"));
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

#[test]
fn second_opener_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let _storage = open(dir.path(), StoreOptions::default());
    let err = Storage::open(dir.path(), StoreOptions::default())
        .err()
        .expect("second open must fail");
    assert!(matches!(err, NodeError::DataDirInUse(_)));
    assert!(err
        .to_string()
        .contains("data dir in use by a running node"));
    assert!(matches!(
        crate::store::verify(dir.path()),
        Err(NodeError::DataDirInUse(_))
    ));
}

#[test]
fn uninitialised_dir_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert!(matches!(
        Storage::open(dir.path(), StoreOptions::default()),
        Err(NodeError::NotInitialized(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_opens_with_fresh_actor_and_epoch() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let storage = open(dir.path(), StoreOptions::default());
    let ids: Vec<Uuid> = (0..10).map(|_| Uuid::new_v4()).collect();
    for id in &ids {
        storage
            .submit(put_job(*id, "v".into()))
            .await
            .expect("write");
    }
    let original = storage.identity().expect("identity");
    let out = tempfile::tempdir().expect("tempdir");
    let target = out.path().join("backup");
    let copied = storage.backup(target.clone()).await.expect("backup");
    assert_eq!(copied, 10);
    // A second backup into a non-empty dir is refused.
    assert!(storage.backup(target.clone()).await.is_err());

    let restored = open(&target, StoreOptions::default());
    assert!(restored.open_report().took_fresh_actor);
    let id = restored.identity().expect("identity");
    assert_eq!(id.node_id, original.node_id);
    assert_ne!(id.actor, original.actor);
    assert_ne!(id.feed_epoch, original.feed_epoch);
    for d in &ids {
        assert!(restored.store().doc_record(*d).expect("read").is_some());
    }
    assert!(restored.verify().await.expect("verify").is_ok());
    restored.shutdown().await.expect("shutdown");
    drop(restored);
    let again = open(&target, StoreOptions::default());
    assert!(!again.open_report().took_fresh_actor);
    assert_eq!(again.identity().expect("identity").actor, id.actor);
}

fn damaged_store(damage: impl FnOnce(&sled::SledStore)) -> VerifyReport {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    {
        let storage = open(dir.path(), StoreOptions::default());
        for _ in 0..3 {
            storage
                .writer()
                .submit_blocking(put_job(Uuid::new_v4(), "v".into()))
                .expect("write");
        }
    }
    let mut damage = Some(damage);
    wait_until(
        "the writer to release the store",
        || match sled::SledStore::open(dir.path(), 1 << 20) {
            Ok(s) => {
                if let Some(f) = damage.take() {
                    f(&s);
                }
                s.flush().expect("flush");
                true
            }
            Err(_) => false,
        },
    );
    crate::store::verify(dir.path()).expect("verify runs")
}

#[test]
fn verify_detects_damage() {
    let clean = damaged_store(|_| {});
    assert!(clean.is_ok(), "{:?}", clean.problems);
    assert_eq!(clean.docs, 3);

    let missing_feed = damaged_store(|s| {
        let (k, _) = s.last(TreeId::Feed).expect("last").expect("entry");
        s.apply(&[Op {
            tree: TreeId::Feed,
            key: k,
            value: None,
        }])
        .expect("delete");
    });
    assert!(!missing_feed.is_ok());
    assert!(missing_feed
        .problems
        .iter()
        .any(|p| p.contains("no feed entry")));

    let corrupt_doc = damaged_store(|s| {
        let (k, v) = s
            .iter_prefix(TreeId::Docs, b"", false)
            .next()
            .expect("a doc")
            .expect("kv");
        let mut rec: DocRecord = records::decode(&v).expect("decode");
        let n = rec.bytes.len();
        rec.bytes.truncate(n / 2);
        s.apply(&[Op {
            tree: TreeId::Docs,
            key: k,
            value: Some(records::encode(&rec).expect("encode")),
        }])
        .expect("put");
    });
    assert!(!corrupt_doc.is_ok());

    let garbage = damaged_store(|s| {
        s.apply(&[Op {
            tree: TreeId::PeerState,
            key: b"peer-x".to_vec(),
            value: Some(vec![0xff, 1, 2]),
        }])
        .expect("put");
    });
    assert!(garbage.problems.iter().any(|p| p.contains("peer_state")));
}

fn projector() -> Projector {
    Arc::new(|id: Uuid, _m: &DocMeta, d: &Automerge| {
        let v = read_field(d, "v").unwrap_or_default();
        vec![
            RmEntry {
                tree: TreeId::OrderSummaries,
                key: id.as_bytes().to_vec(),
                value: v.clone().into_bytes(),
            },
            RmEntry {
                tree: TreeId::IdxStatus,
                key: records::rm_keys::status(&v, &id),
                value: Vec::new(),
            },
        ]
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_model_follows_docs_and_rebuilds() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let opts = StoreOptions {
        projector: Some(projector()),
        ..StoreOptions::default()
    };
    let id = Uuid::new_v4();
    {
        let storage = open(dir.path(), opts.clone());
        storage.submit(put_job(id, "open".into())).await.expect("w");
        storage
            .submit(put_job(id, "submitted".into()))
            .await
            .expect("w");
        let s = storage.store();
        assert_eq!(
            s.rm_get(TreeId::OrderSummaries, id.as_bytes())
                .expect("get"),
            Some(b"submitted".to_vec())
        );
        // The old status entry is gone, the new one is there.
        let open_ = s
            .rm_scan(
                TreeId::IdxStatus,
                &records::rm_keys::status_prefix("open"),
                None,
                false,
                10,
            )
            .expect("scan");
        assert!(open_.is_empty());
        let sub = s
            .rm_scan(
                TreeId::IdxStatus,
                &records::rm_keys::status_prefix("submitted"),
                None,
                false,
                10,
            )
            .expect("scan");
        assert_eq!(sub.len(), 1);
        assert_eq!(records::rm_keys::trailing_uuid(&sub[0].0), Some(id));
        storage.shutdown().await.expect("shutdown");
    }
    // Reopen with the same projector version: nothing to rebuild.
    {
        let storage = open(dir.path(), opts.clone());
        assert_eq!(storage.open_report().rebuilt_read_model, None);
        // A write without a projector leaves the read model behind...
        storage.shutdown().await.expect("shutdown");
    }
    {
        let storage = open(dir.path(), StoreOptions::default());
        storage
            .submit(put_job(id, "released".into()))
            .await
            .expect("w");
        storage.shutdown().await.expect("shutdown");
    }
    // ...so the next open with the projector rebuilds it.
    {
        let storage = open(dir.path(), opts.clone());
        assert_eq!(storage.open_report().rebuilt_read_model, Some(1));
        let s = storage.store();
        assert_eq!(
            s.rm_get(TreeId::OrderSummaries, id.as_bytes())
                .expect("get"),
            Some(b"released".to_vec())
        );
        assert_eq!(s.count(TreeId::IdxStatus).expect("count"), 1);
        storage.shutdown().await.expect("shutdown");
    }
    // A new projector version rebuilds too.
    let v2 = StoreOptions {
        read_model_version: 2,
        ..opts
    };
    let storage = open(dir.path(), v2);
    assert_eq!(storage.open_report().rebuilt_read_model, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_records_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let storage = open(dir.path(), StoreOptions::default());
    let peer = PeerConfig {
        name: "hq".into(),
        url: "http://127.0.0.1:7070".into(),
        secret: "s3cret".into(),
        node_id: None,
        role: Some(Role::Hq),
        call_centers: None,
    };
    let node = NodeId(Uuid::new_v4());
    let doc = Uuid::new_v4();
    let heads = doc_with("a", "b").get_heads();
    let (p2, h2) = (peer.clone(), heads.clone());
    storage
        .submit(move |ctx: &mut WriteCtx<'_>| {
            ctx.put_peer(&p2)?;
            ctx.put_peer_state(
                "hq",
                &PeerState {
                    checkpoint: vec![1, 2, 3],
                    last_success: None,
                    last_error: None,
                },
            )?;
            ctx.put_peer_heads(&node, &doc, &h2)
        })
        .await
        .expect("write");
    let s = storage.store();
    assert_eq!(s.peers().expect("peers"), vec![peer.clone()]);
    assert_eq!(s.peer("hq").expect("peer"), Some(peer));
    assert_eq!(
        s.peer_state("hq").expect("state").expect("some").checkpoint,
        vec![1, 2, 3]
    );
    assert_eq!(s.peer_heads(&node, &doc).expect("heads"), Some(heads));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read_dir") {
        let e = e.expect("entry");
        let dst = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).expect("copy");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copied_data_dir_takes_a_fresh_actor() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let original = {
        let storage = open(dir.path(), StoreOptions::default());
        storage
            .submit(put_job(Uuid::new_v4(), "v".into()))
            .await
            .expect("w");
        assert!(!storage.open_report().took_fresh_actor);
        let id = storage.identity().expect("identity");
        storage.shutdown().await.expect("shutdown");
        id
    };
    let copy = tempfile::tempdir().expect("tempdir");
    let copy_path = copy.path().join("copy");
    {
        // Copy a quiescent, flushed store (sled finishes closing in background threads, so
        // copying right after a close could catch files mid-write).
        let raw = sled::SledStore::open(dir.path(), 1 << 20).expect("open raw");
        raw.flush().expect("flush");
        copy_dir(dir.path(), &copy_path);
    }
    let copied = open(&copy_path, StoreOptions::default());
    assert!(copied.open_report().took_fresh_actor);
    assert_ne!(copied.identity().expect("id").actor, original.actor);
    // The original keeps its actor.
    let again = open(dir.path(), StoreOptions::default());
    assert!(!again.open_report().took_fresh_actor);
    assert_eq!(again.identity().expect("id").actor, original.actor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_checks_read_model_and_checkpoints() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let opts = StoreOptions {
        projector: Some(projector()),
        ..StoreOptions::default()
    };
    let storage = open(dir.path(), opts);
    let id = Uuid::new_v4();
    storage.submit(put_job(id, "open".into())).await.expect("w");
    let mut st = PeerState::default();
    let cp = switchboard_sync::protocol::PeerCheckpoint {
        push: 7,
        ..Default::default()
    };
    st.set_checkpoint(&cp);
    storage
        .submit(move |ctx: &mut WriteCtx<'_>| ctx.put_peer_state("hq", &st))
        .await
        .expect("w");
    assert_eq!(
        storage
            .store()
            .peer_state("hq")
            .expect("read")
            .expect("state")
            .checkpoint()
            .expect("decode"),
        cp
    );
    assert!(storage.verify().await.expect("verify").is_ok());
    // Damage: a read-model entry vanishes, a checkpoint is garbage.
    storage
        .submit(move |ctx: &mut WriteCtx<'_>| {
            ctx.rm_delete(TreeId::OrderSummaries, id.as_bytes())?;
            ctx.put_peer_state(
                "bad",
                &PeerState {
                    checkpoint: vec![9, 9, 9],
                    ..PeerState::default()
                },
            )
        })
        .await
        .expect("w");
    let report = storage.verify().await.expect("verify");
    assert!(report
        .problems
        .iter()
        .any(|p| p.contains("order_summaries")));
    assert!(report
        .problems
        .iter()
        .any(|p| p.contains("checkpoint undecodable")));
    // A document stored under a meta its content contradicts.
    let author = switchboard_sync::doc::Author {
        actor: automerge::ActorId::random(),
        user: switchboard_domain::UserId(Uuid::new_v4()),
        node: NodeId(Uuid::new_v4()),
        now: switchboard_domain::Timestamp::from_millis(0),
    };
    let catalog = switchboard_sync::doc::new_catalog_doc(&author).expect("catalog");
    let cat_id = Uuid::new_v4();
    storage
        .submit(move |ctx: &mut WriteCtx<'_>| ctx.put_doc_owned(cat_id, meta(), catalog))
        .await
        .expect("w");
    let report = storage.verify().await.expect("verify");
    assert!(report
        .problems
        .iter()
        .any(|p| p.contains(&cat_id.to_string()) && p.contains("meta")));
    assert_eq!(storage.rebuild_read_model().await.expect("rebuild"), 2);
    let report = storage.verify().await.expect("verify");
    assert!(!report
        .problems
        .iter()
        .any(|p| p.contains("order_summaries")));
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
        .submit(move |ctx: &mut WriteCtx<'_>| ctx.put_doc_owned(id, meta(), doc_with("other", "x")))
        .await
        .expect("write");
    let rec = storage.store().doc_record(id).expect("read").expect("rec");
    assert!(rec.increments.is_empty());
    let (_, d) = storage.store().load_doc(id).expect("load").expect("doc");
    assert_eq!(read_field(&d, "other").as_deref(), Some("x"));
    assert_eq!(read_field(&d, "v"), None);
    assert!(storage.verify().await.expect("verify").is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_of_one_batch_see_each_other() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let storage = open(dir.path(), StoreOptions::default());
    let (gate_tx, gate_rx) = std::sync::mpsc::channel::<()>();
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let gate = tokio::spawn(storage.submit(move |_ctx: &mut WriteCtx<'_>| {
        let _ = started_tx.send(());
        gate_rx.recv().map_err(|_| NodeError::WriterClosed)
    }));
    started_rx.await.expect("gate started");
    let x = Uuid::new_v4();
    let coupon = records::rm_keys::status_prefix("SAVE10");
    let first = tokio::spawn(storage.submit(move |ctx: &mut WriteCtx<'_>| {
        ctx.put_doc_owned(x, meta(), doc_with("v", "first"))?;
        ctx.rm_put(
            TreeId::IdxCoupon,
            &records::rm_keys::coupon("SAVE10", &x),
            b"t",
        )
    }));
    let deadline = Instant::now() + Duration::from_secs(20);
    while storage.writer().queued() < 1 {
        assert!(Instant::now() < deadline, "first job not queued");
        tokio::task::yield_now().await;
    }
    let second = tokio::spawn(storage.submit(move |ctx: &mut WriteCtx<'_>| {
        let seen = ctx.load_doc(x)?.and_then(|(_, d)| read_field(&d, "v"));
        let via_store = ctx
            .store()
            .iter_prefix(TreeId::IdxCoupon, &coupon, false)
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
