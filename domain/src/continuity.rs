//! Continuity programs: a line for a continuity product creates a schedule of child orders, every
//! N days, M times, counted from the parent's submission. Child ids are UUID v5 of (parent, line,
//! index), so every node that generates a child generates the same one.

use crate::config::{Catalog, Continuity};
use crate::ids::{LineId, OrderId, ProductId};
use crate::order::{ContinuityRef, Line, Order, Stamp, SYSTEM_USER};
use crate::time::Timestamp;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Namespace of continuity child ids.
pub const CONTINUITY_NAMESPACE: Uuid = Uuid::from_u128(0x9c41_22f0_7d3e_4b8a_a1c5_6e0f_3b2d_7a90);

/// One child order that is due.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueChild {
    /// The child's id.
    pub id: OrderId,
    /// What ties it to the parent.
    pub link: ContinuityRef,
    /// When it fell due (and its creation time, the same on every node).
    pub due: Timestamp,
}

/// The id of the `index`th child of a parent's continuity line.
pub fn child_id(parent: OrderId, line: LineId, index: u32) -> OrderId {
    let mut name = parent.0.as_bytes().to_vec();
    name.extend_from_slice(line.0.as_bytes());
    name.extend_from_slice(&index.to_be_bytes());
    OrderId(Uuid::new_v5(&CONTINUITY_NAMESPACE, &name))
}

/// The id of the one line of a child order.
pub fn child_line_id(child: OrderId) -> LineId {
    LineId(Uuid::new_v5(&CONTINUITY_NAMESPACE, child.0.as_bytes()))
}

/// The continuity program one line of an order sells, with the schedule of its child orders.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineProgram {
    /// The line.
    pub line: LineId,
    /// Its product.
    pub product_id: ProductId,
    /// The program (from the catalog).
    pub program: Continuity,
    /// Every child the line will have, in order: its id, and its due date once the parent is
    /// submitted (none before; none either when the parent was canceled, as no further child
    /// is made then).
    pub children: Vec<(OrderId, Option<Timestamp>)>,
}

/// The continuity programs an order sells: one per active line whose product is a continuity
/// program, with the ids and due dates of its children ([`due_children`] makes them when they
/// fall due). A child order sells no program of its own.
pub fn programs(order: &Order, catalog: &Catalog) -> Vec<LineProgram> {
    if order.continuity.is_some() {
        return Vec::new();
    }
    let start = match (&order.lifecycle.submitted, &order.lifecycle.canceled) {
        (Some(s), None) => Some(s.at),
        _ => None,
    };
    order
        .active_lines()
        .filter_map(|line| {
            let program = catalog.products.get(&line.product_id)?.continuity?;
            let dates = start.map(|s| program.due_dates(s));
            let children = (1..=program.times)
                .map(|index| {
                    let due = dates
                        .as_ref()
                        .and_then(|d| d.get(index as usize - 1).copied());
                    (child_id(order.id, line.id, index), due)
                })
                .collect();
            Some(LineProgram {
                line: line.id,
                product_id: line.product_id.clone(),
                program,
                children,
            })
        })
        .collect()
}

/// Children of a submitted, non-canceled parent that are due at `now`, for every active line whose
/// product is a continuity program. The caller skips children it already holds.
pub fn due_children(parent: &Order, catalog: &Catalog, now: Timestamp) -> Vec<DueChild> {
    let (Some(submitted), None) = (&parent.lifecycle.submitted, &parent.lifecycle.canceled) else {
        return Vec::new();
    };
    // A child order is not itself a parent.
    if parent.continuity.is_some() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for line in parent.active_lines() {
        let Some(program) = catalog
            .products
            .get(&line.product_id)
            .and_then(|p| p.continuity)
        else {
            continue;
        };
        for (i, due) in program.due_dates(submitted.at).into_iter().enumerate() {
            if due > now {
                break;
            }
            let index = i as u32 + 1;
            out.push(DueChild {
                id: child_id(parent.id, line.id, index),
                link: ContinuityRef {
                    parent: parent.id,
                    line: line.id,
                    index,
                },
                due,
            });
        }
    }
    out
}

/// The child order, built only from the parent and the due child, so it is the same on every node.
/// It is open, carries the parent's header and one line for the program product at the parent's price.
pub fn child_order(parent: &Order, child: &DueChild) -> Option<Order> {
    let pline = parent.lines.get(&child.link.line)?;
    let stamp = Stamp {
        by: SYSTEM_USER,
        at: child.due,
    };
    let line_id = child_line_id(child.id);
    let line = Line {
        id: line_id,
        product_id: pline.product_id.clone(),
        quantity: pline.quantity,
        list_price: pline.list_price,
        unit_price: pline.unit_price,
        price_override: pline.price_override.clone(),
        added: stamp.clone(),
        removed: None,
    };
    Some(Order {
        source_code: parent.source_code.clone(),
        delivery_mode: parent.delivery_mode.clone(),
        ship_to: parent.ship_to.clone(),
        financial_dimensions: parent.financial_dimensions.clone(),
        lines: BTreeMap::from([(line_id, line)]),
        continuity: Some(child.link.clone()),
        ..Order::new(
            child.id,
            parent.call_center_id.clone(),
            parent.customer_id,
            stamp,
        )
    })
}
