//! Records stored in the trees, and their encoding. Every record goes through
//! [`switchboard_sync::codec`] (bincode with a version byte and a size limit on decode); keys are
//! raw bytes laid out so that sled's byte order is the useful order (big-endian numbers).

use crate::error::NodeError;
use automerge::ChangeHash;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use switchboard_domain::config::User;
use switchboard_domain::{CallCenterId, NodeId, Timestamp};
use switchboard_sync::protocol::Role;
use uuid::Uuid;

pub use switchboard_sync::doc::{DocKind, DocMeta};

/// Schema version of the store layout written by this build.
pub const SCHEMA_VERSION: u32 = 1;

/// Largest record accepted on decode.
pub const MAX_RECORD: u64 = switchboard_sync::codec::DEFAULT_LIMIT;

/// Encodes a record with the shared codec (version byte + bincode).
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, NodeError> {
    Ok(switchboard_sync::codec::encode(value))
}

/// Decodes a record with the shared codec (checks the version byte and the size limit).
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, NodeError> {
    switchboard_sync::codec::decode(bytes, MAX_RECORD).map_err(|e| NodeError::Codec(e.to_string()))
}

/// The node's identity, kept in the `meta` tree under [`keys::IDENTITY`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeMeta {
    /// This node's id.
    pub node_id: NodeId,
    /// Its name.
    pub name: String,
    /// HQ or site.
    pub role: Role,
    /// Call centers this node serves (sites); empty at HQ.
    pub call_centers: Vec<CallCenterId>,
    /// The automerge actor id all local changes are written with (16 random bytes). Replaced
    /// when a backup is restored or a data dir is copied.
    pub actor: [u8; 16],
    /// Identifies this node's change feed; replaced together with the actor so that peers
    /// holding a checkpoint into the old feed start over.
    pub feed_epoch: Uuid,
    /// Store layout version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
}

impl NodeMeta {
    /// The actor id as automerge wants it.
    pub fn actor_id(&self) -> automerge::ActorId {
        automerge::ActorId::from(self.actor)
    }

    /// The identity as the sync protocol sees it.
    pub fn sync_identity(&self) -> switchboard_sync::protocol::NodeIdentity {
        switchboard_sync::protocol::NodeIdentity {
            node_id: self.node_id,
            role: self.role,
            call_centers: self.call_centers.clone(),
            feed_epoch: self.feed_epoch,
        }
    }
}

/// A stored document: `docs` tree, key = document uuid (16 bytes).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DocRecord {
    /// Kind and call center.
    pub meta: DocMeta,
    /// The document's current feed sequence number (its one entry in `feed`).
    pub seq: u64,
    /// The document's heads at save time.
    pub heads: Vec<[u8; 32]>,
    /// `Automerge::save()` bytes: the last compacted snapshot.
    pub bytes: Vec<u8>,
    /// Changes since the snapshot (`save_after` chunks, oldest first); compacted into `bytes`
    /// now and then ([`MAX_INCREMENTS`]).
    pub increments: Vec<Vec<u8>>,
}

/// Most increments kept before a document is compacted into a fresh snapshot (also when the
/// increments outgrow the snapshot).
pub const MAX_INCREMENTS: usize = 32;

impl DocRecord {
    /// Loads the document: the snapshot plus every increment, in one pass (the snapshot and its
    /// increments as one byte string, which automerge applies as one batch of changes: about
    /// three times faster for a typical order than applying each increment in turn). Falls back
    /// to applying them in turn, for its error message, if the one pass fails.
    pub fn load(&self, id: Uuid) -> Result<automerge::Automerge, NodeError> {
        if self.increments.is_empty() {
            return self.load_in_turn(id);
        }
        let mut all = Vec::with_capacity(self.bytes.len() + self.increment_bytes());
        all.extend_from_slice(&self.bytes);
        for chunk in &self.increments {
            all.extend_from_slice(chunk);
        }
        automerge::Automerge::load(&all).or_else(|_| self.load_in_turn(id))
    }

    /// Loads the document: the snapshot, then every increment in turn.
    pub fn load_in_turn(&self, id: Uuid) -> Result<automerge::Automerge, NodeError> {
        let err = |e: automerge::AutomergeError| NodeError::Document {
            doc: id,
            reason: e.to_string(),
        };
        let mut doc = automerge::Automerge::load(&self.bytes).map_err(err)?;
        for chunk in &self.increments {
            doc.load_incremental(chunk).map_err(err)?;
        }
        Ok(doc)
    }

    /// Bytes held in increments.
    pub fn increment_bytes(&self) -> usize {
        self.increments.iter().map(Vec::len).sum()
    }

    /// Heads as automerge change hashes.
    pub fn change_hashes(&self) -> Vec<ChangeHash> {
        self.heads.iter().map(|h| ChangeHash(*h)).collect()
    }
}

/// A `feed` value: key = seq (u64 big-endian).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeedValue {
    /// The document that changed.
    pub doc: Uuid,
    /// Its meta, so feed scans need not read documents.
    pub meta: DocMeta,
}

/// One entry of the change feed, as returned by scans.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedItem {
    /// Sequence number.
    pub seq: u64,
    /// The document.
    pub doc: Uuid,
    /// Its meta.
    pub meta: DocMeta,
}

/// A configured peer: `peers` tree, key = name. Read with [`PeerConfig::decode`], which also
/// reads the records of contract v1 ([`PeerConfigV1`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerConfig {
    /// Local name of the peer (unique).
    pub name: String,
    /// Base URL of the peer's sync listener (`https://`).
    pub url: String,
    /// The HMAC secret of a contract v1 peer (empty for peers added by node id; kept only so a
    /// backup can still leave it out). Nothing authenticates with it any more.
    pub secret: String,
    /// The peer's internal node UUID, learnt from its first hello over the authenticated link
    /// and pinned from then on.
    pub node_id: Option<NodeId>,
    /// The peer's role, as the admin declared it (contract v1 peers: as their first hello said).
    pub role: Option<Role>,
    /// The peer's call centers, as the admin declared them.
    pub call_centers: Option<Vec<CallCenterId>>,
    /// The peer's node id: the fingerprint of its certificate's public key, pinned by the admin.
    /// `None` for a contract v1 peer, which is neither contacted nor accepted until it is added
    /// again by node id.
    pub fingerprint: Option<crate::tls::Fingerprint>,
    /// The next node id the peer announced over the authenticated link (a key rotation under
    /// way): accepted beside `fingerprint` until the peer is seen with it, which then becomes
    /// the pinned one.
    pub next_fingerprint: Option<crate::tls::Fingerprint>,
}

/// A peer as stored before key rotation (no next fingerprint).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerConfigV2 {
    /// Local name.
    pub name: String,
    /// Base URL.
    pub url: String,
    /// Shared secret (contract v1).
    pub secret: String,
    /// Internal node id once learnt.
    pub node_id: Option<NodeId>,
    /// Declared role.
    pub role: Option<Role>,
    /// Declared call centers.
    pub call_centers: Option<Vec<CallCenterId>>,
    /// Pinned node id.
    pub fingerprint: Option<crate::tls::Fingerprint>,
}

/// A peer as contract v1 stored it: an HMAC secret, its identity learnt from its first hello.
#[derive(Clone, Debug, Deserialize)]
pub struct PeerConfigV1 {
    /// Local name.
    pub name: String,
    /// Base URL.
    pub url: String,
    /// Shared secret.
    pub secret: String,
    /// Node id once learnt.
    pub node_id: Option<NodeId>,
    /// Role once learnt.
    pub role: Option<Role>,
    /// Call centers once learnt.
    pub call_centers: Option<Vec<CallCenterId>>,
}

impl PeerConfig {
    /// Decodes a `peers` record, of this version or of contract v1 (which has no fingerprint).
    pub fn decode(bytes: &[u8]) -> Result<PeerConfig, NodeError> {
        match decode::<PeerConfig>(bytes) {
            Ok(p) => Ok(p),
            Err(e) => match decode::<PeerConfigV2>(bytes) {
                Ok(v2) => Ok(PeerConfig {
                    name: v2.name,
                    url: v2.url,
                    secret: v2.secret,
                    node_id: v2.node_id,
                    role: v2.role,
                    call_centers: v2.call_centers,
                    fingerprint: v2.fingerprint,
                    next_fingerprint: None,
                }),
                Err(_) => match decode::<PeerConfigV1>(bytes) {
                    Ok(v1) => Ok(PeerConfig {
                        name: v1.name,
                        url: v1.url,
                        secret: v1.secret,
                        node_id: v1.node_id,
                        role: v1.role,
                        call_centers: v1.call_centers,
                        fingerprint: None,
                        next_fingerprint: None,
                    }),
                    Err(_) => Err(e),
                },
            },
        }
    }

    /// Whether a TLS certificate with fingerprint `fp` is this peer's: its pinned node id, or
    /// the next one it announced (a rotation under way). Never for a contract v1 peer.
    pub fn accepts(&self, fp: &crate::tls::Fingerprint) -> bool {
        self.usable()
            && (self.fingerprint.as_ref() == Some(fp) || self.next_fingerprint.as_ref() == Some(fp))
    }

    /// Whether this node can sync with the peer: it was added by node id (not a contract v1
    /// peer still waiting to be added again).
    pub fn usable(&self) -> bool {
        self.fingerprint.is_some() && self.role.is_some()
    }
}

/// The last error of a peer link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerErrorRecord {
    /// When.
    pub at: Timestamp,
    /// What.
    pub message: String,
}

/// Sync state of one peer: `peer_state` tree, key = [`peer_checkpoint_key`] (the checkpoint with
/// a peer node) or [`peer_status_key`] (a configured peer's last success / last error).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerState {
    /// The sync checkpoint: a codec-encoded [`switchboard_sync::protocol::PeerCheckpoint`]
    /// (use [`PeerState::checkpoint`] / [`PeerState::set_checkpoint`]); empty = never synced.
    /// `verify` decodes it.
    pub checkpoint: Vec<u8>,
    /// Last successful session end.
    pub last_success: Option<Timestamp>,
    /// Last failure.
    pub last_error: Option<PeerErrorRecord>,
}

impl PeerState {
    /// The decoded checkpoint (default when empty).
    pub fn checkpoint(&self) -> Result<switchboard_sync::protocol::PeerCheckpoint, NodeError> {
        if self.checkpoint.is_empty() {
            Ok(Default::default())
        } else {
            decode(&self.checkpoint)
        }
    }

    /// Stores a checkpoint.
    pub fn set_checkpoint(&mut self, cp: &switchboard_sync::protocol::PeerCheckpoint) {
        self.checkpoint = switchboard_sync::codec::encode(cp);
    }
}

/// Where a user entry comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum UserOrigin {
    /// Written directly on this node (the node admin created at `init`).
    Local,
    /// Indexed from a call-center configuration document.
    CallCenterDoc(Uuid),
}

/// A user found by token: `users` tree, key = sha256 hex of the bearer token.
///
/// Stored as JSON inside the record envelope ([`UserEntry::encode`]), so that fields added later
/// (to it or to [`User`]) read from older entries through their serde defaults. Entries of the
/// first layout (bincode, no token lifetime) still read ([`UserEntry::decode`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEntry {
    /// The user.
    pub user: User,
    /// Where the entry comes from.
    pub origin: UserOrigin,
    /// When the token stops working; `None` for tokens made before tokens expired (they expire
    /// at the node's legacy deadline, see [`crate::auth`]).
    #[serde(default)]
    pub expires_at: Option<Timestamp>,
    /// The user was revoked: the token no longer works.
    #[serde(default)]
    pub disabled: bool,
    /// When the user was added, when known.
    #[serde(default)]
    pub created_at: Option<Timestamp>,
}

/// The first layout of a [`UserEntry`] (bincode, before tokens expired), read on upgrade.
#[derive(Deserialize)]
struct UserEntryV1 {
    user: UserV1,
    origin: UserOrigin,
}

/// [`User`] as the first [`UserEntry`] layout held it, frozen.
#[derive(Deserialize)]
struct UserV1 {
    id: switchboard_domain::UserId,
    name: String,
    role: switchboard_domain::config::Role,
    call_center: Option<CallCenterId>,
}

impl UserEntry {
    /// The stored form: the entry's JSON, in the record envelope.
    pub fn encode(&self) -> Result<Vec<u8>, NodeError> {
        let json = serde_json::to_vec(self).map_err(|e| NodeError::Codec(e.to_string()))?;
        encode(&json)
    }

    /// Reads a stored entry of either layout.
    pub fn decode(bytes: &[u8]) -> Result<UserEntry, NodeError> {
        let json = decode::<Vec<u8>>(bytes)
            .ok()
            .and_then(|j| serde_json::from_slice::<UserEntry>(&j).ok());
        if let Some(e) = json {
            return Ok(e);
        }
        let v1: UserEntryV1 = decode(bytes)?;
        Ok(UserEntry {
            user: User {
                id: v1.user.id,
                name: v1.user.name,
                role: v1.user.role,
                call_center: v1.user.call_center,
            },
            origin: v1.origin,
            expires_at: None,
            disabled: false,
            created_at: None,
        })
    }
}

/// Keys of the `meta` tree.
pub mod keys {
    /// [`super::NodeMeta`].
    pub const IDENTITY: &[u8] = b"identity";
    /// Last assigned feed sequence number (u64 BE).
    pub const FEED_SEQ: &[u8] = b"feed_seq";
    /// Feed seq covered by the read model (u64 BE), written in the same atomic write.
    pub const READ_MODEL_SEQ: &[u8] = b"read_model_seq";
    /// Version of the read-model projection (u32 BE) the read model was built with.
    pub const READ_MODEL_VERSION: &[u8] = b"read_model_version";
    /// Present in a restored backup: the opener takes a fresh actor and feed epoch.
    pub const RESTORED: &[u8] = b"restored";
    /// Prefix of the per-kind document counters (`doc_count/<kind>` → u64 BE), kept in the same
    /// atomic write as the documents.
    pub const DOC_COUNT_PREFIX: &[u8] = b"doc_count/";
    /// (device, inode) of the sled directory at the last open: a different one means the data
    /// dir was copied, and the opener takes a fresh actor and feed epoch.
    pub const DIR_IDENTITY: &[u8] = b"dir_identity";
}

/// The `meta` key of a kind's document counter.
pub fn doc_count_key(kind: DocKind) -> Vec<u8> {
    let mut k = keys::DOC_COUNT_PREFIX.to_vec();
    k.extend_from_slice(kind.as_str().as_bytes());
    k
}

/// `u64` as a big-endian key.
pub fn seq_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// Reads a big-endian `u64` key or value.
pub fn read_u64(bytes: &[u8]) -> Result<u64, NodeError> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| NodeError::Corrupt(format!("expected 8 bytes, got {}", bytes.len())))?;
    Ok(u64::from_be_bytes(arr))
}

/// Reads a 16-byte uuid key.
pub fn read_uuid(bytes: &[u8]) -> Result<Uuid, NodeError> {
    Uuid::from_slice(bytes).map_err(|_| NodeError::Corrupt("bad uuid key".into()))
}

/// `peer_heads` key: peer node id ++ doc uuid.
pub fn peer_heads_key(peer: &NodeId, doc: &Uuid) -> [u8; 32] {
    let mut k = [0u8; 32];
    k[..16].copy_from_slice(&peer_heads_prefix(peer));
    k[16..].copy_from_slice(doc.as_bytes());
    k
}

/// `peer_heads` prefix of every head recorded for one peer node.
pub fn peer_heads_prefix(peer: &NodeId) -> [u8; 16] {
    *peer.0.as_bytes()
}

/// `peer_state` key of the sync checkpoint with a peer node: its node id as text, so every
/// session with that node (outgoing to any configured peer with that id, or incoming) shares it.
pub fn peer_checkpoint_key(peer: &NodeId) -> String {
    peer.to_string()
}

/// `peer_state` key of a configured peer's last success / last error: `status:` ++ its name.
pub fn peer_status_key(name: &str) -> String {
    format!("status:{name}")
}

/// Key helpers for the read-model indexes (layouts documented in [`crate::store`]).
pub mod rm_keys {
    use switchboard_domain::Timestamp;
    use uuid::Uuid;

    /// `idx_customer_orders`: customer id ++ created_at (i64 millis BE, sign-flipped so negatives
    /// sort first) ++ order id. Scan with prefix = customer id (newest last; reverse for newest first).
    pub fn customer_order(customer: &Uuid, created_at: Timestamp, order: &Uuid) -> Vec<u8> {
        let mut k = Vec::with_capacity(40);
        k.extend_from_slice(customer.as_bytes());
        k.extend_from_slice(&((created_at.as_millis() as u64) ^ (1 << 63)).to_be_bytes());
        k.extend_from_slice(order.as_bytes());
        k
    }

    /// `idx_status` / `idx_held`: status name ++ 0 ++ order id. Scan with prefix = name ++ 0.
    pub fn status(status: &str, order: &Uuid) -> Vec<u8> {
        let mut k = Vec::with_capacity(status.len() + 17);
        k.extend_from_slice(status.as_bytes());
        k.push(0);
        k.extend_from_slice(order.as_bytes());
        k
    }

    /// Prefix for one status of `idx_status`.
    pub fn status_prefix(status: &str) -> Vec<u8> {
        let mut k = status.as_bytes().to_vec();
        k.push(0);
        k
    }

    /// `idx_coupon`: coupon code ++ 0 ++ order id (value: applied_at). Count with prefix = code ++ 0.
    pub fn coupon(code: &str, order: &Uuid) -> Vec<u8> {
        status(code, order)
    }

    /// Last 16 bytes of an index key as the order id.
    pub fn trailing_uuid(key: &[u8]) -> Option<Uuid> {
        key.len()
            .checked_sub(16)
            .and_then(|i| Uuid::from_slice(&key[i..]).ok())
    }
}
