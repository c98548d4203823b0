//! Guided sales: what the agent is shown while an order is open.

use crate::config::{CallCenter, Catalog, Product};
use crate::ids::ProductId;
use crate::order::Order;
use std::collections::BTreeSet;

/// Suggestions for an order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Suggestions {
    /// Better products to offer instead.
    pub upsell: Vec<Product>,
    /// Products to offer alongside.
    pub cross_sell: Vec<Product>,
    /// Scripts: the source code's first, then each product's.
    pub scripts: Vec<String>,
}

/// Upsell and cross-sell of the order's products (excluding products already on it, each once,
/// in rule order), and the scripts of its source code and products. Empty when guided sales is
/// off or the order is no longer open.
pub fn suggestions(order: &Order, cc: &CallCenter, catalog: &Catalog) -> Suggestions {
    if !cc.guided_sales || order.lifecycle.submitted.is_some() || order.lifecycle.canceled.is_some()
    {
        return Suggestions::default();
    }
    let on_order: BTreeSet<&ProductId> = order.active_lines().map(|l| &l.product_id).collect();
    let mut seen: BTreeSet<&ProductId> = on_order.clone();
    let mut out = Suggestions::default();
    if let Some(script) = order
        .source_code
        .as_ref()
        .and_then(|c| catalog.source_codes.get(c))
        .and_then(|s| s.script.clone())
    {
        out.scripts.push(script);
    }
    let products: Vec<&Product> = order
        .active_lines()
        .filter_map(|l| catalog.products.get(&l.product_id))
        .collect();
    let mut scripted = BTreeSet::new();
    for p in &products {
        if let Some(s) = &p.script {
            if scripted.insert(&p.id) {
                out.scripts.push(s.clone());
            }
        }
    }
    for p in &products {
        for id in &p.upsell {
            if let Some(s) = catalog.products.get(id) {
                if seen.insert(id) {
                    out.upsell.push(s.clone());
                }
            }
        }
    }
    for p in &products {
        for id in &p.cross_sell {
            if let Some(s) = catalog.products.get(id) {
                if seen.insert(id) {
                    out.cross_sell.push(s.clone());
                }
            }
        }
    }
    out
}
