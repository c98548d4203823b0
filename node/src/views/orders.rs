//! Orders: the bodies of `/api/v1/orders` and its commands, the list and history answers.
//! The order view itself is in [`super::order_view`].

use super::{double_option, null_as_default, ProductDoc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use switchboard_domain::order::Status;
use switchboard_domain::*;
use utoipa::{IntoParams, ToSchema};

/// Body of `POST /api/v1/orders`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrderBody {
    /// The customer.
    #[schema(value_type = String, format = Uuid)]
    pub customer_id: CustomerId,
    /// Catalog source code (one that does not exist, whatever its shape, is 422
    /// `source_code_invalid`).
    #[serde(default)]
    pub source_code: Option<String>,
    /// Delivery mode.
    #[serde(default)]
    #[schema(format = "code")]
    pub delivery_mode: Option<String>,
    /// Ship-to address (free key/value fields).
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(nullable, value_type = super::schema::TextMap)]
    pub ship_to: BTreeMap<String, String>,
}

/// Body of `POST /api/v1/orders/{id}/lines`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddLineBody {
    /// The product.
    #[schema(format = "code")]
    pub product_id: String,
    /// Units (1 to 1,000,000).
    #[schema(value_type = u32, example = 2, minimum = 1, maximum = 1_000_000)]
    pub quantity: i64,
    /// Overridden unit price.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "17.50", format = "money")]
    pub unit_price: Option<Decimal>,
    /// Reason code for the override.
    #[serde(default)]
    #[schema(format = "code")]
    pub override_reason: Option<String>,
}

/// Body of `PATCH /api/v1/orders/{id}/lines/{line_id}`. `unit_price: null` reverts to the list price.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchLineBody {
    /// New quantity.
    #[serde(default)]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1_000_000)]
    pub quantity: Option<i64>,
    /// New unit price; null reverts to the list price.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, format = "money")]
    pub unit_price: Option<Option<Decimal>>,
    /// Reason code for the override.
    #[serde(default)]
    #[schema(format = "code")]
    pub override_reason: Option<String>,
}

/// Body of `POST /api/v1/orders/{id}/coupons`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponBody {
    /// The coupon code (one that does not exist, whatever its shape, is 422 `coupon_invalid`).
    pub code: String,
}

/// Body of `POST /api/v1/orders/{id}/payments`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentBody {
    /// Payment method id.
    #[schema(format = "code")]
    pub method: String,
    /// Amount.
    #[schema(value_type = String, example = "25.00", format = "money")]
    pub amount: Decimal,
    /// Reference.
    #[serde(default)]
    #[schema(format = "line", max_length = 200)]
    pub reference: Option<String>,
}

/// Body of `POST /api/v1/orders/{id}/charges`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChargeBody {
    /// Charge code.
    #[schema(format = "code")]
    pub code: String,
    /// Amount.
    #[schema(value_type = String, example = "3.00", format = "money")]
    pub amount: Decimal,
    /// Configured reason code.
    #[schema(format = "code")]
    pub reason_code: String,
}

/// Body of `POST /api/v1/orders/{id}/holds`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldBody {
    /// Hold code.
    #[schema(format = "code")]
    pub code: String,
    /// Why.
    #[serde(default)]
    #[schema(format = "line", max_length = 1000)]
    pub reason: String,
}

/// Body of hold clear and cancel.
#[derive(Clone, Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    /// Why.
    #[serde(default)]
    #[schema(format = "line", max_length = 1000)]
    pub reason: String,
}

/// Body of `POST /api/v1/orders/{id}/notes`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteBody {
    /// The text.
    #[schema(format = "text", max_length = 4000)]
    pub text: String,
}

/// Query of `GET /api/v1/orders`.
#[derive(Clone, Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderListQuery {
    /// Only this customer's orders.
    #[param(value_type = Option<String>, format = Uuid)]
    pub customer_id: Option<String>,
    /// Only orders with this status.
    #[param(value_type = Option<StatusName>, inline)]
    pub status: Option<String>,
    /// Page size, 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 256)]
    pub cursor: Option<String>,
}

/// An order's derived status, as lists filter on it.
#[derive(Clone, Copy, Debug, ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum StatusName {
    /// Being taken.
    Open,
    /// Submitted.
    Submitted,
    /// An active hold.
    OnHold,
    /// Released to fulfilment.
    Released,
    /// Canceled.
    Canceled,
}

/// An order in lists and customer history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrderSummary {
    /// Its id.
    #[schema(value_type = String, format = Uuid)]
    pub id: OrderId,
    /// The call center.
    #[schema(value_type = String)]
    pub call_center_id: CallCenterId,
    /// The customer.
    #[schema(value_type = String, format = Uuid)]
    pub customer_id: CustomerId,
    /// Derived status.
    #[schema(value_type = String)]
    pub status: Status,
    /// Catalog source code.
    #[schema(value_type = Option<String>)]
    pub source_code: Option<SourceCode>,
    /// Number of active lines.
    pub lines: u32,
    /// Total (null while the call center's configuration is not on this node yet).
    #[schema(value_type = Option<String>)]
    pub total: Option<Decimal>,
    /// Balance (null while the call center's configuration is not on this node yet).
    #[schema(value_type = Option<String>)]
    pub balance: Option<Decimal>,
    /// Whether any hold is active.
    pub held: bool,
    /// Created.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// By.
    #[schema(value_type = String, format = Uuid)]
    pub created_by: UserId,
    /// Last change.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// Answer of `GET /api/v1/orders`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderList {
    /// A page of summaries, newest first.
    pub items: Vec<OrderSummary>,
    /// Cursor of the next page, or null at the end.
    pub next_cursor: Option<String>,
}

/// Answer of `GET /api/v1/orders/{id}/suggestions`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct SuggestionsView {
    /// Better products to offer instead.
    pub upsell: Vec<ProductDoc>,
    /// Products to offer alongside.
    pub cross_sell: Vec<ProductDoc>,
    /// Scripts for the agent.
    pub scripts: Vec<String>,
}

/// One change in an order's history.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ChangeView {
    /// When.
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    /// Who.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub by: Option<UserId>,
    /// On which node.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub node: Option<NodeId>,
    /// What.
    pub summary: String,
}

/// Answer of `GET /api/v1/orders/{id}/history`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderHistory {
    /// Changes, oldest first.
    pub changes: Vec<ChangeView>,
}
