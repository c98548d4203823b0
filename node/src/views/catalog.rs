//! The catalog: products, price groups, source codes and coupons, as `PUT` bodies and answers.

use super::{check_same_id, code, null_as_default, Problems};
use crate::service::ServiceError;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use switchboard_domain::config::{
    Continuity, Coupon, CouponKind, PriceGroup, Product, SourceCodeDef, Window,
};
use switchboard_domain::*;
use utoipa::ToSchema;

/// A continuity program.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContinuityDoc {
    /// Days between shipments.
    #[schema(minimum = 1)]
    pub every_days: u32,
    /// Number of shipments.
    #[schema(minimum = 1, maximum = 120)]
    pub times: u32,
}

/// A product: body of `PUT /api/v1/products/{id}` and its answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductDoc {
    /// The id (from the path; optional in the body).
    #[serde(default)]
    #[schema(format = "code")]
    pub id: Option<String>,
    /// Display name.
    #[schema(format = "name", max_length = 200)]
    pub name: String,
    /// Own list price.
    #[schema(value_type = String, example = "19.99", format = "money")]
    pub price: Decimal,
    /// Whether agents may override its price.
    #[serde(default)]
    pub allow_price_override: bool,
    /// Picture for guided sales.
    #[serde(default)]
    #[schema(format = "line", max_length = 2000)]
    pub image_url: Option<String>,
    /// Upsell product ids.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(nullable, value_type = Vec<super::schema::Code>)]
    pub upsell: Vec<String>,
    /// Cross-sell product ids.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(nullable, value_type = Vec<super::schema::Code>)]
    pub cross_sell: Vec<String>,
    /// Script for the agent.
    #[serde(default)]
    #[schema(format = "lines", max_length = 4000)]
    pub script: Option<String>,
    /// Continuity program.
    #[serde(default)]
    pub continuity: Option<ContinuityDoc>,
}

impl ProductDoc {
    /// Converts into the domain.
    pub fn into_domain(self, id: &ProductId) -> Result<Product, ServiceError> {
        let mut p = Problems::default();
        check_same_id(&mut p, "id", self.id.as_deref(), id.as_str());
        let ids = |p: &mut Problems, field: &str, v: Vec<String>| -> Vec<ProductId> {
            v.iter()
                .enumerate()
                .filter_map(|(i, s)| p.take(code(&format!("{field}[{i}]"), s, ProductId::parse)))
                .collect()
        };
        let upsell = ids(&mut p, "upsell", self.upsell);
        let cross_sell = ids(&mut p, "cross_sell", self.cross_sell);
        let product = Product {
            id: id.clone(),
            name: self.name,
            price: self.price,
            allow_price_override: self.allow_price_override,
            image_url: self.image_url,
            upsell,
            cross_sell,
            script: self.script,
            continuity: self.continuity.map(|c| Continuity {
                every_days: c.every_days,
                times: c.times,
            }),
        };
        let product = product.normalized();
        p.0.extend(product.validate());
        p.finish(Some(product))
    }

    /// The stored object as answered.
    pub fn from_domain(p: &Product) -> Self {
        ProductDoc {
            id: Some(p.id.to_string()),
            name: p.name.clone(),
            price: p.price,
            allow_price_override: p.allow_price_override,
            image_url: p.image_url.clone(),
            upsell: p.upsell.iter().map(|x| x.to_string()).collect(),
            cross_sell: p.cross_sell.iter().map(|x| x.to_string()).collect(),
            script: p.script.clone(),
            continuity: p.continuity.map(|c| ContinuityDoc {
                every_days: c.every_days,
                times: c.times,
            }),
        }
    }
}

/// Answer of `GET /api/v1/products?q=`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ProductList {
    /// Matching products, by id.
    pub items: Vec<ProductDoc>,
    /// Cursor of the next page, or null at the end.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// A price group: body of `PUT /api/v1/price-groups/{id}` and its answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceGroupDoc {
    /// The id (from the path; optional in the body).
    #[serde(default)]
    #[schema(format = "code")]
    pub id: Option<String>,
    /// Display name.
    #[schema(format = "name", max_length = 200)]
    pub name: String,
    /// Prices by product id.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(nullable)]
    #[schema(value_type = BTreeMap<String, super::schema::Money>)]
    pub prices: BTreeMap<String, Decimal>,
}

impl PriceGroupDoc {
    /// Converts into the domain.
    pub fn into_domain(self, id: &PriceGroupId) -> Result<PriceGroup, ServiceError> {
        let mut p = Problems::default();
        check_same_id(&mut p, "id", self.id.as_deref(), id.as_str());
        let mut prices = BTreeMap::new();
        for (k, v) in self.prices {
            if let Some(pid) = p.take(code(&format!("prices.{k}"), &k, ProductId::parse)) {
                prices.insert(pid, v);
            }
        }
        let g = PriceGroup {
            id: id.clone(),
            name: self.name,
            prices,
        };
        let g = g.normalized();
        p.0.extend(g.validate());
        p.finish(Some(g))
    }

    /// The stored object as answered.
    pub fn from_domain(g: &PriceGroup) -> Self {
        PriceGroupDoc {
            id: Some(g.id.to_string()),
            name: g.name.clone(),
            prices: g.prices.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }
}

/// A source code: body of `PUT /api/v1/source-codes/{code}` and its answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceCodeDoc {
    /// The code (from the path; optional in the body).
    #[serde(default)]
    #[schema(format = "code")]
    pub code: Option<String>,
    /// The catalog it comes from.
    #[schema(format = "code")]
    pub catalog: String,
    /// First valid instant.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_from: Option<Timestamp>,
    /// Last valid instant.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_to: Option<Timestamp>,
    /// Percent off the subtotal.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(nullable)]
    #[schema(value_type = String, example = "10", format = "percent")]
    pub discount_percent: Decimal,
    /// No automatic delivery charge.
    #[serde(default)]
    pub free_shipping: bool,
    /// Script for the agent.
    #[serde(default)]
    #[schema(format = "lines", max_length = 4000)]
    pub script: Option<String>,
    /// Price group of the catalog.
    #[serde(default)]
    #[schema(format = "code")]
    pub price_group: Option<String>,
}

impl SourceCodeDoc {
    /// Converts into the domain.
    pub fn into_domain(self, sc: &SourceCode) -> Result<SourceCodeDef, ServiceError> {
        let mut p = Problems::default();
        check_same_id(&mut p, "code", self.code.as_deref(), sc.as_str());
        let catalog = p.take(code("catalog", &self.catalog, CatalogId::parse));
        let price_group = match self.price_group {
            Some(g) => p
                .take(code("price_group", &g, PriceGroupId::parse))
                .map(Some),
            None => Some(None),
        };
        let def = match (catalog, price_group) {
            (Some(catalog), Some(price_group)) => Some(
                SourceCodeDef {
                    code: sc.clone(),
                    catalog,
                    window: Window {
                        valid_from: self.valid_from,
                        valid_to: self.valid_to,
                    },
                    discount_percent: self.discount_percent,
                    free_shipping: self.free_shipping,
                    script: self.script,
                    price_group,
                }
                .normalized(),
            ),
            _ => None,
        };
        if let Some(d) = &def {
            p.0.extend(d.validate());
        }
        p.finish(def)
    }

    /// The stored object as answered.
    pub fn from_domain(d: &SourceCodeDef) -> Self {
        SourceCodeDoc {
            code: Some(d.code.to_string()),
            catalog: d.catalog.to_string(),
            valid_from: d.window.valid_from,
            valid_to: d.window.valid_to,
            discount_percent: d.discount_percent,
            free_shipping: d.free_shipping,
            script: d.script.clone(),
            price_group: d.price_group.as_ref().map(|g| g.to_string()),
        }
    }
}

/// A coupon: body of `PUT /api/v1/coupons/{code}` and its answer.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponDoc {
    /// The code (from the path; optional in the body).
    #[serde(default)]
    #[schema(format = "code")]
    pub code: Option<String>,
    /// `percent` or `amount`.
    #[schema(value_type = super::schema::CouponKindName, example = "percent")]
    pub kind: CouponKind,
    /// Percent or amount.
    #[schema(value_type = String, example = "10", format = "money")]
    pub value: Decimal,
    /// Smallest order subtotal.
    #[serde(default, deserialize_with = "null_as_default")]
    #[schema(nullable)]
    #[schema(value_type = String, example = "0.00", format = "money")]
    pub min_order: Decimal,
    /// First valid instant.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_from: Option<Timestamp>,
    /// Last valid instant.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub valid_to: Option<Timestamp>,
    /// Usage limit, or null for unlimited.
    #[serde(default)]
    pub max_uses: Option<u32>,
}

impl CouponDoc {
    /// Converts into the domain.
    pub fn into_domain(self, c: &CouponCode) -> Result<Coupon, ServiceError> {
        let mut p = Problems::default();
        check_same_id(&mut p, "code", self.code.as_deref(), c.as_str());
        let coupon = Coupon {
            code: c.clone(),
            kind: self.kind,
            value: self.value,
            min_order: self.min_order,
            window: Window {
                valid_from: self.valid_from,
                valid_to: self.valid_to,
            },
            max_uses: self.max_uses,
        };
        p.0.extend(coupon.validate());
        p.finish(Some(coupon))
    }

    /// The stored object as answered.
    pub fn from_domain(c: &Coupon) -> Self {
        CouponDoc {
            code: Some(c.code.to_string()),
            kind: c.kind,
            value: c.value,
            min_order: c.min_order,
            valid_from: c.window.valid_from,
            valid_to: c.window.valid_to,
            max_uses: c.max_uses,
        }
    }
}
