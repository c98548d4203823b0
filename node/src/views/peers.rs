//! `/api/v1/peers`: the peers this node syncs with.

use serde::{Deserialize, Serialize};
use switchboard_domain::NodeId;
use utoipa::ToSchema;

/// Body of `POST /api/v1/peers`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPeerBody {
    /// The peer's node id, if known.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Uuid)]
    pub node_id: Option<NodeId>,
    /// A local name for the peer.
    #[schema(format = "peer-name")]
    pub name: String,
    /// Base URL of the peer.
    #[schema(format = "url", max_length = 2048)]
    pub url: String,
    /// Shared secret for peer authentication.
    #[schema(min_length = 16, max_length = 1024)]
    pub secret: String,
}

/// A peer as listed (never with its secret).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct PeerView {
    /// Local name.
    pub name: String,
    /// Base URL.
    pub url: String,
    /// Node id, if known.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub node_id: Option<NodeId>,
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
