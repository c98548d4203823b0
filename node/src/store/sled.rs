//! [`SledStore`]: the [`Store`] on sled 0.34.7, with an explicit page cache, one sled tree per
//! [`TreeId`], multi-tree transactions for atomic job writes, and the exclusive `DATA_DIR/LOCK`.
//!
//! Data-dir layout: `LOCK` (fs2 exclusive lock), `db/` (sled), `admin-token` (optional). The
//! data dir and everything in it is owner-only (directories 0700, files 0600, see
//! [`super::perms`]), fixed at open where an older version left it more open.

use super::perms;
use super::records::{self, keys, NodeMeta};
use super::{Kv, KvIter, Op, Store, StoreExt, TreeId};
use crate::error::NodeError;
use fs2::FileExt;
use std::fs::File;
use std::path::{Path, PathBuf};

/// The lock file name inside the data dir.
pub const LOCK_FILE: &str = "LOCK";
/// The sled directory inside the data dir.
pub const DB_DIR: &str = "db";

/// Takes the exclusive lock on `DATA_DIR/LOCK` (creating the dir, 0700, if needed; tightening
/// an existing one that others could read); the lock is held while the returned file is open.
pub fn lock_data_dir(data_dir: &Path) -> Result<File, NodeError> {
    if perms::create_private_dir(data_dir)? {
        tracing::info!(
            dir = %data_dir.display(),
            "the data dir was open to other users: now owner-only (0700)"
        );
    }
    let path = data_dir.join(LOCK_FILE);
    let mut opts = std::fs::OpenOptions::new();
    opts.create(true).truncate(false).read(true).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(perms::FILE_MODE);
    }
    let file = opts
        .open(&path)
        .map_err(|e| NodeError::io(format!("opening {}", path.display()), e))?;
    file.try_lock_exclusive()
        .map_err(|_| NodeError::DataDirInUse(data_dir.to_path_buf()))?;
    // Everything but sled's files (tightened once sled has opened them).
    let mut changed = usize::from(perms::tighten(&path, perms::FILE_MODE)?);
    for name in crate::identity::KEY_FILES {
        let file = data_dir.join(name);
        if file.exists() {
            changed += usize::from(perms::tighten(&file, perms::FILE_MODE)?);
        }
    }
    if changed > 0 {
        tracing::info!(dir = %data_dir.display(), changed, "made data-dir files owner-only (0600)");
    }
    Ok(file)
}

/// The sled engine.
pub struct SledStore {
    db: sled::Db,
    trees: Vec<sled::Tree>,
    _lock: Option<File>,
    path: PathBuf,
}

impl SledStore {
    /// Locks `data_dir` and opens (or creates) the sled db in `data_dir/db` with the given page
    /// cache. A store left by a crash is recovered by sled.
    pub fn open(data_dir: &Path, cache_capacity_bytes: u64) -> Result<SledStore, NodeError> {
        let lock = lock_data_dir(data_dir)?;
        // Holding LOCK, sled's own lock can only be held by an instance of this process that is
        // still releasing its files (sled lets go in its flusher thread, which a loaded machine
        // may not schedule for seconds): wait for it, boundedly.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut s = loop {
            match Self::open_db(&data_dir.join(DB_DIR), cache_capacity_bytes) {
                Err(NodeError::DataDirInUse(_)) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                other => break other?,
            }
        };
        s._lock = Some(lock);
        // sled creates its files with the umask's modes.
        let changed = perms::tighten_tree(&data_dir.join(DB_DIR))?;
        if changed > 0 {
            tracing::debug!(dir = %data_dir.display(), changed, "made store files owner-only");
        }
        Ok(s)
    }

    /// Opens a bare sled db directory without the data-dir lock (backups, tools).
    pub fn open_db(db_dir: &Path, cache_capacity_bytes: u64) -> Result<SledStore, NodeError> {
        let db = sled::Config::new()
            .path(db_dir)
            .cache_capacity(cache_capacity_bytes)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|e| match e {
                sled::Error::Io(io) if io.to_string().contains("could not acquire lock") => {
                    NodeError::DataDirInUse(db_dir.to_path_buf())
                }
                other => NodeError::Engine(format!("opening {}: {other}", db_dir.display())),
            })?;
        let trees = TreeId::ALL
            .iter()
            .map(|t| db.open_tree(t.name()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SledStore {
            db,
            trees,
            _lock: None,
            path: db_dir.to_path_buf(),
        })
    }

    /// The sled directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn tree(&self, t: TreeId) -> &sled::Tree {
        &self.trees[t.index()]
    }

    /// If the store is marked restored (a backup) or its sled directory is not the one it was
    /// last opened in (a copied data dir), replaces the actor id and feed epoch, clears the mark
    /// and flushes, before any write. Returns whether it did.
    pub fn take_fresh_actor_if_restored(&self) -> Result<bool, NodeError> {
        let here = dir_identity(&self.path);
        let stored = self.get(TreeId::Meta, keys::DIR_IDENTITY)?;
        let copied = matches!((&here, &stored), (Some(h), Some(s)) if h != s);
        let restored = self.get(TreeId::Meta, keys::RESTORED)?.is_some();
        let mut ops = Vec::new();
        if let Some(h) = &here {
            if stored.as_ref() != Some(h) {
                ops.push(Op {
                    tree: TreeId::Meta,
                    key: keys::DIR_IDENTITY.to_vec(),
                    value: Some(h.clone()),
                });
            }
        }
        let mut fresh = false;
        if restored || copied {
            if let Some(mut id) = self.identity()? {
                id.actor = *uuid::Uuid::new_v4().as_bytes();
                id.feed_epoch = uuid::Uuid::new_v4();
                ops.push(Op {
                    tree: TreeId::Meta,
                    key: keys::IDENTITY.to_vec(),
                    value: Some(records::encode(&id)?),
                });
                ops.push(Op {
                    tree: TreeId::Meta,
                    key: keys::RESTORED.to_vec(),
                    value: None,
                });
                fresh = true;
                tracing::info!(
                    node = %id.node_id,
                    restored,
                    copied,
                    "restored or copied data dir: took a fresh actor id and feed epoch"
                );
            }
        }
        if !ops.is_empty() {
            self.apply(&ops)?;
            self.flush()?;
        }
        Ok(fresh)
    }

    /// Writes a consistent copy of this store to `out_dir/db`, marked restored, with the peers'
    /// secrets only when `include_keys`. The caller must make sure no writes run meanwhile
    /// ([`super::Storage::backup`] runs it on the writer).
    pub fn backup(&self, out_dir: &Path, include_keys: bool) -> Result<BackupReport, NodeError> {
        backup_store(self, out_dir, include_keys)
    }
}

/// What [`backup_store`] copied and left out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BackupReport {
    /// Documents copied.
    pub docs: u64,
    /// Peers holding a secret in the original.
    pub peer_secrets: u64,
    /// Whether the copy holds their secrets. Without, each such peer authenticates nothing until
    /// it is added again with its secret.
    pub keys_included: bool,
}

/// Copies every tree of `from` into a fresh sled db at `out_dir/db` (an owner-only data dir)
/// and marks it restored. Without `include_keys` every peer's shared secret is blanked in the
/// copy, so a stolen backup cannot impersonate this node to its peers.
pub fn backup_store(
    from: &dyn Store,
    out_dir: &Path,
    include_keys: bool,
) -> Result<BackupReport, NodeError> {
    if out_dir.exists() {
        let mut entries = std::fs::read_dir(out_dir)
            .map_err(|e| NodeError::io(format!("reading {}", out_dir.display()), e))?;
        if entries.next().is_some() {
            return Err(NodeError::Config(format!(
                "backup target {} is not empty",
                out_dir.display()
            )));
        }
    }
    let to = SledStore::open(out_dir, 16 * 1024 * 1024)?;
    let mut report = BackupReport {
        keys_included: include_keys,
        ..BackupReport::default()
    };
    for tree in TreeId::ALL {
        let mut batch = Vec::with_capacity(1024);
        for kv in from.iter_prefix(tree, b"", false) {
            let (key, mut value) = kv?;
            if tree == TreeId::Docs {
                report.docs += 1;
            }
            if tree == TreeId::Peers {
                let mut peer = records::PeerConfig::decode(&value)?;
                if !peer.secret.is_empty() {
                    report.peer_secrets += 1;
                    if !include_keys {
                        peer.secret.clear();
                        value = records::encode(&peer)?;
                    }
                }
            }
            batch.push(Op {
                tree,
                key,
                value: Some(value),
            });
            if batch.len() >= 1024 {
                to.apply(&batch)?;
                batch.clear();
            }
        }
        to.apply(&batch)?;
    }
    to.apply(&[Op {
        tree: TreeId::Meta,
        key: keys::RESTORED.to_vec(),
        value: Some(vec![1]),
    }])?;
    to.flush()?;
    Ok(report)
}

/// (device, inode) of a directory, to tell a copied data dir from the original.
fn dir_identity(path: &Path) -> Option<Vec<u8>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        let mut v = m.dev().to_be_bytes().to_vec();
        v.extend_from_slice(&m.ino().to_be_bytes());
        Some(v)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

fn kv(r: sled::Result<(sled::IVec, sled::IVec)>) -> Result<Kv, NodeError> {
    r.map(|(k, v)| (k.to_vec(), v.to_vec()))
        .map_err(NodeError::from)
}

impl Store for SledStore {
    fn get(&self, tree: TreeId, key: &[u8]) -> Result<Option<Vec<u8>>, NodeError> {
        Ok(self.tree(tree).get(key)?.map(|v| v.to_vec()))
    }

    fn iter_from(&self, tree: TreeId, start: &[u8]) -> KvIter<'_> {
        Box::new(self.tree(tree).range(start.to_vec()..).map(kv))
    }

    fn iter_prefix(&self, tree: TreeId, prefix: &[u8], reverse: bool) -> KvIter<'_> {
        let it = self.tree(tree).scan_prefix(prefix);
        if reverse {
            Box::new(it.rev().map(kv))
        } else {
            Box::new(it.map(kv))
        }
    }

    fn last(&self, tree: TreeId) -> Result<Option<Kv>, NodeError> {
        Ok(self
            .tree(tree)
            .last()?
            .map(|(k, v)| (k.to_vec(), v.to_vec())))
    }

    fn count(&self, tree: TreeId) -> Result<u64, NodeError> {
        Ok(self.tree(tree).len() as u64)
    }

    fn apply(&self, ops: &[Op]) -> Result<(), NodeError> {
        if ops.is_empty() {
            return Ok(());
        }
        // One sled batch per touched tree, applied in one multi-tree transaction.
        let mut touched: Vec<TreeId> = Vec::new();
        let mut batches: Vec<sled::Batch> = Vec::new();
        for op in ops {
            let i = match touched.iter().position(|t| *t == op.tree) {
                Some(i) => i,
                None => {
                    touched.push(op.tree);
                    batches.push(sled::Batch::default());
                    touched.len() - 1
                }
            };
            match &op.value {
                Some(v) => batches[i].insert(op.key.as_slice(), v.as_slice()),
                None => batches[i].remove(op.key.as_slice()),
            }
        }
        let trees: Vec<sled::Tree> = touched.iter().map(|t| self.tree(*t).clone()).collect();
        use sled::Transactional;
        trees
            .as_slice()
            .transaction(|views| {
                for (view, batch) in views.iter().zip(batches.iter()) {
                    view.apply_batch(batch)?;
                }
                Ok::<(), sled::transaction::ConflictableTransactionError<()>>(())
            })
            .map_err(|e| NodeError::Engine(format!("transaction: {e:?}")))
    }

    fn clear(&self, tree: TreeId) -> Result<(), NodeError> {
        Ok(self.tree(tree).clear()?)
    }

    fn flush(&self) -> Result<(), NodeError> {
        self.db.flush()?;
        Ok(())
    }
}

/// Writes a fresh identity into an empty store (used by `init`).
pub(crate) fn write_identity(store: &SledStore, id: &NodeMeta) -> Result<(), NodeError> {
    let mut ops = vec![
        Op {
            tree: TreeId::Meta,
            key: keys::IDENTITY.to_vec(),
            value: Some(records::encode(id)?),
        },
        Op {
            tree: TreeId::Meta,
            key: keys::FEED_SEQ.to_vec(),
            value: Some(0u64.to_be_bytes().to_vec()),
        },
    ];
    if let Some(here) = dir_identity(&store.path) {
        ops.push(Op {
            tree: TreeId::Meta,
            key: keys::DIR_IDENTITY.to_vec(),
            value: Some(here),
        });
    }
    store.apply(&ops)
}
