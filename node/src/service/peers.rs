//! The peers this node syncs with: listed, added or replaced, removed. Running a sync belongs to
//! the sync driver.

use super::{AppState, ServiceError, ServiceResult};
use crate::store::{PeerConfig, StoreExt, TreeId};
use crate::views::{NewPeer, PeerView};

impl From<PeerConfig> for PeerView {
    fn from(p: PeerConfig) -> PeerView {
        PeerView {
            name: p.name,
            url: p.url,
            node_id: p.fingerprint,
            role: p.role.map(|r| r.as_str().to_string()),
            call_centers: p.call_centers,
        }
    }
}

impl AppState {
    /// Configured peers.
    pub async fn peers(&self) -> ServiceResult<Vec<PeerView>> {
        self.read(|s| Ok(s.peers()?.into_iter().map(PeerView::from).collect()))
            .await
    }

    /// Adds or replaces a peer by node id, with the scope the admin declares. Replacing a peer
    /// by the same node id keeps the internal id learnt from its hello; another node id starts
    /// afresh. A node id is one peer's only (409 otherwise), and never this node's own (422).
    pub async fn add_peer(&self, b: NewPeer) -> ServiceResult<PeerView> {
        if b.fingerprint == self.node_key.fingerprint {
            return Err(ServiceError::invalid_field(
                "node_id",
                "is this node's own node id",
            ));
        }
        self.write(move |ctx| {
            let mut old: Option<PeerConfig> = None;
            for (k, v) in ctx.scan_prefix(TreeId::Peers, b"")? {
                let p = PeerConfig::decode(&v)?;
                if k == b.name.as_bytes() {
                    old = Some(p);
                } else if p.fingerprint == Some(b.fingerprint) {
                    return Err(ServiceError::Conflict(format!(
                        "node id {} is already peer {}",
                        b.fingerprint, p.name
                    )));
                }
            }
            let same_node = old
                .as_ref()
                .is_some_and(|o| o.fingerprint == Some(b.fingerprint));
            let peer = PeerConfig {
                name: b.name,
                url: b.url,
                secret: String::new(),
                node_id: old.filter(|_| same_node).and_then(|o| o.node_id),
                role: Some(b.role),
                call_centers: Some(b.call_centers),
                fingerprint: Some(b.fingerprint),
                next_fingerprint: None,
            };
            ctx.put_peer(&peer)?;
            Ok(PeerView::from(peer))
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
