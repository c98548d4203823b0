//! What the protocol's unit tests (`engine/tests.rs`, `frames/tests.rs`) build their replicas
//! from: a node identity of call center `east` and a one-line order.

use super::{NodeIdentity, Role};
use std::collections::BTreeMap;
use switchboard_domain::ids::{CustomerId, LineId, OrderId, ProductId, UserId};
use switchboard_domain::money::Quantity;
use switchboard_domain::order::{Line, Order, Stamp};
use switchboard_domain::{CallCenterId, Decimal, NodeId, Timestamp};
use uuid::Uuid;

/// A node of call center `east`, its id and feed epoch derived from `name`.
pub(crate) fn identity(name: &str, role: Role) -> NodeIdentity {
    NodeIdentity {
        node_id: NodeId(Uuid::new_v5(&Uuid::NAMESPACE_OID, name.as_bytes())),
        role,
        call_centers: vec![CallCenterId::parse("east").expect("id")],
        feed_epoch: Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("epoch-{name}").as_bytes()),
    }
}

/// The stamp of every fixture: user 1, at a fixed time.
pub(crate) fn stamp() -> Stamp {
    Stamp {
        by: UserId(Uuid::from_u128(1)),
        at: Timestamp::from_millis(1_780_000_000_000),
    }
}

/// Order `i` of call center `east`: one line of `tea`, ids derived from `i`.
pub(crate) fn order(i: u128) -> Order {
    let line = Line {
        id: LineId(Uuid::from_u128((1 << 64) + i)),
        product_id: ProductId::parse("tea").expect("id"),
        quantity: Quantity::new(1).expect("qty"),
        list_price: Decimal::new(1000, 2),
        unit_price: Decimal::new(1000, 2),
        price_override: None,
        added: stamp(),
        removed: None,
    };
    Order {
        lines: BTreeMap::from([(line.id, line)]),
        ..Order::new(
            OrderId(Uuid::from_u128((2 << 64) + i)),
            CallCenterId::parse("east").expect("id"),
            CustomerId(Uuid::from_u128(3 << 64)),
            stamp(),
        )
    }
}
