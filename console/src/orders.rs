//! Order screens: the sales order page (script, lines with pictures, price overrides,
//! upsell/cross-sell, coupons, charges, payments, holds, notes, the recap before submit), the
//! orders list and the supervisors' hold queue. Each form posts one action that runs one order
//! command through the node's service; the domain decides, and a refusal comes back as its
//! reason on the page (post, redirect, get).

use crate::auth::{page, Signed};
use crate::customers::{order_table, short};
use crate::layout::when;
use crate::session::Flash;
use crate::{money, strings as s, Console};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use switchboard_domain::commands::{
    AddCharge, AddLine, AddPayment, ChangeLine, OrderCommand, PriceChange,
};
use switchboard_domain::*;
use switchboard_node::service::ServiceError;
use switchboard_node::views::{
    ContinuityLineView, ContinuityView, NewOrderBody, OrderListQuery, OrderSummary,
};
use uuid::Uuid;

/// `GET /`: the customer search, where a call starts.
pub async fn home(_signed: Signed) -> Response {
    Redirect::to("/customers").into_response()
}

/// A 404 page inside the shell.
pub async fn not_found(console: &Console, signed: &Signed) -> Response {
    let body = html! { p { (s::NOT_FOUND) } };
    (
        StatusCode::NOT_FOUND,
        page(console, signed, s::NOT_FOUND).render(body).await,
    )
        .into_response()
}

/// A user's name, for "held by" and history.
fn user_name(console: &Console, id: UserId) -> String {
    console
        .app
        .user_record(id)
        .map(|(_, r)| r.user.name)
        .unwrap_or_else(|| short(&id.to_string()).to_string())
}

fn field(f: &HashMap<String, String>, k: &str) -> String {
    f.get(k).map(|v| v.trim().to_string()).unwrap_or_default()
}

fn opt_field(f: &HashMap<String, String>, k: &str) -> Option<String> {
    Some(field(f, k)).filter(|v| !v.is_empty())
}

/// A form value that does not parse: the same refusal shape as the API's 422.
fn invalid(name: &str, msg: impl std::fmt::Display) -> ServiceError {
    ServiceError::invalid_field(name, msg.to_string())
}

fn code<T>(
    f: &HashMap<String, String>,
    k: &str,
    parse: impl Fn(String) -> Result<T, CodeError>,
) -> Result<T, ServiceError> {
    parse(field(f, k)).map_err(|e| invalid(k, e.0))
}

fn amount(f: &HashMap<String, String>, k: &str) -> Result<Decimal, ServiceError> {
    Decimal::from_str(&field(f, k)).map_err(|_| invalid(k, "must be an amount such as 12.50"))
}

fn quantity(f: &HashMap<String, String>, k: &str) -> Result<Quantity, ServiceError> {
    let n: i64 = field(f, k)
        .parse()
        .map_err(|_| invalid(k, "must be a whole number"))?;
    Quantity::new(n).map_err(|e| invalid(k, e))
}

fn item_uuid(s: &str) -> Result<Uuid, ServiceError> {
    Uuid::parse_str(s).map_err(|_| ServiceError::not_found("no such item on this order"))
}

/// The order command of an action form, built as the API builds it from a body.
fn command(action: &str, f: &HashMap<String, String>) -> Result<OrderCommand, ServiceError> {
    Ok(match action {
        "lines" => {
            let unit_price = opt_field(f, "unit_price")
                .map(|p| {
                    Decimal::from_str(&p)
                        .map_err(|_| invalid("unit_price", "must be an amount such as 12.50"))
                })
                .transpose()?;
            let override_reason = if unit_price.is_some() {
                opt_field(f, "override_reason")
                    .map(ReasonCode::parse)
                    .transpose()
                    .map_err(|e| invalid("override_reason", e.0))?
            } else {
                None
            };
            OrderCommand::AddLine(AddLine {
                id: LineId(Uuid::now_v7()),
                product_id: code(f, "product_id", ProductId::parse)?,
                quantity: quantity(f, "quantity")?,
                unit_price,
                override_reason,
            })
        }
        "coupons" => {
            let c = field(f, "code");
            OrderCommand::ApplyCoupon(CouponCode::parse(c.clone()).map_err(|_| {
                ServiceError::Rule {
                    kind: ErrorKind::CouponInvalid,
                    detail: format!("coupon {c} does not exist"),
                }
            })?)
        }
        "charges" => OrderCommand::AddCharge(AddCharge {
            id: ChargeId(Uuid::now_v7()),
            code: code(f, "code", ChargeCode::parse)?,
            amount: amount(f, "amount")?,
            reason_code: code(f, "reason_code", ReasonCode::parse)?,
        }),
        "payments" => OrderCommand::AddPayment(AddPayment {
            id: PaymentId(Uuid::now_v7()),
            method: code(f, "method", PaymentMethodId::parse)?,
            amount: amount(f, "amount")?,
            reference: opt_field(f, "reference"),
        }),
        "holds" => OrderCommand::PlaceHold {
            id: HoldId(Uuid::now_v7()),
            code: code(f, "code", HoldCode::parse)?,
            reason: field(f, "reason"),
        },
        "notes" => OrderCommand::AddNote {
            id: NoteId(Uuid::now_v7()),
            text: field(f, "text"),
        },
        "submit" => OrderCommand::Submit,
        "cancel" => OrderCommand::Cancel {
            reason: field(f, "reason"),
        },
        _ => return Err(ServiceError::not_found("no such action")),
    })
}

/// The order command of an action on one item of the order.
fn item_command(
    what: &str,
    item: &str,
    action: &str,
    f: &HashMap<String, String>,
) -> Result<OrderCommand, ServiceError> {
    Ok(match (what, action) {
        ("lines", "remove") => OrderCommand::RemoveLine(LineId(item_uuid(item)?)),
        ("lines", "price") => {
            let price = match opt_field(f, "unit_price") {
                None => PriceChange::Revert,
                Some(p) => PriceChange::Set {
                    unit_price: Decimal::from_str(&p)
                        .map_err(|_| invalid("unit_price", "must be an amount such as 12.50"))?,
                    reason: opt_field(f, "override_reason")
                        .map(ReasonCode::parse)
                        .transpose()
                        .map_err(|e| invalid("override_reason", e.0))?,
                },
            };
            OrderCommand::ChangeLine(ChangeLine {
                line_id: LineId(item_uuid(item)?),
                quantity: None,
                price: Some(price),
            })
        }
        ("coupons", "remove") => OrderCommand::RemoveCoupon(
            CouponCode::parse(item.to_string())
                .map_err(|_| ServiceError::not_found("no such coupon on this order"))?,
        ),
        ("payments", "void") => OrderCommand::VoidPayment(PaymentId(item_uuid(item)?)),
        ("holds", "clear") => OrderCommand::ClearHold {
            id: HoldId(item_uuid(item)?),
            reason: field(f, "reason"),
        },
        _ => return Err(ServiceError::not_found("no such action")),
    })
}

async fn run(
    console: &Console,
    signed: &Signed,
    id: &str,
    cmd: Result<OrderCommand, ServiceError>,
    done: String,
) -> Response {
    let Ok(oid) = Uuid::parse_str(id).map(OrderId) else {
        return not_found(console, signed).await;
    };
    let added = match &cmd {
        Ok(OrderCommand::AddLine(l)) => Some(l.product_id.to_string()),
        _ => None,
    };
    let result = match cmd {
        Ok(cmd) => console
            .app
            .order_command(&signed.user, oid, cmd)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    let mut to = format!("/orders/{oid}");
    match result {
        Ok(()) => {
            signed.flash(console, Flash::Done(done));
            if let Some(p) = added {
                to.push_str(&format!("?added={p}"));
            }
        }
        Err(e) => signed.flash(console, Flash::Refused(e.to_string())),
    }
    Redirect::to(&to).into_response()
}

/// `POST /orders/{id}/{action}`: one order command.
pub async fn act(
    State(console): State<Console>,
    signed: Signed,
    Path((id, action)): Path<(String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = signed.check(&field(&f, "csrf")) {
        return r.into_response();
    }
    let done = match action.as_str() {
        "lines" => s::line_added(&field(&f, "product_id")),
        _ => s::DONE.to_string(),
    };
    run(&console, &signed, &id, command(&action, &f), done).await
}

/// `POST /orders/{id}/{what}/{item}/{action}`: one order command on an item of the order.
pub async fn act_on(
    State(console): State<Console>,
    signed: Signed,
    Path((id, what, item, action)): Path<(String, String, String, String)>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = signed.check(&field(&f, "csrf")) {
        return r.into_response();
    }
    let cmd = item_command(&what, &item, &action, &f);
    run(&console, &signed, &id, cmd, s::DONE.to_string()).await
}

/// `POST /orders`: a new order for a customer.
pub async fn create(
    State(console): State<Console>,
    signed: Signed,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    if let Err(r) = signed.check(&field(&f, "csrf")) {
        return r.into_response();
    }
    let customer = field(&f, "customer_id");
    let Ok(cid) = Uuid::parse_str(&customer).map(CustomerId) else {
        return not_found(&console, &signed).await;
    };
    let body = NewOrderBody {
        customer_id: cid,
        source_code: opt_field(&f, "source_code"),
        delivery_mode: opt_field(&f, "delivery_mode"),
        ship_to: BTreeMap::new(),
    };
    match console.app.create_order(&signed.user, body).await {
        Ok(o) => Redirect::to(&format!("/orders/{}", o.id)).into_response(),
        Err(e) => {
            signed.flash(&console, Flash::Refused(e.to_string()));
            Redirect::to(&format!("/customers/{cid}")).into_response()
        }
    }
}

/// Query of the sales order page.
#[derive(Deserialize)]
pub struct PageQuery {
    added: Option<String>,
}

fn csrf(signed: &Signed) -> Markup {
    html! { input type="hidden" name="csrf" value=(signed.csrf); }
}

/// `GET /orders/{id}`: the sales order page.
pub async fn page_handler(
    console: &Console,
    signed: &Signed,
    id: &str,
    added: Option<String>,
) -> Response {
    let Ok(oid) = Uuid::parse_str(id).map(OrderId) else {
        return not_found(console, signed).await;
    };
    let Ok(o) = console.app.order(&signed.user, oid).await else {
        return not_found(console, signed).await;
    };
    let sugg = console.app.suggestions(&signed.user, oid).await.ok();
    let history = console.app.order_history(&signed.user, oid).await.ok();
    let customer = console
        .app
        .customer(&signed.user, o.customer_id)
        .await
        .ok()
        .map(|(c, _)| c);
    let cc = console.app.configs.call_center(&o.call_center_id);
    let catalog = console.app.catalog();
    // The continuity schedule is read only for orders that have one to show.
    let sells_program = o.lines.iter().any(|l| {
        catalog
            .products
            .get(&l.product_id)
            .is_some_and(|p| p.continuity.is_some())
    });
    let continuity = if sells_program || o.continuity_parent.is_some() {
        console
            .app
            .order_continuity(&signed.user, oid)
            .await
            .unwrap_or_default()
    } else {
        ContinuityView::default()
    };
    let program_of = |line: &LineId| continuity.programs.iter().find(|p| p.line_id == *line);
    let cur = o.currency.clone();
    let m = |d: Decimal| money::format(d, &cur);
    let now = console.app.now();
    let source = o
        .source_code
        .as_ref()
        .and_then(|c| catalog.source_codes.get(c));
    let product_name = |p: &ProductId| {
        catalog
            .products
            .get(p)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| p.to_string())
    };
    let reason_codes: Vec<(String, String)> = cc
        .as_ref()
        .map(|c| {
            c.config
                .reason_codes
                .iter()
                .map(|r| (r.id.to_string(), r.name.clone()))
                .collect()
        })
        .unwrap_or_default();
    let title = format!("{} {}", s::ORDER, short(&o.id.to_string()));
    let body = html! {
        div id="order-page" data-events-url={ "/orders/" (o.id) "/events?since=" (o.updated_at.as_millis()) } {
            div id="live-changed" role="status" aria-live="polite" hidden {
                p { strong { (s::LIVE_CHANGED) } " " a href={ "/orders/" (o.id) } { (s::RELOAD) } }
                ul id="live-what" {}
            }
            p class="muted" { (s::SHORTCUTS) }
            p id="order-head" data-live {
                (s::STATUS) ": " strong id="order-status" { (o.status.as_str()) }
                " · " (s::CUSTOMER) ": "
                a href={ "/customers/" (o.customer_id) } { (customer.as_ref().map(|c| c.name.clone()).unwrap_or_else(|| o.customer_id.to_string())) }
                @if let Some(sc) = &o.source_code { " · " (s::SOURCE_CODE) ": " (sc) }
                @if let Some(src) = source { " · " (s::CATALOG) ": " (src.catalog) }
            }
            @if let Some(parent) = &continuity.parent {
                p id="continuity-parent" {
                    (s::continuity_child(parent.index, parent.times)) " "
                    a href={ "/orders/" (parent.order_id) } { (short(&parent.order_id.to_string())) }
                }
            }
            div class="grid" {
                div {
                    @if let Some(sg) = &sugg { @if !sg.scripts.is_empty() {
                        section aria-labelledby="script-h" id="script" {
                            h2 id="script-h" { (s::SCRIPT) }
                            @for sc in &sg.scripts { div class="script" { (sc) } }
                        }
                    } }
                    section aria-labelledby="lines-h" {
                        h2 id="lines-h" { (s::LINES) }
                        div id="lines-live" data-live { @if o.lines.is_empty() { p { (s::NO_LINES) } } @else {
                            table id="lines" {
                                thead { tr {
                                    th scope="col" { span class="skip" { (s::PRODUCT) } }
                                    th scope="col" { (s::PRODUCT) } th scope="col" class="num" { (s::QUANTITY) }
                                    th scope="col" class="num" { (s::UNIT_PRICE) } th scope="col" class="num" { (s::LIST_PRICE) }
                                    th scope="col" class="num" { (s::LINE_TOTAL) } th scope="col" { span class="skip" { (s::REMOVE) } }
                                } }
                                tbody {
                                    @for l in &o.lines {
                                        tr {
                                            td { img class="product" src={ "/console/product-image/" (l.product_id) } alt=(product_name(&l.product_id)); }
                                            td { (product_name(&l.product_id)) br; span class="muted" { (l.product_id) }
                                                @if let Some(p) = program_of(&l.id) { br; (program_line(p, now)) } }
                                            td class="num" { (l.quantity.get()) }
                                            td class="num" { (m(l.unit_price))
                                                @if let Some(ov) = &l.override_ { br; span class="muted" { (s::OVERRIDDEN) " (" (ov.reason_code) ")" } } }
                                            td class="num" { (m(l.list_price)) }
                                            td class="num" { (m(l.line_total)) }
                                            td {
                                                form method="post" action={ "/orders/" (o.id) "/lines/" (l.id) "/remove" } class="inline" {
                                                    (csrf(signed))
                                                    button type="submit" aria-label={ (s::REMOVE) " " (product_name(&l.product_id)) } { (s::REMOVE) }
                                                }
                                                form method="post" action={ "/orders/" (o.id) "/lines/" (l.id) "/price" } class="row" {
                                                    (csrf(signed))
                                                    label { (s::UNIT_PRICE) input name="unit_price" size="8" inputmode="decimal" aria-label={ (s::UNIT_PRICE) " " (product_name(&l.product_id)) }; }
                                                    label { (s::REASON_CODE)
                                                        select name="override_reason" { @for (id, name) in &reason_codes { option value=(id) { (name) } } } }
                                                    button type="submit" { (s::SET_PRICE) }
                                                }
                                            }
                                        }
                                    }
                                }
                            }
                        } }
                        form method="post" action={ "/orders/" (o.id) "/lines" } class="row" id="add-line" {
                            (csrf(signed))
                            label { (s::PRODUCT) " " kbd { "Alt+L" }
                                input id="product" name="product_id" list="products" required autocomplete="off"; }
                            datalist id="products" {
                                @for p in catalog.products.values().take(500) { option value=(p.id) { (p.name) " — " (m(p.price))
                                    @if let Some(c) = p.continuity { " — " (s::CONTINUITY) ": " (s::continuity_program(c.every_days, c.times)) } } }
                            }
                            label { (s::QUANTITY) input id="quantity" name="quantity" type="number" min="1" value="1" required; }
                            label { (s::OVERRIDE_PRICE) input id="override-price" name="unit_price" inputmode="decimal" size="8"; }
                            label { (s::REASON_CODE)
                                select id="override-reason" name="override_reason" { option value="" { (s::NONE) } @for (id, name) in &reason_codes { option value=(id) { (name) } } } }
                            button type="submit" class="primary" id="add-line-button" { (s::ADD_LINE) }
                        }
                    }
                    div id="continuity-live" data-live { @if !continuity.programs.is_empty() {
                        section aria-labelledby="continuity-h" id="continuity" {
                            h2 id="continuity-h" { (s::CONTINUITY_PROGRAMS) }
                            @if o.status.as_str() == "canceled" { p { (s::CONTINUITY_STOPPED) } }
                            @else if o.status.as_str() == "open" { p { (s::CONTINUITY_STARTS) } }
                            @for p in &continuity.programs {
                                h3 { (product_name(&p.product_id)) " — " (s::continuity_program(p.every_days, p.times)) }
                                p { (program_line(p, now)) }
                                @if p.children.iter().any(|c| c.due.is_some() || c.status.is_some()) {
                                    table class="continuity-children" {
                                        caption class="skip" { (product_name(&p.product_id)) }
                                        thead { tr { th scope="col" { (s::DELIVERY) } th scope="col" { (s::DUE) } th scope="col" { (s::ORDER) } } }
                                        tbody { @for c in &p.children { tr {
                                            td { (c.index) }
                                            td { @if let Some(d) = c.due { (when(d, now)) } }
                                            td { @if let Some(st) = c.status {
                                                a href={ "/orders/" (c.order_id) } { (short(&c.order_id.to_string())) } " (" (st.as_str()) ")"
                                            } @else { span class="muted" { (s::CONTINUITY_NOT_YET) } } }
                                        } } }
                                    }
                                }
                            }
                        }
                    } }
                    @if let Some(sg) = &sugg { @if !sg.upsell.is_empty() || !sg.cross_sell.is_empty() {
                        section class="suggest" aria-labelledby="suggest-h" id="suggestions" role=(if added.is_some() { "alert" } else { "region" }) {
                            h2 id="suggest-h" { (s::SUGGESTIONS) @if let Some(a) = &added { ": " (product_name(&ProductId::parse(a.clone()).unwrap_or_else(|_| ProductId::parse("x".to_string()).expect("a valid code")))) } " " kbd { "Alt+U" } }
                            @for (kind, list) in [(s::UPSELL, &sg.upsell), (s::CROSS_SELL, &sg.cross_sell)] {
                                @for p in list {
                                    form method="post" action={ "/orders/" (o.id) "/lines" } class="row" {
                                        (csrf(signed))
                                        input type="hidden" name="product_id" value=(p.id.clone().unwrap_or_default());
                                        input type="hidden" name="quantity" value="1";
                                        span { (kind) ": " (p.name) " — " (m(p.price)) }
                                        button type="submit" class="accept-suggestion" { (s::ACCEPT) " " (p.name) }
                                    }
                                }
                            }
                        }
                    } }
                    section aria-labelledby="coupons-h" {
                        h2 id="coupons-h" { (s::COUPONS) }
                        ul id="coupons-live" data-live { @for c in &o.coupons { li { (c.code) " − " (m(c.discount)) " "
                            form method="post" action={ "/orders/" (o.id) "/coupons/" (c.code) "/remove" } class="inline" { (csrf(signed)) button type="submit" aria-label={ (s::REMOVE) " " (c.code) } { (s::REMOVE) } } } } }
                        form method="post" action={ "/orders/" (o.id) "/coupons" } class="row" {
                            (csrf(signed))
                            label { (s::COUPON_CODE) input id="coupon" name="code" required; }
                            button type="submit" id="apply-coupon" { (s::APPLY) }
                        }
                    }
                    section aria-labelledby="charges-h" {
                        h2 id="charges-h" { (s::CHARGES) }
                        ul id="charges-live" data-live { @for c in &o.charges { li { (c.code) ": " (m(c.amount)) @if c.auto { " (" (s::AUTOMATIC) ")" } } } }
                        form method="post" action={ "/orders/" (o.id) "/charges" } class="row" {
                            (csrf(signed))
                            label { (s::CHARGE_CODE) input id="charge-code" name="code" required; }
                            label { (s::AMOUNT) input id="charge-amount" name="amount" inputmode="decimal" required size="8"; }
                            label { (s::REASON_CODE) select id="charge-reason" name="reason_code" { @for (id, name) in &reason_codes { option value=(id) { (name) } } } }
                            button type="submit" id="add-charge" { (s::ADD_CHARGE) }
                        }
                    }
                    section aria-labelledby="payments-h" {
                        h2 id="payments-h" { (s::PAYMENTS) }
                        ul id="payments" data-live { @for p in &o.payments { li { (p.method) ": " (m(p.amount)) " (" (p.status) ")"
                            @if let Some(r) = &p.reference { " " (r) }
                            @if p.status != "voided" { " " form method="post" action={ "/orders/" (o.id) "/payments/" (p.id) "/void" } class="inline" { (csrf(signed)) button type="submit" aria-label={ (s::VOID) " " (p.method) " " (m(p.amount)) } { (s::VOID) } } } } } }
                        form method="post" action={ "/orders/" (o.id) "/payments" } class="row" {
                            (csrf(signed))
                            label { (s::METHOD) select id="pay-method" name="method" {
                                @if let Some(cc) = &cc { @for pm in &cc.config.payment_methods { option value=(pm.id) { (pm.id) } } } } }
                            label { (s::AMOUNT) " " kbd { "Alt+P" } input id="pay-amount" name="amount" inputmode="decimal" required size="8" value=(money::plain(o.totals.balance.max(Decimal::ZERO), &cur)); }
                            label { (s::REFERENCE) input id="pay-reference" name="reference"; }
                            button type="submit" id="add-payment" { (s::ADD_PAYMENT) }
                        }
                    }
                    section aria-labelledby="holds-h" {
                        h2 id="holds-h" { (s::HOLDS) }
                        ul id="holds" data-live { @for h in &o.holds { li {
                            strong { (h.code) } ": " (h.reason) " — " (if h.system { s::SYSTEM.to_string() } else { user_name(console, h.placed_by) }) ", " (when(h.placed_at, now))
                            @if h.system { br; span class="muted" { (s::SYSTEM_HOLD) } }
                            @if let Some(c) = &h.cleared { " — " (s::CLEARED_BY) " " (user_name(console, c.by)) ", " (when(c.at, now)) } @else {
                                form method="post" action={ "/orders/" (o.id) "/holds/" (h.id) "/clear" } class="row" {
                                    (csrf(signed))
                                    label { (s::REASON) input name="reason" aria-label={ (s::REASON) " " (s::CLEAR_HOLD) }; }
                                    button type="submit" class="clear-hold" { (s::CLEAR_HOLD) }
                                }
                            }
                        } } }
                        form method="post" action={ "/orders/" (o.id) "/holds" } class="row" {
                            (csrf(signed))
                            label { (s::HOLD_CODE) " " kbd { "Alt+H" } select id="hold-code" name="code" {
                                @if let Some(cc) = &cc { @for hc in &cc.config.hold_codes { option value=(hc.id) { (hc.name) } } } } }
                            label { (s::REASON) input id="hold-reason" name="reason" required; }
                            button type="submit" id="place-hold" { (s::PLACE_HOLD) }
                        }
                    }
                    section aria-labelledby="notes-h" {
                        h2 id="notes-h" { (s::NOTES) }
                        ul id="notes" data-live { @for n in &o.notes { li { (when(n.at, now)) " " (user_name(console, n.by)) ": " (n.text) } } }
                        form method="post" action={ "/orders/" (o.id) "/notes" } class="row" {
                            (csrf(signed))
                            label { (s::ADD_NOTE) input name="text" required; }
                            button type="submit" { (s::ADD_NOTE) }
                        }
                    }
                }
                div {
                    section aria-labelledby="recap-h" id="recap" {
                        h2 id="recap-h" { (s::RECAP) }
                        table class="recap" id="recap-table" data-live {
                            tbody {
                                tr { td { (s::SUBTOTAL) " (" (o.lines.len()) ")" } td class="num" id="recap-subtotal" { (m(o.totals.subtotal)) } }
                                @for c in &o.charges { tr { td { (s::CHARGES) ": " (c.code) } td class="num" { (m(c.amount)) } } }
                                @if !o.totals.discount.is_zero() {
                                    tr { td { (s::DISCOUNT) @for c in &o.coupons { " · " (c.code) " −" (m(c.discount)) } }
                                        td class="num" id="recap-discount" { "−" (m(o.totals.discount)) } }
                                }
                                tr { td { strong { (s::TOTAL) } } td class="num" id="recap-total" { strong { (m(o.totals.total)) } } }
                                @for p in &continuity.programs {
                                    tr class="recap-continuity" {
                                        td { (s::continuity_recap(&product_name(&p.product_id), p.every_days, p.times)) br; span class="muted" { (program_line(p, now)) } }
                                        td class="num" { @if let Some(l) = o.lines.iter().find(|l| l.id == p.line_id) { (m(l.line_total)) " " (s::CONTINUITY_PER_DELIVERY) } }
                                    }
                                }
                                @for p in &o.payments { @if p.status != "voided" { tr { td { (s::PAID) ": " (p.method) } td class="num" { "−" (m(p.amount)) } } } }
                                tr class="balance" { td { (s::BALANCE) } td class="num" id="recap-balance" { (m(o.totals.balance)) } }
                            }
                        }
                        form method="post" action={ "/orders/" (o.id) "/submit" } {
                            (csrf(signed))
                            button type="submit" id="submit" class="primary" { (s::SUBMIT) " " kbd { "Alt+S" } }
                        }
                        form method="post" action={ "/orders/" (o.id) "/cancel" } class="row" {
                            (csrf(signed))
                            label { (s::REASON) input name="reason" id="cancel-reason"; }
                            button type="submit" id="cancel" { (s::CANCEL_ORDER) }
                        }
                    }
                    div id="conflicts-live" data-live { @if !o.conflicts.is_empty() {
                        section aria-labelledby="conflicts-h" id="conflicts" {
                            h2 id="conflicts-h" { (s::CONFLICTS) }
                            ul { @for c in &o.conflicts { li { code { (c.path) } ": "
                                @for (i, v) in c.values.iter().enumerate() { @if i > 0 { " / " } (v.to_string()) } } } }
                        }
                    } }
                    @if let Some(h) = &history {
                        section aria-labelledby="history-h" id="history" data-live {
                            h2 id="history-h" { (s::HISTORY) }
                            ol { @for c in &h.changes { li { (when(c.at, now)) " "
                                @if let Some(u) = c.by { (user_name(console, u)) ": " } (c.summary) } } }
                        }
                    }
                }
            }
        }
    };
    page(console, signed, &title)
        .render(body)
        .await
        .into_response()
}

/// Where a line's continuity program stands: its schedule, how many deliveries were created and
/// are to come, and the next one's date.
fn program_line(p: &ContinuityLineView, now: Timestamp) -> Markup {
    html! {
        span class="continuity" {
            (s::CONTINUITY) ": " (s::continuity_program(p.every_days, p.times))
            " · " (s::continuity_progress(p.created, p.remaining))
            @if let Some(d) = p.next_due { " · " (s::continuity_next(&when(d, now))) }
        }
    }
}

/// `GET /orders/{id}`.
pub async fn page_route(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Response {
    page_handler(&console, &signed, &id, q.added).await
}

/// Filters of the orders list.
#[derive(Deserialize, Default)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    held: Option<String>,
    #[serde(default)]
    today: Option<String>,
    #[serde(default)]
    call_center: String,
    #[serde(default)]
    cursor: Option<String>,
}

/// `GET /orders`: orders with filters (status, held, today, call center), newest first.
pub async fn list(
    State(console): State<Console>,
    signed: Signed,
    Query(q): Query<ListQuery>,
) -> Response {
    let status = if q.held.is_some() {
        "on_hold".to_string()
    } else {
        q.status.clone()
    };
    let query = OrderListQuery {
        customer_id: None,
        status: Some(status.clone()).filter(|s| !s.is_empty()),
        limit: Some("100".into()),
        cursor: q.cursor.clone().filter(|c| !c.is_empty()),
    };
    let res = console.app.orders(&signed.user, query).await;
    let now = console.app.now();
    let today = |o: &OrderSummary| {
        when(o.created_at, now).ends_with(" UTC") && !when(o.created_at, now).contains('-')
    };
    let body = html! {
        section {
            form method="get" action="/orders" class="row" role="search" {
                label { (s::STATUS) select name="status" id="filter-status" {
                    option value="" { (s::ANY) }
                    @for st in ["open", "submitted", "on_hold", "released", "canceled"] { option value=(st) selected[st == q.status] { (st) } }
                } }
                label { input type="checkbox" name="held" value="1" checked[q.held.is_some()]; (s::HELD_ONLY) }
                label { input type="checkbox" name="today" value="1" checked[q.today.is_some()]; (s::TODAY_ONLY) }
                label { (s::CALL_CENTER) input name="call_center" value=(q.call_center) size="10"; }
                button type="submit" { (s::FILTER) }
            }
            @match &res {
                Ok(list) => {
                    @let items: Vec<OrderSummary> = list.items.iter().filter(|o| (q.today.is_none() || today(o)) && (q.call_center.is_empty() || o.call_center_id.as_str() == q.call_center)).cloned().collect();
                    (order_table(&console, &items))
                    @if let Some(c) = &list.next_cursor {
                        a href={ "/orders?status=" (status) "&cursor=" (c) } { (s::NEXT_PAGE) }
                    }
                }
                Err(e) => p role="alert" class="error" { (e.to_string()) },
            }
        }
    };
    page(&console, &signed, s::ORDERS)
        .render(body)
        .await
        .into_response()
}

/// `GET /holds`: held orders, oldest active hold first, with who held them and why.
pub async fn hold_queue(State(console): State<Console>, signed: Signed) -> Response {
    let query = OrderListQuery {
        customer_id: None,
        status: Some("on_hold".into()),
        limit: Some("200".into()),
        cursor: None,
    };
    let mut rows = Vec::new();
    let mut error = None;
    match console.app.orders(&signed.user, query).await {
        Ok(list) => {
            for sum in list.items {
                if let Ok(o) = console.app.order(&signed.user, sum.id).await {
                    for h in o.holds.iter().filter(|h| h.cleared.is_none()) {
                        rows.push((h.placed_at, o.id, h.clone()));
                    }
                }
            }
        }
        Err(e) => error = Some(e.to_string()),
    }
    rows.sort_by_key(|r| r.0);
    let now = console.app.now();
    let body = html! {
        section {
            @if let Some(e) = &error { p role="alert" class="error" { (e) } }
            @if rows.is_empty() { p { (s::NO_HOLDS) } } @else {
                table id="hold-queue" {
                    thead { tr { th scope="col" { (s::ORDER) } th scope="col" { (s::HOLD_CODE) } th scope="col" { (s::REASON) } th scope="col" { (s::HELD_BY) } th scope="col" { (s::HELD_AT) } } }
                    tbody { @for (at, oid, h) in &rows { tr {
                        td { a href={ "/orders/" (oid) } { (short(&oid.to_string())) } }
                        td { (h.code) }
                        td { (h.reason) @if h.system { br; span class="muted" { (s::SYSTEM_HOLD) } } }
                        td { (if h.system { s::SYSTEM.to_string() } else { user_name(&console, h.placed_by) }) }
                        td { (when(*at, now)) }
                    } } }
                }
            }
        }
    };
    page(&console, &signed, s::HOLD_QUEUE)
        .render(body)
        .await
        .into_response()
}
