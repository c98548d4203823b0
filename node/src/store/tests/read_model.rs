//! The read model: follows every document write, and is rebuilt when behind or from another
//! projector version.

use super::*;

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
