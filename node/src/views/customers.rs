//! Customers: the bodies of `/api/v1/customers`, the customer view and its history.

use super::{double_option, null_as_default, ConflictView, OrderSummary};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use switchboard_domain::customer::{CatalogRequest, Customer};
use switchboard_domain::*;
use utoipa::ToSchema;

/// Body of `POST /api/v1/customers`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCustomerBody {
    /// Name.
    #[schema(format = "name", max_length = 200)]
    pub name: String,
    /// Phone.
    #[serde(default)]
    #[schema(max_length = 40)]
    pub phone: Option<String>,
    /// Email.
    #[serde(default)]
    #[schema(format = "email")]
    pub email: Option<String>,
    /// Postal address, free key/value fields.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(nullable, value_type = super::schema::TextMap)]
    pub address: BTreeMap<String, String>,
    /// For admins, who belong to no call center: the call center of the customer.
    #[serde(default)]
    #[schema(format = "code")]
    pub call_center_id: Option<String>,
}

/// Body of `PATCH /api/v1/customers/{id}`: only the fields given change.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchCustomerBody {
    /// Name.
    #[serde(default)]
    #[schema(format = "name", max_length = 200)]
    pub name: Option<String>,
    /// Phone (null clears it).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 40)]
    pub phone: Option<Option<String>>,
    /// Email (null clears it).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = "email")]
    pub email: Option<Option<String>>,
    /// Address (replaces the whole address).
    #[serde(default)]
    #[schema(value_type = Option<super::schema::TextMap>)]
    pub address: Option<BTreeMap<String, String>>,
}

/// A note as shown on orders and customers.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct NoteView {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub id: NoteId,
    /// Who wrote it.
    #[schema(value_type = String, format = Uuid)]
    pub by: UserId,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// The text.
    pub text: String,
}

/// A catalog request.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CatalogRequestView {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub id: CatalogRequestId,
    /// The source code.
    #[schema(value_type = String)]
    pub source_code: SourceCode,
    /// Its catalog.
    #[schema(value_type = String)]
    pub catalog: CatalogId,
    /// Copies.
    pub quantity: u32,
    /// Who recorded it.
    #[schema(value_type = String, format = Uuid)]
    pub by: UserId,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
}

impl CatalogRequestView {
    /// The view of a catalog request.
    pub fn from_domain(r: &CatalogRequest) -> Self {
        CatalogRequestView {
            id: r.id,
            source_code: r.source_code.clone(),
            catalog: r.catalog.clone(),
            quantity: r.quantity,
            by: r.requested.by,
            at: r.requested.at,
        }
    }
}

/// A customer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CustomerView {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub id: CustomerId,
    /// Its call center.
    #[schema(value_type = String)]
    pub call_center_id: CallCenterId,
    /// Name.
    pub name: String,
    /// Phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Address.
    pub address: BTreeMap<String, String>,
    /// Who created it.
    #[schema(value_type = String, format = Uuid)]
    pub created_by: UserId,
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Concurrent values left by merges (only in `GET /api/v1/customers/{id}`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<ConflictView>,
}

impl CustomerView {
    /// The view of a customer.
    pub fn from_domain(c: &Customer) -> Self {
        CustomerView {
            id: c.id,
            call_center_id: c.call_center_id.clone(),
            name: c.name.clone(),
            phone: c.phone.clone(),
            email: c.email.clone(),
            address: c.address.clone(),
            created_by: c.created.by,
            created_at: c.created.at,
            conflicts: Vec::new(),
        }
    }

    /// Whether `q` (lower case) is in the name, phone or email.
    pub fn matches(&self, q: &str) -> bool {
        let has = |s: &str| s.to_lowercase().contains(q);
        has(&self.name)
            || self.phone.as_deref().is_some_and(has)
            || self.email.as_deref().is_some_and(has)
    }
}

/// Answer of `GET /api/v1/customers?q=`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CustomerList {
    /// Matching customers.
    pub items: Vec<CustomerView>,
    /// Cursor of the next page, or null at the end.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// Body of `POST /api/v1/customers/{id}/catalog-requests`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogRequestBody {
    /// The source code the catalog is requested under (one that does not exist, whatever its
    /// shape, is 422 `source_code_invalid`).
    pub source_code: String,
    /// Copies (default 1).
    #[serde(default = "one")]
    #[schema(minimum = 1, maximum = 100)]
    pub quantity: u32,
}

fn one() -> u32 {
    1
}

/// Answer of `GET /api/v1/customers/{id}/history`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct CustomerHistory {
    /// The customer's orders, newest first.
    pub orders: Vec<OrderSummary>,
    /// Notes, oldest first.
    pub notes: Vec<NoteView>,
    /// Catalog requests, oldest first.
    pub catalog_requests: Vec<CatalogRequestView>,
}

impl CustomerHistory {
    /// Notes and catalog requests of a customer, with its order summaries (newest first).
    pub fn build(c: &Customer, mut orders: Vec<OrderSummary>) -> Self {
        orders.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id)));
        let mut notes: Vec<NoteView> = c
            .notes
            .values()
            .map(|n| NoteView {
                id: n.id,
                by: n.added.by,
                at: n.added.at,
                text: n.text.clone(),
            })
            .collect();
        notes.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
        let mut catalog_requests: Vec<CatalogRequestView> = c
            .catalog_requests
            .values()
            .map(CatalogRequestView::from_domain)
            .collect();
        catalog_requests.sort_by(|a, b| a.at.cmp(&b.at).then(a.id.cmp(&b.id)));
        CustomerHistory {
            orders,
            notes,
            catalog_requests,
        }
    }
}
