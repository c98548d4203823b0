//! `switchboard users ...`: add a user to a call center and print their token
//! (`POST /api/v1/call-centers/{id}/users`).

use crate::client::{enc, Client, Conn};
use crate::output;
use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use switchboard_domain::config::Role;
use switchboard_node::views::NewUserView;

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
                outln!("(the token is shown only once)");
            })?;
        }
    }
    Ok(())
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
