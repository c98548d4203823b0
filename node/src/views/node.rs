//! `GET /api/v1/node`: who this node is.

use serde::{Deserialize, Serialize};
use switchboard_domain::NodeId;
use utoipa::ToSchema;

/// Document counts of `GET /api/v1/node`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DocumentCounts {
    /// Orders held.
    pub orders: u64,
    /// Customers held.
    pub customers: u64,
}

/// Answer of `GET /api/v1/node`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct NodeView {
    /// This node's internal id (a UUID: order history, holds and checkpoints name nodes by it).
    #[schema(value_type = String, format = Uuid)]
    pub node_id: NodeId,
    /// The node id its peers pin (the `node_id` of `POST /api/v1/peers` on another node): the
    /// SHA-256 of its certificate's public key, 64 hex digits.
    #[schema(value_type = String, pattern = "^[0-9a-f]{64}$")]
    pub fingerprint: crate::tls::Fingerprint,
    /// Its name.
    pub name: String,
    /// `site` or `hq`.
    pub role: String,
    /// Call centers it serves (a site) or all it knows (HQ).
    pub call_centers: Vec<String>,
    /// Software version.
    pub version: String,
    /// Document counts.
    pub documents: DocumentCounts,
}
