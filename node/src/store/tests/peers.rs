//! Peer records: configuration, sync state and known heads.

use super::*;

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
        fingerprint: None,
        next_fingerprint: None,
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

/// Everything the store keeps for one configured peer, as the sync driver writes it.
fn sync_state_job(
    peer: PeerConfig,
    docs: Vec<Uuid>,
) -> impl FnOnce(&mut WriteCtx<'_>) -> Result<(), NodeError> + Send + 'static {
    move |ctx: &mut WriteCtx<'_>| {
        ctx.put_peer(&peer)?;
        let status = PeerState {
            last_success: Some(switchboard_domain::Timestamp::from_millis(1)),
            ..PeerState::default()
        };
        ctx.put_peer_state(&records::peer_status_key(&peer.name), &status)?;
        if let Some(node) = peer.node_id {
            let mut cp = PeerState::default();
            cp.set_checkpoint(&switchboard_sync::protocol::PeerCheckpoint {
                push: 3,
                ..Default::default()
            });
            ctx.put_peer_state(&records::peer_checkpoint_key(&node), &cp)?;
            let heads = doc_with("a", &peer.name).get_heads();
            for doc in &docs {
                ctx.put_peer_heads(&node, doc, &heads)?;
            }
        }
        Ok(())
    }
}

/// (status, checkpoint, heads per doc) kept for a peer.
fn kept_state(s: &dyn Store, name: &str, node: &NodeId, docs: &[Uuid]) -> (bool, bool, Vec<bool>) {
    let status = s
        .peer_state(&records::peer_status_key(name))
        .expect("status")
        .is_some();
    let checkpoint = s
        .peer_state(&records::peer_checkpoint_key(node))
        .expect("checkpoint")
        .is_some();
    let heads = docs
        .iter()
        .map(|d| s.peer_heads(node, d).expect("heads").is_some())
        .collect();
    (status, checkpoint, heads)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_peer_drops_its_sync_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let storage = open(dir.path(), StoreOptions::default());
    let (node_a, node_b) = (NodeId(Uuid::new_v4()), NodeId(Uuid::new_v4()));
    let docs = vec![Uuid::new_v4(), Uuid::new_v4()];
    for peer in [
        peer_config("a", Some(node_a)),
        peer_config("b", Some(node_b)),
        peer_config("fresh", None),
    ] {
        storage
            .submit(sync_state_job(peer, docs.clone()))
            .await
            .expect("write");
    }
    let s = storage.store();
    assert_eq!(
        kept_state(s, "a", &node_a, &docs),
        (true, true, vec![true, true])
    );

    let removed = storage
        .submit(|ctx: &mut WriteCtx<'_>| ctx.delete_peer("a"))
        .await
        .expect("delete");
    assert!(removed);
    assert_eq!(s.peer("a").expect("peer"), None);
    assert_eq!(
        kept_state(s, "a", &node_a, &docs),
        (false, false, vec![false, false])
    );
    assert_eq!(
        s.iter_prefix(
            TreeId::PeerHeads,
            &records::peer_heads_prefix(&node_a),
            false
        )
        .count(),
        0
    );
    // The other peers keep theirs.
    assert_eq!(
        kept_state(s, "b", &node_b, &docs),
        (true, true, vec![true, true])
    );
    assert!(s
        .peer_state(&records::peer_status_key("fresh"))
        .expect("status")
        .is_some());

    // A peer that never synced (no node id) has only its status to drop.
    let removed = storage
        .submit(|ctx: &mut WriteCtx<'_>| ctx.delete_peer("fresh"))
        .await
        .expect("delete");
    assert!(removed);
    assert!(s
        .peer_state(&records::peer_status_key("fresh"))
        .expect("status")
        .is_none());
    assert_eq!(
        kept_state(s, "b", &node_b, &docs),
        (true, true, vec![true, true])
    );

    // Deleting again finds nothing and writes nothing.
    let removed = storage
        .submit(|ctx: &mut WriteCtx<'_>| ctx.delete_peer("a"))
        .await
        .expect("delete");
    assert!(!removed);
    assert_eq!(
        s.peers().expect("peers"),
        vec![peer_config("b", Some(node_b))]
    );
    assert!(storage.verify().await.expect("verify").is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_peer_keeps_state_shared_by_node_id() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let storage = open(dir.path(), StoreOptions::default());
    // Two configured peers (two addresses) of one node share its checkpoint and heads.
    let node = NodeId(Uuid::new_v4());
    let docs = vec![Uuid::new_v4()];
    for peer in [
        peer_config("hq", Some(node)),
        peer_config("hq-backup", Some(node)),
    ] {
        storage
            .submit(sync_state_job(peer, docs.clone()))
            .await
            .expect("write");
    }
    let s = storage.store();
    storage
        .submit(|ctx: &mut WriteCtx<'_>| ctx.delete_peer("hq"))
        .await
        .expect("delete");
    assert_eq!(kept_state(s, "hq", &node, &docs), (false, true, vec![true]));
    assert_eq!(
        kept_state(s, "hq-backup", &node, &docs),
        (true, true, vec![true])
    );
    // The last peer of that node takes the shared state with it.
    storage
        .submit(|ctx: &mut WriteCtx<'_>| ctx.delete_peer("hq-backup"))
        .await
        .expect("delete");
    assert_eq!(
        kept_state(s, "hq-backup", &node, &docs),
        (false, false, vec![false])
    );
    assert_eq!(s.count(TreeId::PeerState).expect("count"), 0);
    assert_eq!(s.count(TreeId::PeerHeads).expect("count"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_peer_sees_the_jobs_own_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    init(dir.path());
    let storage = open(dir.path(), StoreOptions::default());
    let node = NodeId(Uuid::new_v4());
    let docs = vec![Uuid::new_v4()];
    // Added, synced and removed in one job: nothing is left.
    let add = sync_state_job(peer_config("site", Some(node)), docs.clone());
    let removed = storage
        .submit(move |ctx: &mut WriteCtx<'_>| {
            add(ctx)?;
            ctx.delete_peer("site")
        })
        .await
        .expect("write");
    assert!(removed);
    let s = storage.store();
    assert!(s.peers().expect("peers").is_empty());
    assert_eq!(s.count(TreeId::PeerState).expect("count"), 0);
    assert_eq!(s.count(TreeId::PeerHeads).expect("count"), 0);
}

/// A peer record written by contract v1 (HMAC secret, no fingerprint) still reads: as a peer that
/// is not usable until it is added again by node id.
#[test]
fn contract_v1_peer_records_still_read() {
    #[derive(serde::Serialize)]
    struct V1 {
        name: String,
        url: String,
        secret: String,
        node_id: Option<NodeId>,
        role: Option<Role>,
        call_centers: Option<Vec<switchboard_domain::CallCenterId>>,
    }
    let node = NodeId(Uuid::new_v4());
    let bytes = records::encode(&V1 {
        name: "hq".into(),
        url: "http://hq:7070".into(),
        secret: "s3cret-s3cret-s3cret".into(),
        node_id: Some(node),
        role: Some(Role::Hq),
        call_centers: Some(vec![]),
    })
    .expect("encode");
    let p = PeerConfig::decode(&bytes).expect("a v1 record reads");
    assert_eq!(p.name, "hq");
    assert_eq!(p.node_id, Some(node));
    assert_eq!(p.fingerprint, None);
    assert!(!p.usable());
    // A record of this version reads as itself.
    let mut now = p.clone();
    now.fingerprint = Some(crate::tls::Fingerprint([7; 32]));
    let back = PeerConfig::decode(&records::encode(&now).expect("encode")).expect("decode");
    assert_eq!(back, now);
    assert!(back.usable());
    assert!(PeerConfig::decode(b"\x01garbage").is_err());
}

/// A peer record written before key rotation (no next node id) decodes with none, and a
/// recorded next node id survives a round trip.
#[test]
fn peer_records_from_before_rotation_decode() {
    let fp: crate::tls::Fingerprint = "ab".repeat(32).parse().expect("fingerprint");
    let old = crate::store::records::PeerConfigV2 {
        name: "hq".into(),
        url: "https://127.0.0.1:7443".into(),
        secret: String::new(),
        node_id: Some(NodeId(Uuid::new_v4())),
        role: Some(Role::Hq),
        call_centers: Some(Vec::new()),
        fingerprint: Some(fp),
    };
    let bytes = crate::store::records::encode(&old).expect("encode");
    let p = PeerConfig::decode(&bytes).expect("decode");
    assert_eq!(
        (
            p.fingerprint,
            p.next_fingerprint,
            p.node_id,
            p.name.as_str()
        ),
        (Some(fp), None, old.node_id, "hq")
    );
    assert!(p.accepts(&fp));
    let next: crate::tls::Fingerprint = "cd".repeat(32).parse().expect("fingerprint");
    assert!(!p.accepts(&next));
    let rotating = PeerConfig {
        next_fingerprint: Some(next),
        ..p
    };
    let back = PeerConfig::decode(&crate::store::records::encode(&rotating).expect("encode"))
        .expect("decode");
    assert_eq!(back, rotating);
    assert!(back.accepts(&fp) && back.accepts(&next));
}
