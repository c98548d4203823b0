//! Console passwords and sign-in: passwords are set at HQ (by an admin, by a supervisor of the
//! user's call center, or by users themselves with their current password) and kept as argon2id
//! hashes in the call center's configuration ([`crate::passwords`]); a sign-in on any node checks
//! the hash in the configuration it holds, so sites sign agents in offline.

use super::{AppState, ServiceError, ServiceResult};
use crate::auth::CurrentUser;
use crate::store::DocMeta;
use crate::views::PasswordBody;
use std::sync::OnceLock;
use switchboard_domain::config::{Role, User};
use switchboard_domain::{CallCenterId, UserId};
use switchboard_sync::doc::{self as sdoc, UserRecord};

/// How sign-in names are compared: trimmed, case-insensitive.
fn same_name(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// A hash that matches no password, verified when no user has the name given, so that an
/// unknown name takes as long to refuse as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY
        .get_or_init(|| crate::passwords::hash("decoy password, never matches").unwrap_or_default())
}

/// Hashes a password off the async workers, after checking its rules (field `field`).
pub(super) async fn hash_password(field: &str, password: String) -> ServiceResult<String> {
    crate::passwords::check_rules(&password).map_err(|m| ServiceError::invalid_field(field, m))?;
    tokio::task::spawn_blocking(move || crate::passwords::hash(&password))
        .await
        .map_err(ServiceError::internal)?
        .map_err(ServiceError::internal)
}

impl AppState {
    /// The user record with this id and its call center, from the configuration held here.
    pub fn user_record(&self, id: UserId) -> Option<(CallCenterId, UserRecord)> {
        self.configs.call_center_ids().into_iter().find_map(|cc| {
            let state = self.configs.call_center(&cc)?;
            state.users.get(&id).map(|r| (cc, r.clone()))
        })
    }

    /// A user who may still act (not disabled), by id: what a console session resolves to on
    /// each request, so a user disabled at HQ loses the console once the configuration syncs.
    pub fn active_user(&self, id: UserId) -> Option<User> {
        self.user_record(id)
            .filter(|(_, r)| !r.disabled)
            .map(|(_, r)| r.user)
    }

    /// Whether a user other than `except` already signs in with this name (names must tell
    /// users apart at sign-in).
    fn name_taken(&self, name: &str, except: Option<UserId>) -> bool {
        self.configs.call_center_ids().into_iter().any(|cc| {
            self.configs.call_center(&cc).is_some_and(|s| {
                s.users.values().any(|r| {
                    Some(r.user.id) != except
                        && r.password_hash.is_some()
                        && same_name(&r.user.name, name)
                })
            })
        })
    }

    /// The user a name and password sign in, if they match an active user's password hash.
    /// Takes as long for an unknown name as for a wrong password.
    pub async fn sign_in(&self, name: &str, password: &str) -> ServiceResult<Option<User>> {
        let found = self.configs.call_center_ids().into_iter().find_map(|cc| {
            let s = self.configs.call_center(&cc)?;
            s.users
                .values()
                .find(|r| r.password_hash.is_some() && same_name(&r.user.name, name))
                .cloned()
        });
        let hash = found
            .as_ref()
            .and_then(|r| r.password_hash.clone())
            .unwrap_or_else(|| decoy_hash().to_string());
        let password = password.to_string();
        let ok = tokio::task::spawn_blocking(move || crate::passwords::verify(&password, &hash))
            .await
            .map_err(ServiceError::internal)?;
        Ok(match found {
            Some(r) if ok && !r.disabled => Some(r.user),
            _ => None,
        })
    }

    /// Sets a user's console password (HQ only): an admin who sees the user's call center, a
    /// supervisor of it, or the user itself giving the current password.
    pub async fn set_password(
        &self,
        user: &CurrentUser,
        target: UserId,
        body: PasswordBody,
    ) -> ServiceResult<()> {
        if self.is_site() {
            return Err(ServiceError::forbidden(
                "passwords are set at HQ and reach this site node by sync",
            ));
        }
        let not_found = move || ServiceError::not_found(format!("user {target} does not exist"));
        let (cc, rec) = self.user_record(target).ok_or_else(not_found)?;
        let me = &user.0;
        let is_self = me.id == target;
        let may = match me.role {
            Role::Admin => user.sees(&cc),
            Role::Supervisor => me.call_center.as_ref() == Some(&cc),
            Role::Agent => false,
        };
        if !is_self && !user.sees(&cc) {
            return Err(not_found());
        }
        if is_self && !may {
            let current = body.current.clone().unwrap_or_default();
            let hash = rec.password_hash.clone().unwrap_or_default();
            let ok = tokio::task::spawn_blocking(move || crate::passwords::verify(&current, &hash))
                .await
                .map_err(ServiceError::internal)?;
            if !ok {
                return Err(ServiceError::forbidden(
                    "the current password is wrong (give it as \"current\")",
                ));
            }
        } else if !may {
            return Err(ServiceError::forbidden(
                "only an admin, a supervisor of the user's call center or the user may set it",
            ));
        }
        let hash = hash_password("password", body.password).await?;
        let author = self.author(me.id);
        self.write(move |ctx| {
            let doc_id = sdoc::call_center_doc_id(&cc);
            let (meta, mut doc): (DocMeta, _) = ctx.load_doc(doc_id)?.ok_or_else(not_found)?;
            let state = sdoc::read_call_center(&doc)?;
            let mut rec = state.users.get(&target).cloned().ok_or_else(not_found)?;
            rec.password_hash = Some(hash);
            sdoc::put_user(&mut doc, &rec, &author)?;
            ctx.put_doc(doc_id, meta, &doc)?;
            Ok(())
        })
        .await
    }

    /// Refuses a new user's name when another user already signs in with it.
    pub(super) fn check_sign_in_name(&self, name: &str) -> ServiceResult<()> {
        if self.name_taken(name, None) {
            return Err(ServiceError::Conflict(format!(
                "a user named {name} already signs in with a password; names must differ"
            )));
        }
        Ok(())
    }
}
