//! `verify`: damage to documents, the feed, the read model and peer state is reported.

use super::*;

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
    // The data dir's lock may still be held for a moment by a process another test forks (the
    // child holds the parent's descriptors until it execs): retry while it is.
    let mut report = None;
    wait_until(
        "verify to get the data dir",
        || match crate::store::verify(dir.path()) {
            Err(crate::error::NodeError::DataDirInUse(_)) => false,
            other => {
                report = Some(other.expect("verify runs"));
                true
            }
        },
    );
    report.expect("a report")
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
    // Damage: a read-model entry vanishes (behind the writer's back), a checkpoint is garbage.
    storage
        .writer()
        .submit_exclusive(move |ctx: &mut WriteCtx<'_>| {
            ctx.store().apply(&[Op {
                tree: TreeId::OrderSummaries,
                key: id.as_bytes().to_vec(),
                value: None,
            }])?;
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
        .submit(move |ctx: &mut WriteCtx<'_>| ctx.put_doc(cat_id, meta(), &catalog))
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
