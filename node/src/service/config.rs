//! Configuration of call centers and their users, written by admins at HQ and carried to sites
//! by sync.

use super::{AppState, ServiceError, ServiceResult};
use crate::auth::CurrentUser;
use crate::store::{DocKind, DocMeta};
use crate::views::{NewUserBody, NewUserView};
use switchboard_domain::config::{CallCenter, User};
use switchboard_domain::{CallCenterId, UserId};
use switchboard_sync::doc::{self as sdoc, UserRecord};
use switchboard_sync::protocol::Role;
use uuid::Uuid;

impl AppState {
    /// Global configuration is written by node-wide admins, at HQ only.
    pub fn require_config_writer(&self, user: &CurrentUser) -> ServiceResult<()> {
        self.require_hq()?;
        Ok(user.require_admin()?)
    }

    /// A call center's own configuration and users are written by its admins (node-wide, or
    /// scoped to it), at HQ only.
    pub fn require_config_writer_of(
        &self,
        user: &CurrentUser,
        cc: &CallCenterId,
    ) -> ServiceResult<()> {
        self.require_hq()?;
        Ok(user.require_admin_of(cc)?)
    }

    /// Whether this node is a site: configuration, users and passwords are written at HQ and
    /// reach it by sync.
    pub fn is_site(&self) -> bool {
        self.identity.role == Role::Site
    }

    fn require_hq(&self) -> ServiceResult<()> {
        if self.is_site() {
            return Err(ServiceError::forbidden(
                "configuration is written at HQ and reaches this site node by sync",
            ));
        }
        Ok(())
    }

    /// The configuration of a call center the user may see.
    pub async fn call_center(
        &self,
        user: &CurrentUser,
        id: &CallCenterId,
    ) -> ServiceResult<CallCenter> {
        match self.configs.call_center(id) {
            Some(s) if user.sees(id) => Ok(s.config.clone()),
            _ => Err(ServiceError::not_found(format!(
                "call center {id} does not exist"
            ))),
        }
    }

    /// Creates or replaces a call center's configuration.
    pub async fn put_call_center(
        &self,
        user: &CurrentUser,
        cc: CallCenter,
    ) -> ServiceResult<CallCenter> {
        let author = self.author(user.0.id);
        self.write(move |ctx| {
            let doc_id = sdoc::call_center_doc_id(&cc.id);
            let doc = match ctx.load_doc(doc_id)? {
                Some((_, mut doc)) => {
                    sdoc::put_call_center(&mut doc, &cc, &author)?;
                    doc
                }
                None => sdoc::new_call_center_doc(&cc, &author)?,
            };
            ctx.put_doc(
                doc_id,
                DocMeta {
                    kind: DocKind::CallCenter,
                    call_center: Some(cc.id.clone()),
                },
                &doc,
            )?;
            Ok(sdoc::read_call_center(&doc)?.config)
        })
        .await
    }

    /// Adds a user to a call center and returns the one-time token.
    pub async fn create_user(
        &self,
        user: &CurrentUser,
        cc: &CallCenterId,
        body: NewUserBody,
    ) -> ServiceResult<NewUserView> {
        let name = switchboard_domain::text::NAME
            .apply(body.name.trim().to_string())
            .map_err(|e| ServiceError::invalid_field("name", e.0))?;
        let password_hash = match body.password {
            Some(p) => {
                self.check_sign_in_name(&name)?;
                Some(super::passwords::hash_password("password", p).await?)
            }
            None => None,
        };
        let author = self.author(user.0.id);
        let now = self.now();
        let expires_at = crate::identity::token_expiry(now, self.config.token_lifetime_secs);
        let cc = cc.clone();
        self.write(move |ctx| {
            let doc_id = sdoc::call_center_doc_id(&cc);
            let (meta, mut doc) = ctx.load_doc(doc_id)?.ok_or_else(|| {
                ServiceError::not_found(format!("call center {cc} does not exist"))
            })?;
            let token = crate::identity::new_token();
            let rec = UserRecord {
                user: User {
                    id: UserId(Uuid::new_v4()),
                    name,
                    role: body.role,
                    call_center: Some(cc.clone()),
                },
                token_hash: crate::identity::token_hash(&token),
                disabled: false,
                created_at: Some(now),
                expires_at: Some(expires_at),
                password_hash,
            };
            sdoc::put_user(&mut doc, &rec, &author)?;
            ctx.put_doc(doc_id, meta, &doc)?;
            Ok(NewUserView {
                user_id: rec.user.id,
                token,
                expires_at,
            })
        })
        .await
    }
}
