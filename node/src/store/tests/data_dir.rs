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
