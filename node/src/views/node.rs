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
    /// This node's id.
    #[schema(value_type = String, format = Uuid)]
    pub node_id: NodeId,
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
