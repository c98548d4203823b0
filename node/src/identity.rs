//! Node identity and `init`: a fresh data dir gets a node id, an automerge actor id, a feed
//! epoch and its first admin user. Bearer tokens are never stored: only their sha256 (hex).

use crate::error::NodeError;
use crate::store::records::SCHEMA_VERSION;
use crate::store::sled::{write_identity, SledStore};
use crate::store::{NodeMeta, Store, StoreExt, TreeId, UserEntry, UserOrigin};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use switchboard_domain::config::{Role, User};
use switchboard_domain::{CallCenterId, NodeId, Timestamp, UserId};
use switchboard_sync::protocol;
use uuid::Uuid;

/// Name of the optional admin token file in the data dir (mode 0600).
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// Files of the data dir that hold keys or secrets: `switchboard backup` copies them only with
/// `--include-keys`. A node restored without them makes a new key at its first start (a new
/// node id, so its peers add it again).
pub const KEY_FILES: &[&str] = &[
    ADMIN_TOKEN_FILE,
    crate::tls::KEY_FILE,
    crate::tls::CERT_FILE,
    crate::tls::NEXT_KEY_FILE,
    crate::tls::NEXT_CERT_FILE,
];

/// What `init` created.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InitOutput {
    /// The new node's internal id (derived from its fingerprint).
    pub node_id: NodeId,
    /// The node id peers pin: the fingerprint of its certificate's public key.
    pub fingerprint: crate::tls::Fingerprint,
    /// The first admin's id.
    pub admin_user: UserId,
    /// The first admin's bearer token (shown once; only its hash is stored).
    pub admin_token: String,
    /// When that token stops working.
    pub admin_expires_at: Timestamp,
    /// Where the token was written, when asked.
    pub token_file: Option<PathBuf>,
}

/// The sha256 (lowercase hex) of a bearer token: the key of the `users` tree.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A fresh random token: 32 random bytes, hex.
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// When a token made at `now` with a lifetime of `lifetime_secs` stops working.
pub fn token_expiry(now: Timestamp, lifetime_secs: u64) -> Timestamp {
    let ms = i64::try_from(lifetime_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
    Timestamp::from_millis(now.as_millis().saturating_add(ms))
}

/// The system clock, for `init` (which runs before a node and its clock exist).
fn system_now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Timestamp::from_millis(ms)
}

/// Initialises a node in `dir` (created if missing). Refuses a dir that already holds a node.
/// With `write_token_file`, also writes the admin token to `dir/admin-token` (mode 0600). The
/// admin's token lives [`crate::config::DEFAULT_ADMIN_TOKEN_LIFETIME_SECS`] from now.
pub fn init_data_dir(
    dir: &Path,
    name: &str,
    role: protocol::Role,
    call_centers: &[CallCenterId],
    write_token_file: bool,
) -> Result<InitOutput, NodeError> {
    let expires = admin_token_expiry(crate::config::DEFAULT_ADMIN_TOKEN_LIFETIME_SECS);
    init_data_dir_until(dir, name, role, call_centers, write_token_file, expires)
}

/// When a token made now by `init` with a lifetime of `lifetime_secs` stops working.
pub fn admin_token_expiry(lifetime_secs: u64) -> Timestamp {
    token_expiry(system_now(), lifetime_secs)
}

/// [`init_data_dir`] with the admin token expiring at `admin_expires_at`.
pub fn init_data_dir_until(
    dir: &Path,
    name: &str,
    role: protocol::Role,
    call_centers: &[CallCenterId],
    write_token_file: bool,
    admin_expires_at: Timestamp,
) -> Result<InitOutput, NodeError> {
    if name.trim().is_empty() {
        return Err(NodeError::Config("node name must not be empty".into()));
    }
    if role == protocol::Role::Site && call_centers.is_empty() {
        return Err(NodeError::Config(
            "a site node needs at least one call center".into(),
        ));
    }
    let store = SledStore::open(dir, 16 * 1024 * 1024)?;
    if store.identity()?.is_some() {
        return Err(NodeError::AlreadyInitialized(dir.to_path_buf()));
    }
    // The key first: the internal id is derived from its fingerprint.
    let (key, _) = crate::tls::NodeKey::load_or_create(dir)?;
    let node_id = NodeId(crate::tls::node_uuid(&key.fingerprint));
    let meta = NodeMeta {
        node_id,
        name: name.trim().to_string(),
        role,
        call_centers: call_centers.to_vec(),
        actor: *Uuid::new_v4().as_bytes(),
        feed_epoch: Uuid::new_v4(),
        schema_version: SCHEMA_VERSION,
    };
    let admin_token = new_token();
    let admin = UserEntry {
        user: User {
            id: UserId(Uuid::new_v4()),
            name: "admin".to_string(),
            role: Role::Admin,
            call_center: None,
        },
        origin: UserOrigin::Local,
        expires_at: Some(admin_expires_at),
        disabled: false,
        created_at: Some(system_now()),
    };
    let token_file = if write_token_file {
        let path = dir.join(ADMIN_TOKEN_FILE);
        crate::store::perms::write_private_file(&path, &admin_token)?;
        Some(path)
    } else {
        None
    };
    store.apply(&[crate::store::Op {
        tree: TreeId::Users,
        key: token_hash(&admin_token).into_bytes(),
        value: Some(admin.encode()?),
    }])?;
    // Identity last: a dir without it counts as uninitialised, so an interrupted init can rerun.
    write_identity(&store, &meta)?;
    store.flush()?;
    tracing::info!(node = %node_id, node_id = %key.fingerprint, name, role = %role, "initialised data dir");
    Ok(InitOutput {
        node_id,
        fingerprint: key.fingerprint,
        admin_user: admin.user.id,
        admin_token,
        admin_expires_at,
        token_file,
    })
}

/// What [`rotate_key`] did: the node id the node has now, and the next one (if a rotation is
/// under way after the call).
#[derive(Clone, Debug, serde::Serialize)]
pub struct RotateOutput {
    /// The node id (certificate fingerprint) the node presents.
    pub node_id: crate::tls::Fingerprint,
    /// The next node id, announced to peers from the node's next start until the rotation is
    /// finished.
    pub next_node_id: Option<crate::tls::Fingerprint>,
    /// Whether this call made the next key (`false`: it was there already) or finished.
    pub changed: bool,
}

/// Key rotation of a stopped node: without `finish`, makes the next key and certificate beside
/// the current ones (kept 0600; announced to peers over the authenticated link from the next
/// start on, and recorded by each as a second accepted node id of this node); with `finish`,
/// once the peers have seen the announcement, makes the next key the current one. The internal
/// node id does not change.
pub fn rotate_key(dir: &Path, finish: bool) -> Result<RotateOutput, NodeError> {
    // Opening the store makes sure the node is stopped and the dir holds a node.
    let store = SledStore::open(dir, 16 * 1024 * 1024)?;
    if store.identity()?.is_none() {
        return Err(NodeError::Config(format!(
            "{} holds no node (run switchboard init)",
            dir.display()
        )));
    }
    let current = crate::tls::NodeKey::load(dir)?.ok_or_else(|| {
        NodeError::Config(format!(
            "{} holds no node key yet (start the node once first)",
            dir.display()
        ))
    })?;
    if finish {
        return match crate::tls::NodeKey::promote_next(dir)? {
            Some(next) => Ok(RotateOutput {
                node_id: next.fingerprint,
                next_node_id: None,
                changed: true,
            }),
            None => Err(NodeError::Config(
                "no key rotation under way (run switchboard rotate-key first)".into(),
            )),
        };
    }
    let (next, made) = crate::tls::NodeKey::make_next(dir)?;
    Ok(RotateOutput {
        node_id: current.fingerprint,
        next_node_id: Some(next.fingerprint),
        changed: made,
    })
}

/// A new token for the admin `init` made, on a stopped node (its token lost or expired): the old
/// token stops working, the new one expires at `expires_at` and is written to `dir/admin-token`
/// (mode 0600). Returns the admin's id and the token.
pub fn renew_admin_token(dir: &Path, expires_at: Timestamp) -> Result<(UserId, String), NodeError> {
    let store = SledStore::open(dir, 16 * 1024 * 1024)?;
    if store.identity()?.is_none() {
        return Err(NodeError::Config(format!(
            "{} holds no node (run switchboard init)",
            dir.display()
        )));
    }
    let mut found: Option<(Vec<u8>, UserEntry)> = None;
    for kv in store.iter_prefix(TreeId::Users, b"", false) {
        let (k, v) = kv?;
        let e = UserEntry::decode(&v)?;
        let first_admin = e.origin == UserOrigin::Local
            && e.user.role == Role::Admin
            && e.user.call_center.is_none();
        // The oldest such entry, should there be several.
        if first_admin
            && found
                .as_ref()
                .is_none_or(|(_, f)| e.created_at < f.created_at)
        {
            found = Some((k, e));
        }
    }
    let (old_key, entry) = found
        .ok_or_else(|| NodeError::Config("the data dir holds no admin made by init".into()))?;
    let token = new_token();
    let entry = UserEntry {
        expires_at: Some(expires_at),
        disabled: false,
        ..entry
    };
    crate::store::perms::write_private_file(&dir.join(ADMIN_TOKEN_FILE), &token)?;
    store.apply(&[
        crate::store::Op {
            tree: TreeId::Users,
            key: old_key,
            value: None,
        },
        crate::store::Op {
            tree: TreeId::Users,
            key: token_hash(&token).into_bytes(),
            value: Some(entry.encode()?),
        },
    ])?;
    store.flush()?;
    tracing::info!(user = %entry.user.id, "renewed the admin token");
    Ok((entry.user.id, token))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_creates_identity_and_admin_and_refuses_twice() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = init_data_dir(dir.path(), "hq-1", protocol::Role::Hq, &[], true).expect("init");
        assert_eq!(out.admin_token.len(), 64);
        let file = std::fs::read_to_string(dir.path().join(ADMIN_TOKEN_FILE)).expect("file");
        assert_eq!(file.trim(), out.admin_token);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(ADMIN_TOKEN_FILE))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let key = crate::tls::NodeKey::load(dir.path())
            .expect("read key")
            .expect("a key");
        assert_eq!(key.fingerprint, out.fingerprint);
        assert_eq!(out.node_id.0, crate::tls::node_uuid(&out.fingerprint));
        let again = init_data_dir(dir.path(), "hq-1", protocol::Role::Hq, &[], false);
        assert!(matches!(again, Err(NodeError::AlreadyInitialized(_))));

        let store = SledStore::open(dir.path(), 1 << 20).expect("open");
        let id = store.identity().expect("read").expect("identity");
        assert_eq!(id.node_id, out.node_id);
        assert_eq!(id.role, protocol::Role::Hq);
        let user = store
            .user_by_token_hash(&token_hash(&out.admin_token))
            .expect("read")
            .expect("admin");
        assert_eq!(user.user.role, Role::Admin);
        // the token itself is stored nowhere in the users tree
        for kv in store.iter_prefix(TreeId::Users, b"", false) {
            let (k, v) = kv.expect("kv");
            assert_ne!(k, out.admin_token.as_bytes());
            assert!(!v
                .windows(out.admin_token.len())
                .any(|w| w == out.admin_token.as_bytes()));
        }
    }

    #[test]
    fn the_admin_token_is_renewed_on_a_stopped_node() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = init_data_dir(dir.path(), "hq-1", protocol::Role::Hq, &[], true).expect("init");
        let until = Timestamp::from_millis(1_000_000);
        let (id, token) = renew_admin_token(dir.path(), until).expect("renew");
        assert_eq!(id, out.admin_user);
        assert_ne!(token, out.admin_token);
        let file = std::fs::read_to_string(dir.path().join(ADMIN_TOKEN_FILE)).expect("file");
        assert_eq!(file.trim(), token);
        let store = SledStore::open(dir.path(), 1 << 20).expect("open");
        assert!(store
            .user_by_token_hash(&token_hash(&out.admin_token))
            .expect("read")
            .is_none());
        let e = store
            .user_by_token_hash(&token_hash(&token))
            .expect("read")
            .expect("renewed admin");
        assert_eq!((e.user.id, e.expires_at), (out.admin_user, Some(until)));
        drop(store);
        let empty = tempfile::tempdir().expect("tempdir");
        assert!(renew_admin_token(empty.path(), until).is_err());
    }

    #[test]
    fn site_needs_call_centers() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(init_data_dir(dir.path(), "s", protocol::Role::Site, &[], false).is_err());
    }
}
