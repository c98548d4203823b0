//! Call centers and their users: `PUT /api/v1/call-centers/{id}` and
//! `POST /api/v1/call-centers/{id}/users`.

use super::{check_same_id, code, is_true, null_as_default, Problems};
use crate::service::ServiceError;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use switchboard_domain::config::FieldError;
use switchboard_domain::config::{
    CallCenter, ChargeTier, DeliveryMode, HoldCodeDef, PaymentKind, PaymentMethod, ReasonCodeDef,
    Role,
};
use switchboard_domain::*;
use utoipa::ToSchema;

/// A payment method of a call center.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentMethodDoc {
    /// Its id, as agents enter it.
    #[schema(format = "code")]
    pub id: String,
    /// `card`, `cash`, `check`, `on_account` or `voucher`.
    #[schema(value_type = super::schema::PaymentKindName, example = "card")]
    pub kind: PaymentKind,
}

/// One tier of a delivery mode's automatic charge: `[from, to)` pays `amount`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChargeTierDoc {
    /// Inclusive lower bound of the order amount.
    #[schema(value_type = String, example = "0.00", format = "money")]
    pub from: Decimal,
    /// Exclusive upper bound, or null for open-ended.
    #[serde(default)]
    #[schema(value_type = Option<String>, example = "50.00", format = "money")]
    pub to: Option<Decimal>,
    /// The charge.
    #[schema(value_type = String, example = "5.95", format = "money")]
    pub amount: Decimal,
}

/// A delivery mode with its tiered charges.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeliveryModeDoc {
    /// Its id.
    #[schema(format = "code")]
    pub id: String,
    /// Display name.
    #[schema(format = "name", max_length = 200)]
    pub name: String,
    /// Charge tiers.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(nullable)]
    pub charges: Vec<ChargeTierDoc>,
}

/// A hold code and the roles that may clear it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldCodeDoc {
    /// Its id.
    #[schema(format = "code")]
    pub id: String,
    /// Display name.
    #[schema(format = "name", max_length = 200)]
    pub name: String,
    /// Roles that may clear holds of this code (`agent`, `supervisor`, `admin`).
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(nullable)]
    #[schema(value_type = Vec<super::schema::RoleName>)]
    pub clear_roles: Vec<Role>,
}

/// A reason code.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonCodeDoc {
    /// Its id.
    #[schema(format = "code")]
    pub id: String,
    /// Display name.
    #[schema(format = "name", max_length = 200)]
    pub name: String,
}

/// A call center's configuration: the body of `PUT /api/v1/call-centers/{id}` and its answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallCenterDoc {
    /// The id (from the path; optional in the body, and then it must match).
    #[serde(default)]
    #[schema(format = "code")]
    pub id: Option<String>,
    /// Display name.
    #[schema(format = "name", max_length = 200)]
    pub name: String,
    /// ISO 4217 currency.
    #[schema(example = "EUR", format = "currency")]
    pub currency: String,
    /// Order completion feature group (payments, coupons, the payment rule at submit).
    #[serde(default = "is_true")]
    pub order_completion: bool,
    /// Guided sales feature group (source codes, scripts, catalog requests, upsell).
    #[serde(default = "is_true")]
    pub guided_sales: bool,
    /// How far payments may fall short of the total at submit.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(nullable)]
    #[schema(value_type = String, example = "0.00", format = "money")]
    pub payment_tolerance: Decimal,
    /// Payment methods.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(nullable)]
    pub payment_methods: Vec<PaymentMethodDoc>,
    /// Delivery modes.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(nullable)]
    pub delivery_modes: Vec<DeliveryModeDoc>,
    /// Hold codes.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(nullable)]
    pub hold_codes: Vec<HoldCodeDoc>,
    /// Reason codes.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(nullable)]
    pub reason_codes: Vec<ReasonCodeDoc>,
    /// Per role, the largest override in percent below list price.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(nullable)]
    #[schema(value_type = BTreeMap<String, super::schema::Percent>)]
    pub price_override_limits: BTreeMap<Role, Decimal>,
    /// Free tags copied onto orders.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(nullable, value_type = super::schema::TextMap)]
    pub financial_dimensions: BTreeMap<String, String>,
    /// The call center's price group.
    #[serde(default)]
    #[schema(format = "code")]
    pub price_group: Option<String>,
}

impl CallCenterDoc {
    /// Converts into the domain, with every problem named.
    pub fn into_domain(self, id: &CallCenterId) -> Result<CallCenter, ServiceError> {
        let mut p = Problems::default();
        check_same_id(&mut p, "id", self.id.as_deref(), id.as_str());
        let currency = p.take(Currency::parse(&self.currency).map_err(|e| FieldError {
            field: "currency".into(),
            message: e.to_string(),
        }));
        let mut methods = Vec::new();
        for (i, m) in self.payment_methods.into_iter().enumerate() {
            if let Some(mid) = p.take(code(
                &format!("payment_methods[{i}].id"),
                &m.id,
                PaymentMethodId::parse,
            )) {
                methods.push(PaymentMethod {
                    id: mid,
                    kind: m.kind,
                });
            }
        }
        let mut modes = Vec::new();
        for (i, m) in self.delivery_modes.into_iter().enumerate() {
            if let Some(mid) = p.take(code(
                &format!("delivery_modes[{i}].id"),
                &m.id,
                DeliveryModeId::parse,
            )) {
                let charges = m
                    .charges
                    .into_iter()
                    .map(|t| ChargeTier {
                        from: t.from,
                        to: t.to,
                        amount: t.amount,
                    })
                    .collect();
                modes.push(DeliveryMode {
                    id: mid,
                    name: m.name,
                    charges,
                });
            }
        }
        let mut holds = Vec::new();
        for (i, h) in self.hold_codes.into_iter().enumerate() {
            if let Some(hid) = p.take(code(&format!("hold_codes[{i}].id"), &h.id, HoldCode::parse))
            {
                if hid.as_str().starts_with("system.") {
                    p.push(
                        format!("hold_codes[{i}].id"),
                        "the system. prefix is reserved for system holds",
                    );
                }
                holds.push(HoldCodeDef {
                    id: hid,
                    name: h.name,
                    clear_roles: h.clear_roles,
                });
            }
        }
        let mut reasons = Vec::new();
        for (i, r) in self.reason_codes.into_iter().enumerate() {
            if let Some(rid) = p.take(code(
                &format!("reason_codes[{i}].id"),
                &r.id,
                ReasonCode::parse,
            )) {
                reasons.push(ReasonCodeDef {
                    id: rid,
                    name: r.name,
                });
            }
        }
        let price_group = match self.price_group {
            Some(g) => p
                .take(code("price_group", &g, PriceGroupId::parse))
                .map(Some),
            None => Some(None),
        };
        let cc = match (currency, price_group) {
            (Some(currency), Some(price_group)) => Some(
                CallCenter {
                    id: id.clone(),
                    name: self.name,
                    currency,
                    order_completion: self.order_completion,
                    guided_sales: self.guided_sales,
                    payment_tolerance: self.payment_tolerance,
                    payment_methods: methods,
                    delivery_modes: modes,
                    hold_codes: holds,
                    reason_codes: reasons,
                    price_override_limits: self.price_override_limits,
                    financial_dimensions: self.financial_dimensions,
                    price_group,
                }
                .normalized(),
            ),
            _ => None,
        };
        if let Some(cc) = &cc {
            p.0.extend(cc.validate());
        }
        p.finish(cc)
    }

    /// The stored object as answered.
    pub fn from_domain(cc: &CallCenter) -> Self {
        CallCenterDoc {
            id: Some(cc.id.to_string()),
            name: cc.name.clone(),
            currency: cc.currency.code().to_string(),
            order_completion: cc.order_completion,
            guided_sales: cc.guided_sales,
            payment_tolerance: cc.payment_tolerance,
            payment_methods: cc
                .payment_methods
                .iter()
                .map(|m| PaymentMethodDoc {
                    id: m.id.to_string(),
                    kind: m.kind,
                })
                .collect(),
            delivery_modes: cc
                .delivery_modes
                .iter()
                .map(|m| DeliveryModeDoc {
                    id: m.id.to_string(),
                    name: m.name.clone(),
                    charges: m
                        .charges
                        .iter()
                        .map(|t| ChargeTierDoc {
                            from: t.from,
                            to: t.to,
                            amount: t.amount,
                        })
                        .collect(),
                })
                .collect(),
            hold_codes: cc
                .hold_codes
                .iter()
                .map(|h| HoldCodeDoc {
                    id: h.id.to_string(),
                    name: h.name.clone(),
                    clear_roles: h.clear_roles.clone(),
                })
                .collect(),
            reason_codes: cc
                .reason_codes
                .iter()
                .map(|r| ReasonCodeDoc {
                    id: r.id.to_string(),
                    name: r.name.clone(),
                })
                .collect(),
            price_override_limits: cc.price_override_limits.clone(),
            financial_dimensions: cc.financial_dimensions.clone(),
            price_group: cc.price_group.as_ref().map(|g| g.to_string()),
        }
    }
}

/// Body of `POST /api/v1/call-centers/{id}/users`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    /// Display name.
    #[schema(format = "name", max_length = 200)]
    pub name: String,
    /// `agent`, `supervisor` or `admin`.
    #[schema(value_type = super::schema::RoleName, example = "agent")]
    pub role: Role,
    /// The console password (at least 8 characters); only its argon2id hash is stored.
    #[serde(default)]
    #[schema(min_length = 8, max_length = 256, nullable)]
    pub password: Option<String>,
}

/// Body of `PUT /api/v1/users/{user_id}/password`.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordBody {
    /// The new password (at least 8 characters); only its argon2id hash is stored.
    #[schema(min_length = 8, max_length = 256)]
    pub password: String,
    /// The user's current password: required when users change their own password (admins and
    /// supervisors setting someone else's leave it out).
    #[serde(default)]
    #[schema(max_length = 256, nullable)]
    pub current: Option<String>,
}

/// Answer of `POST /api/v1/call-centers/{id}/users`: the token is shown once.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct NewUserView {
    /// The new user's id.
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    /// The bearer token; only its hash is stored.
    pub token: String,
    /// When the token stops working.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
}
