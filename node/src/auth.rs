//! Who is acting: [`CurrentUser`], the authenticated user of a request, and the checks of what
//! that user may see and do. Neutral ground between the HTTP edge (`api::auth` authenticates the
//! bearer token and extracts a `CurrentUser`) and the service (which acts on the user's behalf),
//! so that neither depends on the other for it.

use switchboard_domain::config::{Actor, Role, User};
use switchboard_domain::CallCenterId;

/// The authenticated user of a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentUser(pub User);

/// An action that needs the admin role, asked for by a user without it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("this needs the admin role")]
pub struct NotAdmin;

impl CurrentUser {
    /// The user as a domain actor.
    pub fn actor(&self) -> Actor {
        Actor {
            user: self.0.id,
            role: self.0.role,
            call_center: self.0.call_center.clone(),
        }
    }

    /// Whether the user is an admin.
    pub fn is_admin(&self) -> bool {
        self.0.role == Role::Admin
    }

    /// Whether the user may see the data of a call center: admins see every call center, agents
    /// and supervisors only their own.
    pub fn sees(&self, cc: &CallCenterId) -> bool {
        self.actor().acts_in(cc)
    }

    /// [`NotAdmin`] unless the user is an admin.
    pub fn require_admin(&self) -> Result<(), NotAdmin> {
        if self.is_admin() {
            Ok(())
        } else {
            Err(NotAdmin)
        }
    }
}
