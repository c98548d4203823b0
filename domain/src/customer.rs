//! Customers: contact data, addresses, notes and catalog requests.

use crate::commands::Ctx;
use crate::config::WindowCheck;
use crate::error::OrderError;
use crate::ids::*;
use crate::order::{Address, Note, Stamp};
use crate::text;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A catalog the customer asked to be mailed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogRequest {
    /// Its id.
    pub id: CatalogRequestId,
    /// The source code it was requested under.
    pub source_code: SourceCode,
    /// The catalog of that source code.
    pub catalog: CatalogId,
    /// Copies.
    pub quantity: u32,
    /// Who recorded it, when.
    pub requested: Stamp,
}

/// A customer of one call center.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// Its id.
    pub id: CustomerId,
    /// The call center whose customer this is.
    pub call_center_id: CallCenterId,
    /// Name.
    pub name: String,
    /// Phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Postal address.
    pub address: Address,
    /// Notes by id.
    pub notes: BTreeMap<NoteId, Note>,
    /// Catalog requests by id.
    pub catalog_requests: BTreeMap<CatalogRequestId, CatalogRequest>,
    /// Who created it, when.
    pub created: Stamp,
}

/// Contact fields; on create `name` is required, on patch every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CustomerFields {
    /// Name.
    pub name: Option<String>,
    /// Phone (`Some(None)` clears it).
    pub phone: Option<Option<String>>,
    /// Email (`Some(None)` clears it).
    pub email: Option<Option<String>>,
    /// Address (replaces the whole address).
    pub address: Option<Address>,
}

/// A change to a customer, as one automerge change carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CustomerEvent {
    /// Contact fields changed.
    Updated {
        /// New name.
        name: Option<String>,
        /// New phone.
        phone: Option<Option<String>>,
        /// New email.
        email: Option<Option<String>>,
        /// New address.
        address: Option<Address>,
    },
    /// A note was added.
    NoteAdded(Note),
    /// A catalog request was recorded.
    CatalogRequested(CatalogRequest),
}

/// Fewest digits a phone number has.
pub const PHONE_MIN_DIGITS: usize = 3;
/// Longest a phone number is, in characters.
pub const PHONE_MAX_LEN: usize = 40;

/// Normalises and checks contact fields; each refusal names one field and says its rule. Text
/// follows [`crate::text`]; the phone holds only digits and `+ - ( ) .`; the email is an address
/// with a dotted domain.
fn clean_fields(f: CustomerFields) -> Result<CustomerFields, OrderError> {
    let bad = |field: &'static str, message: &str| OrderError::InvalidText {
        field,
        message: message.into(),
    };
    let clean = |field: &'static str, rule: text::Rule, s: String| {
        rule.apply(s).map_err(|e| OrderError::InvalidText {
            field,
            message: e.0,
        })
    };
    let name = f.name.map(|n| clean("name", text::NAME, n)).transpose()?;
    if let Some(Some(phone)) = &f.phone {
        if !phone
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
        {
            return Err(bad("phone", "may hold only digits, spaces and + - ( ) ."));
        }
        if phone.chars().filter(|c| c.is_ascii_digit()).count() < PHONE_MIN_DIGITS {
            return Err(bad(
                "phone",
                &format!("must have at least {PHONE_MIN_DIGITS} digits"),
            ));
        }
        if phone.len() > PHONE_MAX_LEN {
            return Err(bad(
                "phone",
                &format!("must be at most {PHONE_MAX_LEN} characters"),
            ));
        }
    }
    let email = match f.email {
        Some(Some(email)) => {
            let email = clean("email", text::Rule::line(254), email)?;
            let ok = email.len() <= 254
                && !email.contains(char::is_whitespace)
                && email.split_once('@').is_some_and(|(l, d)| {
                    !l.is_empty()
                        && !d.contains('@')
                        && d.contains('.')
                        && !d.starts_with('.')
                        && !d.ends_with('.')
                });
            if !ok {
                return Err(bad("email", "must be an email address"));
            }
            Some(Some(email))
        }
        other => other,
    };
    let address = f
        .address
        .map(|a| {
            text::apply_map(a).map_err(|e| OrderError::InvalidText {
                field: "address",
                message: e.0,
            })
        })
        .transpose()?;
    Ok(CustomerFields {
        name,
        phone: f.phone,
        email,
        address,
    })
}

/// Creates a customer in the actor's call center.
pub fn create_customer(
    ctx: Ctx<'_>,
    id: CustomerId,
    fields: CustomerFields,
) -> Result<Customer, OrderError> {
    ctx.authorize()?;
    if fields.name.is_none() {
        return Err(OrderError::InvalidText {
            field: "name",
            message: "is required".into(),
        });
    }
    let fields = clean_fields(fields)?;
    Ok(Customer {
        id,
        call_center_id: ctx.cc.id.clone(),
        name: fields.name.unwrap_or_default(),
        phone: fields.phone.flatten(),
        email: fields.email.flatten(),
        address: fields.address.unwrap_or_default(),
        notes: BTreeMap::new(),
        catalog_requests: BTreeMap::new(),
        created: Stamp {
            by: ctx.actor.user,
            at: ctx.now,
        },
    })
}

/// Changes contact fields.
pub fn update_customer(
    _c: &Customer,
    ctx: Ctx<'_>,
    fields: CustomerFields,
) -> Result<CustomerEvent, OrderError> {
    ctx.authorize()?;
    if fields == CustomerFields::default() {
        return Err(OrderError::EmptyChange);
    }
    let fields = clean_fields(fields)?;
    Ok(CustomerEvent::Updated {
        name: fields.name,
        phone: fields.phone,
        email: fields.email,
        address: fields.address,
    })
}

/// Adds a note to a customer.
pub fn add_customer_note(
    _c: &Customer,
    ctx: Ctx<'_>,
    id: NoteId,
    text: String,
) -> Result<CustomerEvent, OrderError> {
    ctx.authorize()?;
    let text = text::NOTE
        .apply(text)
        .map_err(|e| OrderError::InvalidText {
            field: "text",
            message: e.0,
        })?;
    Ok(CustomerEvent::NoteAdded(Note {
        id,
        added: Stamp {
            by: ctx.actor.user,
            at: ctx.now,
        },
        text,
    }))
}

/// Records a catalog request: guided sales on, the source code configured and valid now.
pub fn request_catalog(
    _c: &Customer,
    ctx: Ctx<'_>,
    id: CatalogRequestId,
    source_code: SourceCode,
    quantity: u32,
) -> Result<CustomerEvent, OrderError> {
    ctx.authorize()?;
    if !ctx.cc.guided_sales {
        return Err(OrderError::GuidedSalesOff);
    }
    if !(1..=100).contains(&quantity) {
        return Err(OrderError::InvalidAmount {
            field: "quantity",
            message: "must be from 1 to 100".into(),
        });
    }
    let sc = ctx
        .catalog
        .source_codes
        .get(&source_code)
        .ok_or_else(|| OrderError::SourceCodeUnknown(source_code.clone()))?;
    match sc.window.check(ctx.now) {
        WindowCheck::Valid => {}
        WindowCheck::NotYet => return Err(OrderError::SourceCodeNotYetValid(source_code)),
        WindowCheck::Expired => return Err(OrderError::SourceCodeExpired(source_code)),
    }
    Ok(CustomerEvent::CatalogRequested(CatalogRequest {
        id,
        catalog: sc.catalog.clone(),
        source_code,
        quantity,
        requested: Stamp {
            by: ctx.actor.user,
            at: ctx.now,
        },
    }))
}

/// Folds an event into the customer.
pub fn apply_customer(c: &mut Customer, event: &CustomerEvent) {
    match event {
        CustomerEvent::Updated {
            name,
            phone,
            email,
            address,
        } => {
            if let Some(n) = name {
                c.name = n.clone();
            }
            if let Some(p) = phone {
                c.phone = p.clone();
            }
            if let Some(e) = email {
                c.email = e.clone();
            }
            if let Some(a) = address {
                c.address = a.clone();
            }
        }
        CustomerEvent::NoteAdded(n) => {
            c.notes.insert(n.id, n.clone());
        }
        CustomerEvent::CatalogRequested(r) => {
            c.catalog_requests.insert(r.id, r.clone());
        }
    }
}
