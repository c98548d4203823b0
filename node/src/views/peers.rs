//! `/api/v1/peers`: the peers this node syncs with.

use crate::tls::Fingerprint;
use serde::{Deserialize, Serialize};
use switchboard_domain::CallCenterId;
use switchboard_sync::protocol::Role;
use utoipa::ToSchema;

/// Body of `POST /api/v1/peers`: who the peer is (its node id) and its whole scope, as the admin
/// declares it. The peer's hello must agree with it; nothing the peer says widens it.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPeerBody {
    /// The peer's node id: the fingerprint `switchboard node` prints on the peer (SHA-256 of its
    /// certificate's public key, 64 hex digits; `:` separators are accepted).
    #[schema(value_type = String, format = "node-id", max_length = 256)]
    pub node_id: String,
    /// A local name for the peer.
    #[schema(format = "peer-name")]
    pub name: String,
    /// Base URL of the peer's sync listener (`https://host:port`).
    #[schema(format = "url", max_length = 2048)]
    pub url: String,
    /// The peer's role: `site` or `hq`.
    #[schema(value_type = String, pattern = "^(site|hq)$")]
    pub role: String,
    /// The call centers the peer serves (a site: at least one; HQ: none, it reads everything).
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub call_centers: Vec<CallCenterId>,
}

/// A peer as checked and ready to store (see `api::peers`).
#[derive(Clone, Debug)]
pub struct NewPeer {
    /// The pinned fingerprint.
    pub fingerprint: Fingerprint,
    /// Local name.
    pub name: String,
    /// Base URL.
    pub url: String,
    /// Declared role.
    pub role: Role,
    /// Declared call centers.
    pub call_centers: Vec<CallCenterId>,
}

/// A peer as listed.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PeerView {
    /// Local name.
    pub name: String,
    /// Base URL.
    pub url: String,
    /// The peer's node id (certificate fingerprint); null for a peer of contract v1, added with
    /// a shared secret, which this node no longer syncs with until it is added again by node id.
    #[schema(value_type = Option<String>, format = "node-id")]
    pub node_id: Option<Fingerprint>,
    /// Its declared role (`site` or `hq`).
    #[schema(value_type = Option<String>)]
    pub role: Option<String>,
    /// Its declared call centers.
    #[schema(value_type = Option<Vec<String>>)]
    pub call_centers: Option<Vec<CallCenterId>>,
}

/// Answer of `GET /api/v1/peers`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PeerList {
    /// Peers by name.
    pub items: Vec<PeerView>,
    /// The same list under the key `GET /api/v1/sync/status` uses, for clients of either shape.
    pub peers: Vec<PeerView>,
    /// Cursor of the next page, or null at the end.
    #[serde(default)]
    pub next_cursor: Option<String>,
}
