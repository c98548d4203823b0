//! Customers: contact data, addresses, notes and catalog requests.

use crate::commands::Ctx;
use crate::config::WindowCheck;
use crate::error::OrderError;
use crate::ids::*;
use crate::order::{Address, Note, Stamp};
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

/// Checks contact fields; each refusal names one field and says its rule.
fn check_fields(f: &CustomerFields) -> Result<(), OrderError> {
    let bad = |field: &'static str, message: &str| OrderError::InvalidText {
        field,
        message: message.into(),
    };
    if let Some(name) = &f.name {
        if name.trim().is_empty() {
            return Err(bad("name", "must not be empty"));
        }
        if name.chars().count() > 200 {
            return Err(bad("name", "must be at most 200 characters"));
        }
    }
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
    if let Some(Some(email)) = &f.email {
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
    }
    if let Some(addr) = &f.address {
        if addr.len() > 20
            || addr
                .iter()
                .any(|(k, v)| k.is_empty() || k.len() > 64 || v.chars().count() > 500)
        {
            return Err(bad(
                "address",
                "at most 20 fields, keys of 1 to 64 and values of at most 500 characters",
            ));
        }
    }
    Ok(())
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
    check_fields(&fields)?;
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
    check_fields(&fields)?;
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
    if text.trim().is_empty() || text.chars().count() > 4000 {
        return Err(OrderError::InvalidText {
            field: "text",
            message: "must be 1 to 4000 characters".into(),
        });
    }
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
