//! `switchboard users ...`: add a user to a call center and print their token
//! (`POST /api/v1/call-centers/{id}/users`), list a call center's users
//! (`GET /api/v1/call-centers/{id}/users`), revoke a user and rotate a user's token
//! (`POST /api/v1/users/{user_id}/revoke|rotate`).

use crate::client::{enc, Client, Conn};
use crate::output::{self, clean, opt};
use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use switchboard_domain::config::Role;
use switchboard_node::views::{NewUserView, TokenView, UserList, UserView};

/// Most pages `users list` reads (500 users each).
const MAX_PAGES: usize = 1000;

/// `switchboard users ...`
#[derive(Args, Debug)]
pub struct UsersArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    cmd: UsersCmd,
}

#[derive(Subcommand, Debug)]
enum UsersCmd {
    /// Add a user to a call center and print their token (shown once).
    Add {
        /// The call center id.
        #[arg(long)]
        call_center: String,
        /// The user's display name.
        #[arg(long)]
        name: String,
        /// The user's role.
        #[arg(long, value_enum, default_value_t = UserRole::Agent)]
        role: UserRole,
        /// Print the node's JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// List the users of a call center (every page).
    List {
        /// The call center id.
        #[arg(long)]
        call_center: String,
        /// Print `{"items":[...]}` as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a user: every token of theirs stops working (at sites once they have synced).
    Revoke {
        /// The user's id.
        user_id: String,
        /// Print the node's JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// Give a user a new token and print it (shown once); the old token stops working.
    Rotate {
        /// The user's id.
        user_id: String,
        /// Print the node's JSON answer.
        #[arg(long)]
        json: bool,
    },
}

/// `--role` on the command line; the node's [`Role`] is not a clap value.
#[derive(ValueEnum, Clone, Copy, Debug)]
enum UserRole {
    Agent,
    Supervisor,
    Admin,
}

impl From<UserRole> for Role {
    fn from(r: UserRole) -> Role {
        match r {
            UserRole::Agent => Role::Agent,
            UserRole::Supervisor => Role::Supervisor,
            UserRole::Admin => Role::Admin,
        }
    }
}

/// Runs `switchboard users ...`.
pub async fn run(args: UsersArgs) -> Result<()> {
    let c = Client::from_conn(&args.conn)?;
    match args.cmd {
        UsersCmd::Add {
            call_center,
            name,
            role,
            json,
        } => {
            // `NewUserBody` only derives `Deserialize`, so the body is written out here.
            let user: NewUserView = c
                .post(
                    &format!("/api/v1/call-centers/{}/users", enc(&call_center)),
                    &json!({ "name": name, "role": Role::from(role) }),
                )
                .await?;
            output::print(json, &user, |u| {
                outln!("user id: {}", u.user_id);
                outln!("token:   {}", u.token);
                outln!("expires: {}", u.expires_at);
                outln!("(the token is shown only once)");
            })?;
        }
        UsersCmd::List { call_center, json } => {
            let users = list_all(&c, &call_center).await?;
            output::print(json, &users, |l| {
                output::print_table_or(
                    "no users",
                    &["USER ID", "NAME", "ROLE", "STATUS", "CREATED"],
                    &rows(&l.items),
                );
            })?;
        }
        UsersCmd::Revoke { user_id, json } => {
            let user: UserView = c
                .post(
                    &format!("/api/v1/users/{}/revoke", enc(&user_id)),
                    &json!({}),
                )
                .await?;
            output::print(json, &user, |u| {
                outln!("revoked user {} ({})", u.user_id, clean(&u.name));
                outln!("(sites refuse their tokens once they have synced)");
            })?;
        }
        UsersCmd::Rotate { user_id, json } => {
            let t: TokenView = c
                .post(
                    &format!("/api/v1/users/{}/rotate", enc(&user_id)),
                    &json!({}),
                )
                .await?;
            output::print(json, &t, |t| {
                outln!("token:   {}", t.token);
                outln!("expires: {}", t.expires_at);
                outln!("(the token is shown only once; the old one no longer works)");
            })?;
        }
    }
    Ok(())
}

/// Every page of `GET /api/v1/call-centers/{id}/users`, as one list without a cursor.
async fn list_all(c: &Client, call_center: &str) -> Result<UserList> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut path = format!("/api/v1/call-centers/{}/users?limit=500", enc(call_center));
        if let Some(cur) = &cursor {
            path.push_str(&format!("&cursor={}", enc(cur)));
        }
        let page: UserList = c.get(&path).await?;
        let done = page.items.is_empty() || page.next_cursor.is_none();
        items.extend(page.items);
        // A repeated cursor would loop forever against a buggy node; stop instead.
        if done || page.next_cursor == cursor {
            break;
        }
        cursor = page.next_cursor;
    }
    Ok(UserList {
        items,
        next_cursor: None,
    })
}

fn rows(users: &[UserView]) -> Vec<Vec<String>> {
    users
        .iter()
        .map(|u| {
            vec![
                u.user_id.to_string(),
                clean(&u.name).into_owned(),
                u.role.as_str().to_string(),
                if u.disabled { "revoked" } else { "active" }.to_string(),
                opt(&u.created_at),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_go_out_as_the_node_spells_them() {
        for (r, text) in [
            (UserRole::Agent, "agent"),
            (UserRole::Supervisor, "supervisor"),
            (UserRole::Admin, "admin"),
        ] {
            assert_eq!(json!(Role::from(r)), json!(text));
        }
    }
}
