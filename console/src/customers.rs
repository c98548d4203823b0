//! Customer screens: search by name, phone or email; create; a customer's history (orders with
//! their status, catalog requests), the form that edits their contact fields and the form that
//! starts an order for them.

use crate::auth::{page, Signed};
use crate::layout::when;
use crate::session::Flash;
use crate::{money, strings as s, Console};
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use std::collections::BTreeMap;
use switchboard_domain::customer::Customer;
use switchboard_domain::CustomerId;
use switchboard_node::views::{
    CatalogRequestBody, CustomerView, NewCustomerBody, OrderSummary, Page, PatchCustomerBody,
};

/// Query of the customer search.
#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
}

/// Summaries of orders as a table (shared with the orders list).
pub fn order_table(console: &Console, orders: &[OrderSummary]) -> Markup {
    let now = console.app.now();
    let currency = |o: &OrderSummary| {
        console
            .app
            .configs
            .call_center(&o.call_center_id)
            .map(|c| c.config.currency.code().to_string())
            .unwrap_or_default()
    };
    html! {
        @if orders.is_empty() { p { (s::NO_ORDERS) } } @else {
            table {
                thead { tr {
                    th scope="col" { (s::ORDER) } th scope="col" { (s::STATUS) }
                    th scope="col" { (s::CALL_CENTER) } th scope="col" { (s::CREATED) }
                    th scope="col" class="num" { (s::LINES) } th scope="col" class="num" { (s::TOTAL) }
                    th scope="col" class="num" { (s::BALANCE) }
                } }
                tbody {
                    @for o in orders {
                        tr {
                            td { a href={ "/orders/" (o.id) } { (short(&o.id.to_string())) } }
                            td class={ "status-" (o.status.as_str()) } { (o.status.as_str()) }
                            td { (o.call_center_id) }
                            td { (when(o.created_at, now)) }
                            td class="num" { (o.lines) }
                            td class="num" { @if let Some(t) = o.total { (money::format(t, &currency(o))) } }
                            td class="num" { @if let Some(b) = o.balance { (money::format(b, &currency(o))) } }
                        }
                    }
                }
            }
        }
    }
}

/// The first 8 characters of an id, as people read it out.
pub fn short(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn customer_rows(list: &[CustomerView]) -> Markup {
    html! {
        @if list.is_empty() { p { (s::NO_CUSTOMERS) } } @else {
            table id="customer-results" {
                thead { tr { th scope="col" { (s::NAME) } th scope="col" { (s::PHONE) } th scope="col" { (s::EMAIL) } th scope="col" { (s::CALL_CENTER) } } }
                tbody {
                    @for c in list {
                        tr {
                            td { a href={ "/customers/" (c.id) } { (c.name) } }
                            td { (c.phone.clone().unwrap_or_default()) }
                            td { (c.email.clone().unwrap_or_default()) }
                            td { (c.call_center_id) }
                        }
                    }
                }
            }
        }
    }
}

/// `GET /customers?q=`: search and the create form.
pub async fn search(
    State(console): State<Console>,
    signed: Signed,
    Query(q): Query<SearchQuery>,
) -> Response {
    let found = if q.q.trim().is_empty() {
        None
    } else {
        let page = Page::parse(Some("50"), None, 'u').ok();
        match page {
            Some(p) => Some(console.app.customers(&signed.user, q.q.clone(), p).await),
            None => None,
        }
    };
    let body = html! {
        section {
            form method="get" action="/customers" class="row" role="search" {
                label for="q" { (s::SEARCH_CUSTOMERS)
                    input id="q" name="q" type="search" value=(q.q) autofocus; }
                button type="submit" { (s::SEARCH) }
            }
            @match &found {
                Some(Ok((list, _))) => (customer_rows(list)),
                Some(Err(e)) => p role="alert" class="error" { (e.to_string()) },
                None => {},
            }
        }
        section aria-labelledby="new-customer" {
            h2 id="new-customer" { (s::NEW_CUSTOMER) }
            form method="post" action="/customers" class="row" {
                input type="hidden" name="csrf" value=(signed.csrf);
                label { (s::NAME) input name="name" id="new-name" required; }
                label { (s::PHONE) input name="phone" id="new-phone" type="tel"; }
                label { (s::EMAIL) input name="email" id="new-email" type="email"; }
                button type="submit" id="create-customer" class="primary" { (s::CREATE) }
            }
        }
    };
    page(&console, &signed, s::CUSTOMERS)
        .render(body)
        .await
        .into_response()
}

/// The create form.
#[derive(Deserialize)]
pub struct NewCustomerForm {
    csrf: String,
    name: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    email: String,
}

fn opt(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// `POST /customers`.
pub async fn create(
    State(console): State<Console>,
    signed: Signed,
    Form(f): Form<NewCustomerForm>,
) -> Response {
    if let Err(r) = signed.check(&f.csrf) {
        return r.into_response();
    }
    let body = NewCustomerBody {
        name: f.name,
        phone: opt(f.phone),
        email: opt(f.email),
        address: BTreeMap::new(),
        call_center_id: None,
    };
    match console.app.create_customer(&signed.user, body).await {
        Ok(c) => {
            signed.flash(&console, Flash::Done(s::CUSTOMER_CREATED.into()));
            Redirect::to(&format!("/customers/{}", c.id)).into_response()
        }
        Err(e) => {
            signed.flash(&console, Flash::Refused(e.to_string()));
            Redirect::to("/customers").into_response()
        }
    }
}

/// `GET /customers/{id}`: the customer, their orders and catalog requests, and a new order.
pub async fn show(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
) -> Response {
    let Ok(id) = id.parse::<uuid::Uuid>().map(CustomerId) else {
        return crate::orders::not_found(&console, &signed).await;
    };
    let hist = match console.app.customer_history(&signed.user, id).await {
        Ok(h) => h,
        Err(_) => return crate::orders::not_found(&console, &signed).await,
    };
    let Ok((c, _)) = console.app.customer(&signed.user, id).await else {
        return crate::orders::not_found(&console, &signed).await;
    };
    let catalog = console.app.catalog();
    let now = console.app.now();
    let cc = console.app.configs.call_center(&c.call_center_id);
    let title = c.name.clone();
    let body = html! {
        section {
            p { (s::PHONE) ": " (c.phone.clone().unwrap_or_default()) " · " (s::EMAIL) ": " (c.email.clone().unwrap_or_default()) " · " (s::CALL_CENTER) ": " (c.call_center_id) }
        }
        (edit_form(&c, &signed.csrf))
        section aria-labelledby="new-order" {
            h2 id="new-order" { (s::NEW_ORDER) }
            form method="post" action="/orders" class="row" {
                input type="hidden" name="csrf" value=(signed.csrf);
                input type="hidden" name="customer_id" value=(c.id);
                label { (s::SOURCE_CODE)
                    select name="source_code" id="source-code" {
                        option value="" { (s::NONE) }
                        @for (code, def) in &catalog.source_codes {
                            option value=(code) { (code) " — " (def.catalog) }
                        }
                    }
                }
                label { (s::DELIVERY_MODE)
                    select name="delivery_mode" id="delivery-mode" {
                        option value="" { (s::NONE) }
                        @if let Some(cc) = &cc {
                            @for m in &cc.config.delivery_modes {
                                option value=(m.id) { (m.name) }
                            }
                        }
                    }
                }
                button type="submit" id="start-order" class="primary" { (s::NEW_ORDER) }
            }
        }
        section aria-labelledby="orders" {
            h2 id="orders" { (s::ORDERS_OF_CUSTOMER) }
            (order_table(&console, &hist.orders))
        }
        section aria-labelledby="catreq" {
            h2 id="catreq" { (s::CATALOG_REQUESTS) }
            ul id="catalog-requests" {
                @for r in &hist.catalog_requests {
                    li { (when(r.at, now)) " — " (r.source_code) " × " (r.quantity) }
                }
            }
            form method="post" action={ "/customers/" (c.id) "/catalog-requests" } class="row" id="catalog-request" {
                input type="hidden" name="csrf" value=(signed.csrf);
                label { (s::SOURCE_CODE)
                    select name="source_code" id="catalog-source-code" required {
                        @for (code, def) in &catalog.source_codes {
                            option value=(code) { (code) " — " (def.catalog) }
                        }
                    }
                }
                label { (s::QUANTITY) input name="quantity" id="catalog-quantity" type="number" min="1" max="100" value="1" required; }
                button type="submit" id="request-catalog" { (s::REQUEST_CATALOG) }
            }
        }
    };
    page(&console, &signed, &title)
        .render(body)
        .await
        .into_response()
}

/// Form field names of the address: `address.` ++ the address's own key.
const ADDRESS_FIELD: &str = "address.";

/// The edit form of a customer's contact fields and address, filled with what they hold now.
fn edit_form(c: &Customer, csrf: &str) -> Markup {
    html! {
        section aria-labelledby="edit-customer" {
            h2 id="edit-customer" { (s::EDIT_CUSTOMER) }
            form method="post" action={ "/customers/" (c.id) } class="row" id="customer-edit" {
                input type="hidden" name="csrf" value=(csrf);
                label { (s::NAME)
                    input id="edit-name" name="name" value=(c.name) required; }
                label { (s::PHONE)
                    input id="edit-phone" name="phone" type="tel" value=(c.phone.clone().unwrap_or_default()); }
                label { (s::EMAIL)
                    input id="edit-email" name="email" type="email" value=(c.email.clone().unwrap_or_default()); }
                @for (i, (key, value)) in c.address.iter().enumerate() {
                    label { (s::address_field(key))
                        input id={ "edit-address-" (i) } name={ (ADDRESS_FIELD) (key) } value=(value); }
                }
                label { (s::ADDRESS_NEW_FIELD)
                    input id="edit-address-new-key" name="new_address_key"; }
                label { (s::ADDRESS_NEW_VALUE)
                    input id="edit-address-new-value" name="new_address_value"; }
                button type="submit" id="save-customer" class="primary" { (s::SAVE_CUSTOMER) }
            }
        }
    }
}

/// The edit form as posted: its fields in order (the address's fields are named by the
/// customer's own keys, so the form is read as pairs).
type EditForm = Vec<(String, String)>;

/// What the edit form changes: only the fields whose value differs from the customer's now (an
/// emptied phone or email clears it; an emptied address field removes it), so a form posted
/// unchanged is the domain's "nothing to change".
fn patch_of(c: &Customer, form: &EditForm) -> PatchCustomerBody {
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_string())
    };
    let mut b = PatchCustomerBody::default();
    if let Some(name) = field("name") {
        if name != c.name {
            b.name = Some(name);
        }
    }
    if let Some(phone) = field("phone").map(opt) {
        if phone != c.phone {
            b.phone = Some(phone);
        }
    }
    if let Some(email) = field("email").map(opt) {
        if email != c.email {
            b.email = Some(email);
        }
    }
    let mut address = c.address.clone();
    for (k, v) in form {
        if let Some(key) = k.strip_prefix(ADDRESS_FIELD) {
            match opt(v.clone()) {
                Some(v) => address.insert(key.to_string(), v),
                None => address.remove(key),
            };
        }
    }
    if let (Some(k), Some(v)) = (
        field("new_address_key").and_then(opt),
        field("new_address_value").and_then(opt),
    ) {
        address.insert(k, v);
    }
    if address != c.address {
        b.address = Some(address);
    }
    b
}

/// `POST /customers/{id}`: the edit form, through the service operation of
/// `PATCH /api/v1/customers/{id}`; back to the customer with the result or the domain's reason.
pub async fn update(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
    Form(form): Form<EditForm>,
) -> Response {
    let csrf = form
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    if let Err(r) = signed.check(csrf) {
        return r.into_response();
    }
    let Ok(id) = id.parse::<uuid::Uuid>().map(CustomerId) else {
        return crate::orders::not_found(&console, &signed).await;
    };
    let Ok((c, _)) = console.app.customer(&signed.user, id).await else {
        return crate::orders::not_found(&console, &signed).await;
    };
    let flash = match console
        .app
        .patch_customer(&signed.user, id, patch_of(&c, &form))
        .await
    {
        Ok(_) => Flash::Done(s::CUSTOMER_SAVED.into()),
        Err(e) => Flash::Refused(e.to_string()),
    };
    signed.flash(&console, flash);
    Redirect::to(&format!("/customers/{id}")).into_response()
}

/// The catalog request form's fields.
#[derive(Deserialize)]
pub struct CatalogRequestForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    source_code: String,
    #[serde(default)]
    quantity: String,
}

/// `POST /customers/{id}/catalog-requests`: records a catalog request for the customer (the
/// service operation behind `POST /api/v1/customers/{id}/catalog-requests`).
pub async fn request_catalog(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
    Form(form): Form<CatalogRequestForm>,
) -> Response {
    if let Err(r) = signed.check(&form.csrf) {
        return r.into_response();
    }
    let Ok(id) = id.parse::<uuid::Uuid>().map(CustomerId) else {
        return crate::orders::not_found(&console, &signed).await;
    };
    let flash = match form.quantity.trim().parse::<u32>() {
        // The range (1 to 100) is the domain's rule: its refusal is shown as is.
        Ok(quantity) => {
            let body = CatalogRequestBody {
                source_code: form.source_code.clone(),
                quantity,
            };
            match console.app.request_catalog(&signed.user, id, body).await {
                Ok(_) => Flash::Done(s::CATALOG_REQUESTED.into()),
                Err(e) => Flash::Refused(e.to_string()),
            }
        }
        _ => Flash::Refused(s::CATALOG_QUANTITY_NOT_A_NUMBER.into()),
    };
    signed.flash(&console, flash);
    Redirect::to(&format!("/customers/{id}")).into_response()
}
