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
        role: Some(NodeRole::Hq),
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
