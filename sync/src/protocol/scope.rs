//! Replication scopes. A site reads the catalog, its call centers' configuration and its call
//! centers' orders and customers, and writes only those orders and customers; HQ reads and writes
//! everything. Configuration is written only at HQ.

use super::{PeerInfo, Role};
use crate::doc::{DocKind, DocMeta};

/// Whether `node` replicates a document.
pub fn may_read(node: &PeerInfo, meta: &DocMeta) -> bool {
    match (node.role, meta.kind) {
        (Role::Hq, _) => true,
        (Role::Site, DocKind::Catalog) => true,
        (Role::Site, DocKind::CallCenter | DocKind::Order | DocKind::Customer) => meta
            .call_center
            .as_ref()
            .is_some_and(|cc| node.call_centers.contains(cc)),
    }
}

/// Whether `node` may send changes of a document to its peers.
pub fn may_write(node: &PeerInfo, meta: &DocMeta) -> bool {
    match (node.role, meta.kind) {
        (Role::Hq, _) => true,
        (Role::Site, DocKind::Catalog | DocKind::CallCenter) => false,
        (Role::Site, DocKind::Order | DocKind::Customer) => meta
            .call_center
            .as_ref()
            .is_some_and(|cc| node.call_centers.contains(cc)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_domain::{CallCenterId, NodeId};
    use uuid::Uuid;

    fn check(role: Role, kind: DocKind, cc: Option<&str>, read: bool, write: bool) {
        let node = PeerInfo {
            node_id: NodeId(Uuid::nil()),
            role,
            call_centers: vec![CallCenterId::parse("east").unwrap()],
        };
        let meta = DocMeta {
            kind,
            call_center: cc.map(|c| CallCenterId::parse(c).unwrap()),
        };
        assert_eq!(
            may_read(&node, &meta),
            read,
            "read {role:?} {kind:?} {cc:?}"
        );
        assert_eq!(
            may_write(&node, &meta),
            write,
            "write {role:?} {kind:?} {cc:?}"
        );
    }

    #[test]
    fn scopes() {
        check(Role::Hq, DocKind::Catalog, None, true, true);
        check(Role::Hq, DocKind::Order, Some("west"), true, true);
        check(Role::Site, DocKind::Catalog, None, true, false);
        check(Role::Site, DocKind::CallCenter, Some("east"), true, false);
        check(Role::Site, DocKind::CallCenter, Some("west"), false, false);
        check(Role::Site, DocKind::Order, Some("east"), true, true);
        check(Role::Site, DocKind::Customer, Some("east"), true, true);
        check(Role::Site, DocKind::Order, Some("west"), false, false);
        check(Role::Site, DocKind::Order, None, false, false);
    }
}
