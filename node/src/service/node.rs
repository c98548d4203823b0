//! The node itself: who it is (`GET /api/v1/node`), whether its store answers, the document
//! gauges of `/metrics`, and the token lookup behind authentication.

use super::{AppState, ServiceError, ServiceResult};
use crate::store::records;
use crate::store::{DocKind, StoreExt, TreeId};
use crate::views::{DocumentCounts, NodeView};
use std::collections::BTreeMap;
use switchboard_sync::protocol::Role;

impl AppState {
    /// The store answers.
    pub async fn check_ready(&self) -> ServiceResult<()> {
        self.read(|s| {
            s.get(TreeId::Meta, records::keys::IDENTITY)
                .map_err(|e| ServiceError::Unavailable(e.to_string()))?
                .map(|_| ())
                .ok_or_else(|| ServiceError::Unavailable("store holds no identity".into()))
        })
        .await
    }

    /// `GET /api/v1/node`.
    pub async fn node_view(&self) -> ServiceResult<NodeView> {
        let id = self.identity.clone();
        let ccs = match id.role {
            Role::Site => id.call_centers.iter().map(|c| c.to_string()).collect(),
            Role::Hq => self
                .configs
                .call_center_ids()
                .iter()
                .map(|c| c.to_string())
                .collect(),
        };
        let counts = self.doc_counts().await?;
        let count = |k: DocKind| counts.get(&k).copied().unwrap_or(0);
        let (orders, customers) = (count(DocKind::Order), count(DocKind::Customer));
        Ok(NodeView {
            node_id: id.node_id,
            fingerprint: self.node_key.fingerprint,
            name: id.name.clone(),
            role: id.role.as_str().to_string(),
            call_centers: ccs,
            version: env!("CARGO_PKG_VERSION").to_string(),
            documents: DocumentCounts { orders, customers },
        })
    }

    /// Sets the `switchboard_documents{kind}` gauges from the read model.
    pub async fn record_document_gauges(&self) -> ServiceResult<()> {
        let counts = self.doc_counts().await?;
        for kind in [
            DocKind::Order,
            DocKind::Customer,
            DocKind::CallCenter,
            DocKind::Catalog,
        ] {
            let n = counts.get(&kind).copied().unwrap_or(0);
            metrics::gauge!("switchboard_documents", "kind" => kind.as_str()).set(n as f64);
        }
        Ok(())
    }

    /// Documents held, by kind (counters the store keeps with the documents).
    async fn doc_counts(&self) -> ServiceResult<BTreeMap<DocKind, u64>> {
        self.read(|s| Ok(s.doc_counts()?.into_iter().collect()))
            .await
    }
}
