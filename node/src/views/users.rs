//! Users of a call center and their tokens: `GET /api/v1/call-centers/{id}/users`,
//! `POST /api/v1/users/{user_id}/revoke` and `POST /api/v1/users/{user_id}/rotate`. (The body
//! and answer of adding a user are with the call centers, in [`super::config`].)

use serde::{Deserialize, Serialize};
use switchboard_domain::config::Role;
use switchboard_domain::{Timestamp, UserId};
use switchboard_sync::doc::UserRecord;
use utoipa::ToSchema;

/// A user of a call center, as admins list them (never their token or its hash).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct UserView {
    /// The user's id.
    #[schema(value_type = String, format = Uuid)]
    pub user_id: UserId,
    /// Display name.
    pub name: String,
    /// `agent`, `supervisor` or `admin` (an admin of a call center is scoped to it).
    #[schema(value_type = super::schema::RoleName)]
    pub role: Role,
    /// Revoked: no token of the user works.
    pub disabled: bool,
    /// When the user was added (null for users added before it was recorded).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub created_at: Option<Timestamp>,
}

impl UserView {
    /// The view of a stored user record.
    pub fn from_record(r: &UserRecord) -> UserView {
        UserView {
            user_id: r.user.id,
            name: r.user.name.clone(),
            role: r.user.role,
            disabled: r.disabled,
            created_at: r.created_at,
        }
    }
}

/// Answer of `GET /api/v1/call-centers/{id}/users`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    /// The users, by id.
    pub items: Vec<UserView>,
    /// Cursor of the next page, or null at the end.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// Answer of `POST /api/v1/users/{user_id}/rotate`: the new token, shown once.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenView {
    /// The bearer token; only its hash is stored.
    pub token: String,
    /// When it stops working.
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Timestamp,
}
