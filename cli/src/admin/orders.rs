//! `switchboard orders ...`: list orders page by page (`GET /api/v1/orders`) and show one
//! (`GET /api/v1/orders/{id}`). [`OrderPages`] also serves `export` and the demo.

use crate::client::{enc, Client, Conn};
use crate::output::{self, opt};
use anyhow::Result;
use clap::{Args, Subcommand};
use serde::Serialize;
use std::fmt::Display;
use switchboard_domain::OrderId;
use switchboard_node::views::{OrderList, OrderSummary, OrderView};

/// `switchboard orders ...`
#[derive(Args, Debug)]
pub struct OrdersArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    cmd: OrdersCmd,
}

#[derive(Subcommand, Debug)]
enum OrdersCmd {
    /// List orders (newest first), following pages up to --limit.
    List {
        /// Only orders of this customer.
        #[arg(long)]
        customer_id: Option<String>,
        /// Only orders in this status (open, submitted, on_hold, released, canceled).
        #[arg(long)]
        status: Option<String>,
        /// At most this many orders.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON (`{"items":[...]}`).
        #[arg(long)]
        json: bool,
    },
    /// Show one order.
    Show {
        /// The order id.
        id: String,
        /// Print the order view as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// What `orders list --json` prints: the summaries of every page read, without a cursor.
#[derive(Serialize)]
struct Listed {
    items: Vec<OrderSummary>,
}

/// Runs `switchboard orders ...`.
pub async fn run(args: OrdersArgs) -> Result<()> {
    let c = Client::from_conn(&args.conn)?;
    match args.cmd {
        OrdersCmd::List {
            customer_id,
            status,
            limit,
            json,
        } => {
            let mut items = Vec::new();
            let mut pages = OrderPages::new(customer_id, status);
            while items.len() < limit {
                match pages.next(&c).await? {
                    Some(page) => items.extend(page),
                    None => break,
                }
            }
            items.truncate(limit);
            output::print(json, &Listed { items }, |l| {
                output::print_table_or(
                    "no orders",
                    &["ORDER", "STATUS", "TOTAL", "CUSTOMER", "CREATED"],
                    &summary_rows(&l.items),
                );
            })?;
        }
        OrdersCmd::Show { id, json } => {
            let view = order(&c, &id).await?;
            output::print(json, &view, |v| {
                for line in describe(v) {
                    outln!("{line}");
                }
            })?;
        }
    }
    Ok(())
}

/// `GET /api/v1/orders/{id}`: an id as typed on the command line or as a node answered it.
pub async fn order(c: &Client, id: impl Display) -> Result<OrderView> {
    c.get(&format!("/api/v1/orders/{}", enc(&id.to_string())))
        .await
}

/// Pages through `GET /api/v1/orders` by cursor.
pub struct OrderPages {
    filter: String,
    cursor: Option<String>,
    done: bool,
}

impl OrderPages {
    /// Starts at the first page, optionally filtered.
    pub fn new(customer_id: Option<String>, status: Option<String>) -> OrderPages {
        let mut filter = String::new();
        if let Some(cid) = customer_id {
            filter.push_str(&format!("&customer_id={}", enc(&cid)));
        }
        if let Some(st) = status {
            filter.push_str(&format!("&status={}", enc(&st)));
        }
        OrderPages {
            filter,
            cursor: None,
            done: false,
        }
    }

    /// The next page of order summaries, or `None` after the last.
    pub async fn next(&mut self, c: &Client) -> Result<Option<Vec<OrderSummary>>> {
        if self.done {
            return Ok(None);
        }
        let mut path = format!("/api/v1/orders?limit=100{}", self.filter);
        if let Some(cur) = &self.cursor {
            path.push_str(&format!("&cursor={}", enc(cur)));
        }
        let list: OrderList = c.get(&path).await?;
        let OrderList {
            items: page,
            next_cursor: next,
        } = list;
        // A repeated cursor would loop forever against a buggy node; stop instead.
        if next.is_none() || next == self.cursor || page.is_empty() {
            self.done = true;
        }
        self.cursor = next;
        if page.is_empty() {
            return Ok(None);
        }
        Ok(Some(page))
    }
}

/// Every order id the node holds (pages followed to the end).
pub async fn all_order_ids(c: &Client) -> Result<Vec<OrderId>> {
    let mut ids = Vec::new();
    let mut pages = OrderPages::new(None, None);
    while let Some(page) = pages.next(c).await? {
        ids.extend(page.iter().map(|o| o.id));
    }
    Ok(ids)
}

fn summary_rows(items: &[OrderSummary]) -> Vec<Vec<String>> {
    items
        .iter()
        .map(|o| {
            vec![
                o.id.to_string(),
                o.status.as_str().to_string(),
                opt(&o.total),
                o.customer_id.to_string(),
                o.created_at.to_string(),
            ]
        })
        .collect()
}

/// The human form of one order: a heading, then one line per part of it.
fn describe(v: &OrderView) -> Vec<String> {
    let mut out = vec![
        format!("order {}  [{}]", v.id, v.status.as_str()),
        format!("  call center: {}", v.call_center_id),
        format!("  customer:    {}", v.customer_id),
        format!("  source code: {}", opt(&v.source_code)),
        format!("  delivery:    {}", opt(&v.delivery_mode)),
        format!("  created:     {} by {}", v.created_at, v.created_by),
        format!("  updated:     {}", v.updated_at),
    ];
    if !v.lines.is_empty() {
        out.push("  lines:".to_string());
        for l in &v.lines {
            out.push(format!(
                "    {} x {} @ {} = {}{}",
                l.quantity.get(),
                l.product_id,
                l.unit_price,
                l.line_total,
                if l.override_.is_some() {
                    " (price override)"
                } else {
                    ""
                }
            ));
        }
    }
    for ch in &v.charges {
        out.push(format!("  charge {}: {}", ch.code, ch.amount));
    }
    for cp in &v.coupons {
        out.push(format!("  coupon {}: -{}", cp.code, cp.discount));
    }
    for p in &v.payments {
        out.push(format!(
            "  payment {} {} [{}]",
            p.method, p.amount, p.status
        ));
    }
    for h in &v.holds {
        let state = match &h.cleared {
            Some(c) => format!("cleared by {}", c.by),
            None => "ACTIVE".to_string(),
        };
        out.push(format!(
            "  hold {}{}: {} [{}]",
            h.code,
            if h.system { " (system)" } else { "" },
            h.reason,
            state
        ));
    }
    for n in &v.notes {
        out.push(format!("  note ({}): {}", n.by, n.text));
    }
    let t = &v.totals;
    out.push(format!(
        "  totals: subtotal {}  discount {}  charges {}  total {}  paid {}  balance {}",
        t.subtotal, t.discount, t.charges, t.total, t.paid, t.balance
    ));
    if !v.conflicts.is_empty() {
        out.push("  conflicts:".to_string());
        for c in &v.conflicts {
            out.push(format!(
                "    {}: {}",
                c.path,
                serde_json::Value::from(c.values.clone())
            ));
        }
    }
    out
}

/// An order view as the node answers it, for tests here and in `export`.
#[cfg(test)]
pub(crate) fn sample_order() -> OrderView {
    serde_json::from_value(serde_json::json!({
        "id": "00000000-0000-7000-8000-000000000001",
        "call_center_id": "east",
        "customer_id": "00000000-0000-4000-8000-000000000002",
        "status": "on_hold",
        "source_code": null,
        "delivery_mode": "std",
        "ship_to": {"city": "Arlington"},
        "financial_dimensions": {},
        "currency": "EUR",
        "lines": [
            {"id": "00000000-0000-4000-8000-000000000010", "product_id": "widget", "quantity": 2,
             "unit_price": "12.50", "list_price": "12.50", "override": null, "line_total": "25.00"},
            {"id": "00000000-0000-4000-8000-000000000011", "product_id": "cable", "quantity": 1,
             "unit_price": "5.00", "list_price": "6.50",
             "override": {"reason_code": "match", "by": "00000000-0000-4000-8000-000000000003"},
             "line_total": "5.00"}
        ],
        "charges": [{"id": "00000000-0000-5000-8000-000000000020", "code": "std",
                     "amount": "4.95", "auto": true, "reason_code": null}],
        "coupons": [{"code": "WELCOME10", "discount": "10.00"}],
        "payments": [{"id": "00000000-0000-4000-8000-000000000030", "method": "card",
                      "amount": "19.95", "status": "authorized", "reference": null}],
        "holds": [
            {"id": "00000000-0000-4000-8000-000000000040", "code": "fraud", "reason": "check, \"card\"",
             "placed_by": "00000000-0000-4000-8000-000000000003",
             "placed_at": "2026-12-01T10:00:00.000Z", "cleared": null, "system": false},
            {"id": "00000000-0000-5000-8000-000000000041", "code": "system.payment",
             "reason": "paid twice", "placed_by": "00000000-0000-0000-0000-000000000000",
             "placed_at": "2026-12-01T10:01:00.000Z",
             "cleared": {"by": "00000000-0000-4000-8000-000000000004",
                         "at": "2026-12-01T10:02:00.000Z", "reason": "refunded"},
             "system": true}
        ],
        "notes": [{"id": "00000000-0000-4000-8000-000000000050",
                   "by": "00000000-0000-4000-8000-000000000003",
                   "at": "2026-12-01T10:03:00.000Z", "text": "call after 5pm"}],
        "totals": {"subtotal": "30.00", "discount": "10.00", "charges": "4.95", "total": "24.95",
                   "paid": "19.95", "balance": "5.00"},
        "conflicts": [{"path": "ship_to.city", "values": ["Arlington", {"alt": 2}]}],
        "continuity_parent": null,
        "created_at": "2026-12-01T09:59:00.000Z",
        "created_by": "00000000-0000-4000-8000-000000000003",
        "updated_at": "2026-12-01T10:03:00.000Z"
    }))
    .expect("a valid order view")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describes_an_order_part_by_part() {
        assert_eq!(
            describe(&sample_order()),
            [
                "order 00000000-0000-7000-8000-000000000001  [on_hold]",
                "  call center: east",
                "  customer:    00000000-0000-4000-8000-000000000002",
                "  source code: ",
                "  delivery:    std",
                "  created:     2026-12-01T09:59:00.000Z by 00000000-0000-4000-8000-000000000003",
                "  updated:     2026-12-01T10:03:00.000Z",
                "  lines:",
                "    2 x widget @ 12.50 = 25.00",
                "    1 x cable @ 5.00 = 5.00 (price override)",
                "  charge std: 4.95",
                "  coupon WELCOME10: -10.00",
                "  payment card 19.95 [authorized]",
                "  hold fraud: check, \"card\" [ACTIVE]",
                "  hold system.payment (system): paid twice [cleared by 00000000-0000-4000-8000-000000000004]",
                "  note (00000000-0000-4000-8000-000000000003): call after 5pm",
                "  totals: subtotal 30.00  discount 10.00  charges 4.95  total 24.95  paid 19.95  balance 5.00",
                "  conflicts:",
                "    ship_to.city: [\"Arlington\",{\"alt\":2}]",
            ]
        );
    }

    #[test]
    fn summary_rows_show_a_missing_total_as_empty() {
        let mut s = sample_order().summary();
        s.total = None;
        assert_eq!(
            summary_rows(&[s]),
            [vec![
                "00000000-0000-7000-8000-000000000001",
                "on_hold",
                "",
                "00000000-0000-4000-8000-000000000002",
                "2026-12-01T09:59:00.000Z",
            ]]
        );
    }
}
