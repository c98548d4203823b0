//! The data dir: the open lock, uninitialised dirs, backups and copies taking a fresh actor.

use super::*;

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
    let secret = "a peer secret that must not leave the node";
    storage
        .submit(move |ctx: &mut WriteCtx<'_>| {
            ctx.put_peer(&PeerConfig {
                name: "hq".into(),
                url: "http://hq:7070".into(),
                secret: secret.into(),
                node_id: None,
                role: None,
                call_centers: None,
                fingerprint: None,
                next_fingerprint: None,
            })
        })
        .await
        .expect("peer");
    let original = storage.identity().expect("identity");
    let out = tempfile::tempdir().expect("tempdir");
    let target = out.path().join("backup");
    let copied = storage.backup(target.clone(), false).await.expect("backup");
    assert_eq!(
        copied,
        sled::BackupReport {
            docs: 10,
            peer_secrets: 1,
            keys_included: false,
        }
    );
    // A second backup into a non-empty dir is refused.
    assert!(storage.backup(target.clone(), false).await.is_err());
    // With the keys, the secret is kept.
    let with_keys = out.path().join("with-keys");
    let report = storage
        .backup(with_keys.clone(), true)
        .await
        .expect("backup");
    assert_eq!((report.peer_secrets, report.keys_included), (1, true));
    {
        let raw = sled::SledStore::open(&with_keys, 1 << 20).expect("open copy");
        assert_eq!(raw.peers().expect("peers")[0].secret, secret);
    }

    let restored = open(&target, StoreOptions::default());
    assert!(restored.open_report().took_fresh_actor);
    let id = restored.identity().expect("identity");
    assert_eq!(id.node_id, original.node_id);
    assert_ne!(id.actor, original.actor);
    assert_ne!(id.feed_epoch, original.feed_epoch);
    for d in &ids {
        assert!(restored.store().doc_record(*d).expect("read").is_some());
    }
    // The copy without keys holds the peer, without its secret, and the secret nowhere.
    let peers = restored.store().peers().expect("peers");
    assert_eq!((peers.len(), peers[0].secret.as_str()), (1, ""));
    assert!(restored.verify().await.expect("verify").is_ok());
    restored.shutdown().await.expect("shutdown");
    drop(restored);
    let again = open(&target, StoreOptions::default());
    assert!(!again.open_report().took_fresh_actor);
    assert_eq!(again.identity().expect("identity").actor, id.actor);
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

/// The data dir is owner-only: 0700 for it and every directory in it, 0600 for every file, made so
/// at `init` and fixed at open where an older version left it open.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_dir_is_owner_only_and_fixed_at_open() {
    use std::os::unix::fs::PermissionsExt;
    fn modes(root: &Path) -> Vec<(std::path::PathBuf, u32)> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(p) = stack.pop() {
            let m = std::fs::symlink_metadata(&p).expect("meta");
            out.push((p.clone(), m.permissions().mode() & 0o777));
            if m.is_dir() {
                for e in std::fs::read_dir(&p).expect("read_dir") {
                    stack.push(e.expect("entry").path());
                }
            }
        }
        out
    }
    fn assert_private(root: &Path) {
        for (p, mode) in modes(root) {
            let want = if p.is_dir() { 0o700 } else { 0o600 };
            assert_eq!(mode, want, "{} is {mode:o}", p.display());
        }
    }
    let parent = tempfile::tempdir().expect("tempdir");
    let dir = parent.path().join("node");
    init_data_dir(&dir, "test-node", Role::Hq, &[], true).expect("init");
    assert!(dir.join(crate::identity::ADMIN_TOKEN_FILE).exists());
    {
        let storage = open(&dir, StoreOptions::default());
        storage
            .submit(put_job(Uuid::new_v4(), "v".into()))
            .await
            .expect("write");
        assert_private(&dir);
        storage.shutdown().await.expect("shutdown");
    }
    // A data dir as an older version left it: open to everyone. Opening fixes all of it.
    for (p, _) in modes(&dir) {
        let m = if p.is_dir() { 0o755 } else { 0o644 };
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(m)).expect("chmod");
    }
    let storage = open(&dir, StoreOptions::default());
    assert_private(&dir);
    // A backup is an owner-only data dir as well.
    let copy = parent.path().join("copy");
    storage.backup(copy.clone(), false).await.expect("backup");
    assert_private(&copy);
}
