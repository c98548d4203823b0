//! The peers this node syncs with: listed, added or replaced, removed. Running a sync belongs to
//! the sync driver.

use super::{AppState, ServiceError, ServiceResult};
use crate::store::records;
use crate::store::{PeerConfig, StoreExt, TreeId};
use crate::views::{NewPeerBody, PeerView};

impl AppState {
    /// Configured peers.
    pub async fn peers(&self) -> ServiceResult<Vec<PeerView>> {
        self.read(|s| {
            Ok(s.peers()?
                .into_iter()
                .map(|p| PeerView {
                    name: p.name,
                    url: p.url,
                    node_id: p.node_id,
                })
                .collect())
        })
        .await
    }

    /// Adds or replaces a peer.
    pub async fn add_peer(&self, b: NewPeerBody) -> ServiceResult<PeerView> {
        self.write(move |ctx| {
            let old: Option<PeerConfig> = ctx
                .get(TreeId::Peers, b.name.as_bytes())?
                .map(|v| records::decode(&v))
                .transpose()?;
            let same_node = old
                .as_ref()
                .is_some_and(|o| b.node_id.is_none() || o.node_id == b.node_id);
            let peer = PeerConfig {
                name: b.name,
                url: b.url,
                secret: b.secret,
                node_id: b.node_id.or_else(|| old.as_ref().and_then(|o| o.node_id)),
                role: old.as_ref().filter(|_| same_node).and_then(|o| o.role),
                call_centers: old
                    .as_ref()
                    .filter(|_| same_node)
                    .and_then(|o| o.call_centers.clone()),
            };
            ctx.put_peer(&peer)?;
            Ok(PeerView {
                name: peer.name,
                url: peer.url,
                node_id: peer.node_id,
            })
        })
        .await
    }

    /// Removes a peer.
    pub async fn delete_peer(&self, name: String) -> ServiceResult<()> {
        self.write(move |ctx| {
            if ctx.get(TreeId::Peers, name.as_bytes())?.is_none() {
                return Err(ServiceError::not_found(format!(
                    "peer {name} does not exist"
                )));
            }
            ctx.delete_peer(&name)?;
            Ok(())
        })
        .await
    }
}
