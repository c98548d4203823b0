//! The catalog: products, price groups, source codes and coupons, all in the one catalog
//! document (written by admins at HQ).

use super::{AppState, ServiceError, ServiceResult};
use crate::auth::CurrentUser;
use crate::store::{DocKind, DocMeta};
use automerge::Automerge;
use switchboard_domain::config::{Coupon, FieldError, PriceGroup, Product, SourceCodeDef};
use switchboard_domain::money::Currency;
use switchboard_sync::doc::{self as sdoc, Author};

impl AppState {
    /// Writes one entry into the catalog document (created on first use).
    async fn put_catalog_entry<T, F>(
        &self,
        user: &CurrentUser,
        value: T,
        put: F,
    ) -> ServiceResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Automerge, &T, &Author) -> Result<(), sdoc::DocError> + Send + 'static,
    {
        let author = self.author(user.0.id);
        self.write(move |ctx| {
            let doc_id = sdoc::catalog_doc_id();
            let mut doc = match ctx.load_doc(doc_id)? {
                Some((_, doc)) => doc,
                None => sdoc::new_catalog_doc(&author)?,
            };
            put(&mut doc, &value, &author)?;
            ctx.put_doc(
                doc_id,
                DocMeta {
                    kind: DocKind::Catalog,
                    call_center: None,
                },
                &doc,
            )?;
            Ok(value)
        })
        .await
    }

    /// The currencies of the call centers configured here: catalog amounts must fit each of them
    /// (a price of 0.005 cannot be sold in EUR).
    fn currencies(&self) -> Vec<Currency> {
        let mut out: Vec<Currency> = self
            .configs
            .call_center_ids()
            .iter()
            .filter_map(|id| self.configs.call_center(id))
            .map(|cc| cc.config.currency.clone())
            .collect();
        out.sort_by(|a, b| a.code().cmp(b.code()));
        out.dedup();
        out
    }

    /// Creates or replaces a product.
    pub async fn put_product(&self, user: &CurrentUser, p: Product) -> ServiceResult<Product> {
        refuse(p.validate_for(&self.currencies()))?;
        self.put_catalog_entry(user, p, sdoc::put_product).await
    }

    /// Creates or replaces a price group.
    pub async fn put_price_group(
        &self,
        user: &CurrentUser,
        g: PriceGroup,
    ) -> ServiceResult<PriceGroup> {
        refuse(g.validate_for(&self.currencies()))?;
        self.put_catalog_entry(user, g, sdoc::put_price_group).await
    }

    /// Creates or replaces a source code.
    pub async fn put_source_code(
        &self,
        user: &CurrentUser,
        s: SourceCodeDef,
    ) -> ServiceResult<SourceCodeDef> {
        self.put_catalog_entry(user, s, sdoc::put_source_code).await
    }

    /// Creates or replaces a coupon.
    pub async fn put_coupon(&self, user: &CurrentUser, c: Coupon) -> ServiceResult<Coupon> {
        refuse(c.validate_for(&self.currencies()))?;
        self.put_catalog_entry(user, c, sdoc::put_coupon).await
    }
}

/// Field errors as a refusal; none is fine.
fn refuse(errs: Vec<FieldError>) -> ServiceResult<()> {
    if errs.is_empty() {
        Ok(())
    } else {
        Err(ServiceError::Invalid(errs))
    }
}
