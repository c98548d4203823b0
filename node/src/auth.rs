//! Who is acting: [`CurrentUser`], the authenticated user of a request, and the checks of what
//! that user may see and do. Neutral ground between the HTTP edge (`api::auth` authenticates the
//! bearer token and extracts a `CurrentUser`) and the service (which acts on the user's behalf),
//! so that neither depends on the other for it.
//!
//! Admins are node-wide (the admin `init` makes, of no call center) or scoped to the call center
//! they were added to ([`Actor::acts_in`], the one rule): a scoped admin administers that call
//! center's users and orders and nothing global (catalog, other call centers, peers, sync).
//!
//! Tokens ([`check_token`]): a token works until its `expires_at` (the node's clock), and not
//! at all once its user is revoked. A token stored before tokens expired has no `expires_at`:
//! it works until the node's legacy deadline, one token lifetime after the node first started
//! with a version that knows expiry ([`LEGACY_TOKEN_DEADLINE`]).

use crate::store::UserEntry;
use switchboard_domain::config::{Actor, Role, User};
use switchboard_domain::{CallCenterId, Timestamp};

/// Key in the `meta` tree of the deadline of tokens stored without an expiry (i64 BE, Unix
/// milliseconds), written at the first start that finds it missing.
pub const LEGACY_TOKEN_DEADLINE: &[u8] = b"legacy_token_deadline";

/// Why a bearer token does not authenticate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefused {
    /// No user holds it.
    #[error("unknown token")]
    Unknown,
    /// It expired.
    #[error("the token has expired")]
    Expired,
    /// Its user was revoked.
    #[error("the token was revoked")]
    Revoked,
}

/// The token rule: the user of `entry`, unless revoked or expired at `now`; a token without an
/// expiry expires at `legacy_deadline`.
pub fn check_token(
    entry: Option<UserEntry>,
    now: Timestamp,
    legacy_deadline: Timestamp,
) -> Result<User, TokenRefused> {
    let entry = entry.ok_or(TokenRefused::Unknown)?;
    if entry.disabled {
        return Err(TokenRefused::Revoked);
    }
    if now >= entry.expires_at.unwrap_or(legacy_deadline) {
        return Err(TokenRefused::Expired);
    }
    Ok(entry.user)
}

/// The authenticated user of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentUser(pub User);

/// An action that needs the admin role (node-wide, or of the call center acted in), asked for
/// by a user without it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NotAdmin {
    /// Needs a node-wide admin.
    #[error("this needs a node-wide admin")]
    NodeWide,
    /// Needs an admin of the call center.
    #[error("this needs an admin of the call center")]
    OfCallCenter,
}

impl CurrentUser {
    /// The user as a domain actor.
    pub fn actor(&self) -> Actor {
        Actor {
            user: self.0.id,
            role: self.0.role,
            call_center: self.0.call_center.clone(),
        }
    }

    /// Whether the user is an admin (node-wide or scoped).
    pub fn is_admin(&self) -> bool {
        self.0.role == Role::Admin
    }

    /// Whether the user is a node-wide admin.
    pub fn is_node_admin(&self) -> bool {
        self.actor().is_node_admin()
    }

    /// Whether the user may see the data of a call center: node-wide admins see every call
    /// center, everyone else only their own.
    pub fn sees(&self, cc: &CallCenterId) -> bool {
        self.actor().acts_in(cc)
    }

    /// [`NotAdmin`] unless the user is a node-wide admin (global configuration, peers, sync).
    pub fn require_admin(&self) -> Result<(), NotAdmin> {
        if self.is_node_admin() {
            Ok(())
        } else {
            Err(NotAdmin::NodeWide)
        }
    }

    /// [`NotAdmin`] unless the user is an admin, node-wide or of a call center: who may watch
    /// this node's peers and sync status in detail and start a sync session from the console
    /// (a console sign-in is always an admin of a call center; the API's peer and sync
    /// endpoints stay for node-wide admins).
    pub fn require_some_admin(&self) -> Result<(), NotAdmin> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(NotAdmin::OfCallCenter)
        }
    }

    /// [`NotAdmin`] unless the user is an admin acting in `cc` (node-wide, or scoped to it).
    pub fn require_admin_of(&self, cc: &CallCenterId) -> Result<(), NotAdmin> {
        if self.is_admin() && self.sees(cc) {
            Ok(())
        } else {
            Err(NotAdmin::OfCallCenter)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::UserOrigin;
    use switchboard_domain::UserId;

    fn entry(role: Role, cc: Option<&str>) -> UserEntry {
        UserEntry {
            user: User {
                id: UserId(uuid::Uuid::from_u128(7)),
                name: "u".into(),
                role,
                call_center: cc.map(|c| CallCenterId::parse(c).expect("cc")),
            },
            origin: UserOrigin::Local,
            expires_at: Some(Timestamp::from_millis(2_000)),
            disabled: false,
            created_at: None,
        }
    }

    #[test]
    fn tokens_work_until_they_expire_or_are_revoked() {
        let legacy = Timestamp::from_millis(5_000);
        let e = entry(Role::Agent, Some("north"));
        let at = Timestamp::from_millis;
        assert!(check_token(Some(e.clone()), at(1_999), legacy).is_ok());
        assert_eq!(
            check_token(Some(e.clone()), at(2_000), legacy),
            Err(TokenRefused::Expired)
        );
        let revoked = UserEntry {
            disabled: true,
            ..e.clone()
        };
        assert_eq!(
            check_token(Some(revoked), at(0), legacy),
            Err(TokenRefused::Revoked)
        );
        assert_eq!(check_token(None, at(0), legacy), Err(TokenRefused::Unknown));
        // Without an expiry (stored before tokens expired): the legacy deadline.
        let old = UserEntry {
            expires_at: None,
            ..e
        };
        assert!(check_token(Some(old.clone()), at(4_999), legacy).is_ok());
        assert_eq!(
            check_token(Some(old), at(5_000), legacy),
            Err(TokenRefused::Expired)
        );
    }

    #[test]
    fn scoped_admins_administer_only_their_call_center() {
        let north = CallCenterId::parse("north").expect("cc");
        let south = CallCenterId::parse("south").expect("cc");
        let node = CurrentUser(entry(Role::Admin, None).user);
        let scoped = CurrentUser(entry(Role::Admin, Some("north")).user);
        let sup = CurrentUser(entry(Role::Supervisor, Some("north")).user);
        assert!(node.require_admin().is_ok());
        assert!(node.require_admin_of(&south).is_ok());
        assert_eq!(scoped.require_admin(), Err(NotAdmin::NodeWide));
        assert!(scoped.require_admin_of(&north).is_ok());
        assert_eq!(scoped.require_admin_of(&south), Err(NotAdmin::OfCallCenter));
        assert!(scoped.sees(&north) && !scoped.sees(&south));
        assert_eq!(sup.require_admin_of(&north), Err(NotAdmin::OfCallCenter));
    }
}
