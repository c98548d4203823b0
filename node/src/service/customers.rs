//! Customers of a call center: created, searched, read, changed; their notes, catalog requests
//! and history (orders from the read model, newest first).

use super::{cc_state, check_visible, AppState, ServiceError, ServiceResult, MAX_ITEMS};
use crate::auth::CurrentUser;
use crate::customer_search;
use crate::read_model::{complete_summary, read_summary};
use crate::store::records::rm_keys;
use crate::store::{DocKind, DocMeta, Store, StoreExt, TreeId};
use crate::views::Page;
use crate::views::{
    parse_code, CatalogRequestBody, CatalogRequestView, CustomerHistory, CustomerView,
    NewCustomerBody, NoteView, PatchCustomerBody,
};
use switchboard_domain::commands::Ctx;
use switchboard_domain::customer::{self, Customer, CustomerFields};
use switchboard_domain::*;
use switchboard_sync::doc as sdoc;
use uuid::Uuid;

pub(super) fn customer_not_found(id: CustomerId) -> ServiceError {
    ServiceError::not_found(format!("customer {id} does not exist"))
}

/// A source code that cannot even be parsed does not exist, like any code not configured.
pub(super) fn source_code(s: &str) -> ServiceResult<SourceCode> {
    SourceCode::parse(s.to_string()).map_err(|_| ServiceError::Rule {
        kind: ErrorKind::SourceCodeInvalid,
        detail: format!("source code {s} does not exist"),
    })
}

impl AppState {
    /// Creates a customer in the user's call center (node-wide admins name one with
    /// `call_center_id`).
    pub async fn create_customer(
        &self,
        user: &CurrentUser,
        body: NewCustomerBody,
    ) -> ServiceResult<CustomerView> {
        let cc_id = match (&body.call_center_id, &user.0.call_center) {
            (Some(given), _) => {
                let given = parse_code("call_center_id", given, CallCenterId::parse)?;
                if !user.sees(&given) {
                    return Err(ServiceError::forbidden(
                        "only node-wide admins act outside their own call center",
                    ));
                }
                given
            }
            (None, Some(own)) => own.clone(),
            (None, None) => {
                return Err(ServiceError::invalid_field(
                    "call_center_id",
                    "is required for users of no call center",
                ))
            }
        };
        let cc = self.configs.call_center(&cc_id).ok_or_else(|| {
            ServiceError::invalid_field(
                "call_center_id",
                format!("call center {cc_id} does not exist"),
            )
        })?;
        let catalog = self.catalog();
        let actor = user.actor();
        let now = self.now();
        let fields = CustomerFields {
            name: Some(body.name),
            phone: Some(body.phone),
            email: Some(body.email),
            address: Some(body.address),
        };
        let ctx = Ctx {
            cc: &cc.config,
            catalog: &catalog,
            actor: &actor,
            now,
        };
        let c = customer::create_customer(ctx, CustomerId(Uuid::now_v7()), fields)?;
        let author = self.author(user.0.id);
        self.write(move |ctx| {
            let doc = sdoc::create_customer_doc(&c, &author)?;
            let meta = DocMeta {
                kind: DocKind::Customer,
                call_center: Some(c.call_center_id.clone()),
            };
            ctx.put_doc(c.id.0, meta, &doc)?;
            Ok(CustomerView::from_domain(&c))
        })
        .await
    }

    /// A page of the customers the user may see whose name, phone or email contains `q`
    /// (case-insensitive), in the order they were created (their ids are UUID v7), and the
    /// cursor of the next page. Queries of [`customer_search::GRAM`] characters or more read
    /// only the candidates of the search index; shorter ones scan.
    pub async fn customers(
        &self,
        user: &CurrentUser,
        q: String,
        page: Page,
    ) -> ServiceResult<(Vec<CustomerView>, Option<String>)> {
        let user = user.clone();
        let q = q.trim().to_lowercase();
        self.read(move |s| match customer_search::query_grams(&q) {
            Some(grams) => search_customers(s, &user, &q, &grams, &page),
            None => scan_customers(s, &user, &q, &page),
        })
        .await
    }

    /// A customer the user may see, read fresh from its document.
    pub async fn customer(
        &self,
        user: &CurrentUser,
        id: CustomerId,
    ) -> ServiceResult<(Customer, Vec<sdoc::Conflict>)> {
        let user = user.clone();
        self.read(move |s| {
            let (meta, doc) = s.load_doc(id.0)?.ok_or_else(|| customer_not_found(id))?;
            check_visible(&user, &meta, DocKind::Customer, || customer_not_found(id))?;
            Ok(sdoc::read_customer(&doc)?)
        })
        .await
    }

    /// Runs a customer command as one writer job.
    async fn customer_job<R, F>(&self, user: &CurrentUser, id: CustomerId, f: F) -> ServiceResult<R>
    where
        R: Send + 'static,
        F: FnOnce(&Customer, Ctx<'_>) -> Result<(customer::CustomerEvent, R), OrderError>
            + Send
            + 'static,
    {
        let user = user.clone();
        let author = self.author(user.0.id);
        let configs = self.configs.clone();
        self.write(move |ctx| {
            let (meta, mut doc) = ctx.load_doc(id.0)?.ok_or_else(|| customer_not_found(id))?;
            check_visible(&user, &meta, DocKind::Customer, || customer_not_found(id))?;
            let (c, _) = sdoc::read_customer(&doc)?;
            let cc = cc_state(&configs, &c.call_center_id)?;
            let catalog = configs.catalog();
            let actor = user.actor();
            let dctx = Ctx {
                cc: &cc.config,
                catalog: &catalog,
                actor: &actor,
                now: author.now,
            };
            let (event, out) = f(&c, dctx)?;
            sdoc::apply_customer_event(&mut doc, &event, &author)?;
            ctx.put_doc(id.0, meta, &doc)?;
            Ok(out)
        })
        .await
    }

    /// Changes contact fields.
    pub async fn patch_customer(
        &self,
        user: &CurrentUser,
        id: CustomerId,
        b: PatchCustomerBody,
    ) -> ServiceResult<CustomerView> {
        let fields = CustomerFields {
            name: b.name,
            phone: b.phone,
            email: b.email,
            address: b.address,
        };
        self.customer_job(user, id, move |c, ctx| {
            let ev = customer::update_customer(c, ctx, fields)?;
            let mut c = c.clone();
            customer::apply_customer(&mut c, &ev);
            Ok((ev, CustomerView::from_domain(&c)))
        })
        .await
    }

    /// Adds a note to a customer.
    pub async fn add_customer_note(
        &self,
        user: &CurrentUser,
        id: CustomerId,
        text: String,
    ) -> ServiceResult<NoteView> {
        self.customer_job(user, id, move |c, ctx| {
            let ev = customer::add_customer_note(c, ctx, NoteId(Uuid::now_v7()), text)?;
            let view = match &ev {
                customer::CustomerEvent::NoteAdded(n) => NoteView {
                    id: n.id,
                    by: n.added.by,
                    at: n.added.at,
                    text: n.text.clone(),
                },
                _ => return Err(OrderError::EmptyChange),
            };
            Ok((ev, view))
        })
        .await
    }

    /// Records a catalog request.
    pub async fn request_catalog(
        &self,
        user: &CurrentUser,
        id: CustomerId,
        b: CatalogRequestBody,
    ) -> ServiceResult<CatalogRequestView> {
        let sc = source_code(&b.source_code)?;
        self.customer_job(user, id, move |c, ctx| {
            let ev = customer::request_catalog(
                c,
                ctx,
                CatalogRequestId(Uuid::now_v7()),
                sc,
                b.quantity,
            )?;
            let view = match &ev {
                customer::CustomerEvent::CatalogRequested(r) => CatalogRequestView::from_domain(r),
                _ => return Err(OrderError::EmptyChange),
            };
            Ok((ev, view))
        })
        .await
    }

    /// Orders (newest first), notes and catalog requests of a customer.
    pub async fn customer_history(
        &self,
        user: &CurrentUser,
        id: CustomerId,
    ) -> ServiceResult<CustomerHistory> {
        let (c, _) = self.customer(user, id).await?;
        let configs = self.configs.clone();
        let summaries = self
            .read(move |s| {
                let mut out = Vec::new();
                for kv in s.iter_prefix(TreeId::IdxCustomerOrders, id.0.as_bytes(), true) {
                    let (k, _) = kv?;
                    let Some(oid) = rm_keys::trailing_uuid(&k) else {
                        continue;
                    };
                    if let Some(sum) = read_summary(s, oid)? {
                        out.push(complete_summary(s, &configs, sum));
                    }
                    if out.len() >= MAX_ITEMS {
                        break;
                    }
                }
                Ok(out)
            })
            .await?;
        Ok(CustomerHistory::build(&c, summaries))
    }
}

/// Collects a page of customers: `push` takes each match in key order and says whether to go on.
struct PageOut<'a> {
    page: &'a Page,
    out: Vec<CustomerView>,
    next: Option<String>,
}

impl<'a> PageOut<'a> {
    fn new(page: &'a Page) -> Self {
        PageOut {
            page,
            out: Vec::new(),
            next: None,
        }
    }

    fn push(&mut self, c: CustomerView) -> bool {
        if self.out.len() == self.page.limit {
            self.next = Some(self.page.cursor(&last_key(&self.out)));
            return false;
        }
        self.out.push(c);
        true
    }

    fn finish(self) -> (Vec<CustomerView>, Option<String>) {
        (self.out, self.next)
    }
}

/// [`AppState::customers`] through the search index: the candidates holding every gram of `q`
/// (`grams`), each checked on its view for the match and the user's scope.
pub(crate) fn search_customers(
    s: &dyn Store,
    user: &CurrentUser,
    q: &str,
    grams: &[String],
    page: &Page,
) -> ServiceResult<(Vec<CustomerView>, Option<String>)> {
    let mut out = PageOut::new(page);
    let from = page.after.as_deref().unwrap_or_default();
    customer_search::candidates(s, grams, from, |id| {
        if !page.includes(id.as_bytes()) {
            return Ok(true);
        }
        let Some(v) = s.get(TreeId::Customers, id.as_bytes())? else {
            return Ok(true);
        };
        let Ok(c) = serde_json::from_slice::<CustomerView>(&v) else {
            return Ok(true);
        };
        if user.sees(&c.call_center_id) && c.matches(q) {
            return Ok(out.push(c));
        }
        Ok(true)
    })?;
    Ok(out.finish())
}

/// [`AppState::customers`] by walking every customer (`q` trimmed and lower-cased; empty
/// matches all): for queries too short for the search index.
pub(crate) fn scan_customers(
    s: &dyn Store,
    user: &CurrentUser,
    q: &str,
    page: &Page,
) -> ServiceResult<(Vec<CustomerView>, Option<String>)> {
    // Most entries do not match: they are passed over on their stored JSON, lower-cased,
    // without decoding them (serde_json keeps text verbatim but for `"`, `\` and control
    // characters, so a query without those is in a field only if it is in the entry).
    let raw_check = !q.is_empty() && !q.chars().any(|c| c == '"' || c == '\\' || c.is_control());
    let mut out = PageOut::new(page);
    for kv in s.iter_prefix(TreeId::Customers, b"", false) {
        let (k, v) = kv?;
        if !page.includes(&k) {
            continue;
        }
        if raw_check {
            if let Ok(text) = std::str::from_utf8(&v) {
                if !text.to_lowercase().contains(q) {
                    continue;
                }
            }
        }
        let Ok(c) = serde_json::from_slice::<CustomerView>(&v) else {
            continue;
        };
        if user.sees(&c.call_center_id) && (q.is_empty() || c.matches(q)) && !out.push(c) {
            break;
        }
    }
    Ok(out.finish())
}

/// The store key of the last customer of a page: its id's bytes.
fn last_key(page: &[CustomerView]) -> Vec<u8> {
    page.last()
        .map(|c| c.id.0.as_bytes().to_vec())
        .unwrap_or_default()
}
