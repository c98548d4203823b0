//! Users and their tokens: authentication of a bearer token ([`crate::auth::check_token`]), the
//! users of a call center, revocation and rotation.
//!
//! A call center's users live in its configuration document, so revoking or rotating one is a
//! configuration write (at HQ, by an admin of that call center) that reaches sites by sync: the
//! site's projection of the document re-indexes the user's token, revoked or replaced. The admin
//! `init` made lives only in this node's `users` tree and is rotated there.

use super::{AppState, ServiceError, ServiceResult};
use crate::auth::{check_token, CurrentUser, TokenRefused, LEGACY_TOKEN_DEADLINE};
use crate::error::NodeError;
use crate::identity::{new_token, token_expiry, token_hash};
use crate::store::records;
use crate::store::{Op, Store, StoreExt, TreeId, UserEntry, UserOrigin};
use crate::views::{Page, TokenView, UserList, UserView};
use switchboard_domain::config::User;
use switchboard_domain::{CallCenterId, Timestamp, UserId};
use switchboard_sync::doc::{self as sdoc, UserRecord};

/// The deadline of tokens stored without an expiry: read from the `meta` tree, or set to one
/// token lifetime from `now` when missing (the first start of a version that knows expiry). Runs
/// at open, before the writer takes jobs.
pub(super) fn legacy_token_deadline(
    store: &dyn Store,
    now: Timestamp,
    lifetime_secs: u64,
) -> Result<Timestamp, NodeError> {
    if let Some(b) = store.get(TreeId::Meta, LEGACY_TOKEN_DEADLINE)? {
        let ms = records::read_u64(&b)?;
        return Ok(Timestamp::from_millis(
            i64::try_from(ms).unwrap_or(i64::MAX),
        ));
    }
    let deadline = token_expiry(now, lifetime_secs);
    let ms = u64::try_from(deadline.as_millis()).unwrap_or(0);
    store.apply(&[Op {
        tree: TreeId::Meta,
        key: LEGACY_TOKEN_DEADLINE.to_vec(),
        value: Some(ms.to_be_bytes().to_vec()),
    }])?;
    Ok(deadline)
}

/// Where a user is kept.
enum Found {
    /// In a call center's configuration document.
    InCallCenter(CallCenterId),
    /// In this node's `users` tree only, under this token hash.
    Local(String, UserEntry),
}

impl AppState {
    /// The user holding a token hash, or why the token does not authenticate.
    pub async fn authenticate(&self, hash: String) -> ServiceResult<Result<User, TokenRefused>> {
        let (now, legacy) = (self.now(), self.legacy_token_deadline);
        self.read(move |s| Ok(check_token(s.user_by_token_hash(&hash)?, now, legacy)))
            .await
    }

    /// The users of a call center (admins of it), by id, a page at a time.
    pub async fn users(
        &self,
        user: &CurrentUser,
        cc: &CallCenterId,
        page: Page,
    ) -> ServiceResult<UserList> {
        let state = match self.configs.call_center(cc) {
            Some(s) if user.sees(cc) => s,
            _ => {
                return Err(ServiceError::not_found(format!(
                    "call center {cc} does not exist"
                )))
            }
        };
        user.require_admin_of(cc)?;
        let (items, next_cursor) =
            page.take(state.users.values(), |r| r.user.id.0.as_bytes().to_vec());
        Ok(UserList {
            items: items.into_iter().map(UserView::from_record).collect(),
            next_cursor,
        })
    }

    /// Finds a user the acting user may see: in a call center they act in, or, for node-wide
    /// admins, among this node's own users.
    async fn find_user(&self, user: &CurrentUser, id: UserId) -> ServiceResult<Found> {
        for cc in self.configs.call_center_ids() {
            let holds = self
                .configs
                .call_center(&cc)
                .is_some_and(|s| s.users.contains_key(&id));
            if holds && user.sees(&cc) {
                return Ok(Found::InCallCenter(cc));
            }
        }
        if user.is_node_admin() {
            let local = self
                .read(move |s| {
                    for kv in s.iter_prefix(TreeId::Users, b"", false) {
                        let (k, v) = kv?;
                        let Ok(e) = UserEntry::decode(&v) else {
                            continue;
                        };
                        if e.origin == UserOrigin::Local && e.user.id == id {
                            return Ok(Some((String::from_utf8_lossy(&k).into_owned(), e)));
                        }
                    }
                    Ok(None)
                })
                .await?;
            if let Some((hash, e)) = local {
                return Ok(Found::Local(hash, e));
            }
        }
        Err(ServiceError::not_found(format!("user {id} does not exist")))
    }

    /// Revokes a user: every token of theirs stops working (at sites once synced), and changes
    /// in their name merged from a site are held. Admins of the user's call center, at HQ.
    pub async fn revoke_user(&self, user: &CurrentUser, id: UserId) -> ServiceResult<UserView> {
        self.require_hq_for_users()?;
        match self.find_user(user, id).await? {
            Found::Local(..) => Err(ServiceError::Conflict(
                "the admin made by init cannot be revoked; rotate its token instead".into(),
            )),
            Found::InCallCenter(cc) => {
                user.require_admin_of(&cc)?;
                let rec = self
                    .update_user(user, cc, id, |rec| {
                        rec.disabled = true;
                        Ok(())
                    })
                    .await?;
                Ok(UserView::from_record(&rec))
            }
        }
    }

    /// Gives a user a new token; the old one stops working (at sites once synced). Admins of the
    /// user's call center, or the user itself, at HQ.
    pub async fn rotate_user(&self, user: &CurrentUser, id: UserId) -> ServiceResult<TokenView> {
        self.require_hq_for_users()?;
        let token = new_token();
        let hash = token_hash(&token);
        match self.find_user(user, id).await? {
            Found::Local(old, entry) => {
                let expires_at = token_expiry(self.now(), self.config.admin_token_lifetime_secs);
                let entry = UserEntry {
                    expires_at: Some(expires_at),
                    ..entry
                };
                self.write(move |ctx| Ok(ctx.replace_local_user(&old, &hash, &entry)?))
                    .await?;
                Ok(TokenView { token, expires_at })
            }
            Found::InCallCenter(cc) => {
                if user.0.id != id {
                    user.require_admin_of(&cc)?;
                }
                let expires_at = token_expiry(self.now(), self.config.token_lifetime_secs);
                self.update_user(user, cc, id, move |rec| {
                    if rec.disabled {
                        return Err(ServiceError::Conflict(format!(
                            "user {id} is revoked; add a new user instead"
                        )));
                    }
                    rec.token_hash = hash;
                    rec.expires_at = Some(expires_at);
                    Ok(())
                })
                .await?;
                Ok(TokenView { token, expires_at })
            }
        }
    }

    /// Users are written at HQ, like all configuration.
    fn require_hq_for_users(&self) -> ServiceResult<()> {
        if self.identity.role == switchboard_sync::protocol::Role::Site {
            return Err(ServiceError::forbidden(
                "users are written at HQ and reach this site node by sync",
            ));
        }
        Ok(())
    }

    /// Changes a user record of a call center's document in one writer job.
    async fn update_user(
        &self,
        user: &CurrentUser,
        cc: CallCenterId,
        id: UserId,
        change: impl FnOnce(&mut UserRecord) -> ServiceResult<()> + Send + 'static,
    ) -> ServiceResult<UserRecord> {
        let author = self.author(user.0.id);
        self.write(move |ctx| {
            let doc_id = sdoc::call_center_doc_id(&cc);
            let (meta, mut doc) = ctx.load_doc(doc_id)?.ok_or_else(|| {
                ServiceError::not_found(format!("call center {cc} does not exist"))
            })?;
            let mut rec = sdoc::read_call_center(&doc)?
                .users
                .remove(&id)
                .ok_or_else(|| ServiceError::not_found(format!("user {id} does not exist")))?;
            change(&mut rec)?;
            sdoc::put_user(&mut doc, &rec, &author)?;
            ctx.put_doc(doc_id, meta, &doc)?;
            Ok(rec)
        })
        .await
    }
}
