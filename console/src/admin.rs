//! Admin screens: the users of each call center (add with a password, set a password, disable),
//! written at HQ and shown read-only at a site; the peers of this node and their sync status,
//! with a "sync now" button; and every user's own password (given the present one, at HQ). Every read and action is the service operation the API uses for it
//! (`users`, `require_config_writer_of` + `create_user`, `set_password`, `revoke_user`, `peers`,
//! the sync hub's `status` and `sync_now`), so the node decides who may do what and a refusal
//! shows its reason.

use crate::auth::{page, ClientAddr, Signed};
use crate::customers::short as short_id;
use crate::layout::when;
use crate::session::Flash;
use crate::{strings as s, Console};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;
use std::time::Instant;
use switchboard_domain::config::Role;
use switchboard_domain::{CallCenterId, UserId};
use switchboard_node::service::ServiceError;
use switchboard_node::views::{NewUserBody, Page, PasswordBody, UserView};
use uuid::Uuid;

/// Whether this node writes users (HQ), or receives them by sync (a site).
fn at_site(console: &Console) -> bool {
    console.app.is_site()
}

fn csrf(signed: &Signed) -> Markup {
    html! { input type="hidden" name="csrf" value=(signed.csrf); }
}

/// A page that only shows a refusal (403), with the service's reason.
async fn refused(console: &Console, signed: &Signed, title: &str, why: String) -> Response {
    let body =
        html! { p role="alert" class="error" id="refusal" { strong { (s::REFUSED) ": " } (why) } };
    (
        StatusCode::FORBIDDEN,
        page(console, signed, title).render(body).await,
    )
        .into_response()
}

/// `GET /admin/users`: the users of every call center the signed-in admin acts in.
pub async fn users(State(console): State<Console>, signed: Signed) -> Response {
    let mut centers: Vec<CallCenterId> = console
        .app
        .configs
        .call_center_ids()
        .into_iter()
        .filter(|cc| signed.user.sees(cc))
        .collect();
    centers.sort();
    let mut lists: Vec<(CallCenterId, Vec<UserView>)> = Vec::new();
    for cc in centers {
        let page_of = match Page::parse(Some("500"), None, 'k') {
            Ok(p) => p,
            Err(e) => return refused(&console, &signed, s::ADMIN_USERS, e.to_string()).await,
        };
        match console.app.users(&signed.user, &cc, page_of).await {
            Ok(list) => lists.push((cc, list.items)),
            Err(e) => return refused(&console, &signed, s::ADMIN_USERS, e.to_string()).await,
        }
    }
    if lists.is_empty() {
        // No call center this user acts in: only a node-wide admin has nothing to be refused.
        if let Err(e) = signed.user.require_admin() {
            return refused(&console, &signed, s::ADMIN_USERS, e.to_string()).await;
        }
    }
    let site = at_site(&console);
    let now = console.app.now();
    let body = html! {
        @if site { p role="note" id="read-only" class="muted" { (s::USERS_READ_ONLY_AT_SITE) } }
        @if lists.is_empty() { p { (s::NO_CALL_CENTERS) } }
        @for (cc, list) in &lists {
            section aria-labelledby={ "users-" (cc) } {
                h2 id={ "users-" (cc) } { (s::CALL_CENTER) " " (cc) }
                table class="users" id={ "user-table-" (cc) } {
                    thead { tr {
                        th scope="col" { (s::NAME) } th scope="col" { (s::ROLE) }
                        th scope="col" { (s::STATUS) } th scope="col" { (s::ADDED) }
                        @if !site { th scope="col" { (s::ACTIONS) } }
                    } }
                    tbody {
                        @for u in list {
                            tr {
                                td { (u.name) br; span class="muted" { (short_id(&u.user_id.to_string())) } }
                                td { (u.role.as_str()) }
                                td { (if u.disabled { s::USER_DISABLED } else { s::USER_ACTIVE }) }
                                td { @if let Some(t) = u.created_at { (when(t, now)) } }
                                @if !site { td {
                                    @if !u.disabled {
                                        form method="post" action={ "/admin/users/" (u.user_id) "/password" } class="row" {
                                            (csrf(&signed))
                                            label { (s::NEW_PASSWORD)
                                                input type="password" name="password" autocomplete="new-password" required minlength="8"
                                                    aria-label={ (s::NEW_PASSWORD) " " (u.name) }; }
                                            button type="submit" class="set-password" aria-label={ (s::SET_PASSWORD) " " (u.name) } { (s::SET_PASSWORD) }
                                        }
                                        form method="post" action={ "/admin/users/" (u.user_id) "/disable" } class="inline" {
                                            (csrf(&signed))
                                            button type="submit" class="disable-user" aria-label={ (s::DISABLE) " " (u.name) } { (s::DISABLE) }
                                        }
                                    }
                                } }
                            }
                        }
                    }
                }
                @if !site {
                    form method="post" action="/admin/users" class="row" id={ "add-user-" (cc) } {
                        (csrf(&signed))
                        input type="hidden" name="call_center" value=(cc);
                        label { (s::USER_NAME) input name="name" class="new-user-name" required autocomplete="off"; }
                        label { (s::ROLE) select name="role" class="new-user-role" {
                            @for r in [Role::Agent, Role::Supervisor, Role::Admin] { option value=(r.as_str()) { (r.as_str()) } }
                        } }
                        label { (s::PASSWORD) input type="password" name="password" class="new-user-password" autocomplete="new-password" required minlength="8"; }
                        button type="submit" class="primary add-user" { (s::ADD_USER) }
                    }
                }
            }
        }
    };
    page(&console, &signed, s::ADMIN_USERS)
        .render(body)
        .await
        .into_response()
}

/// The add-user form.
#[derive(Deserialize)]
pub struct NewUserForm {
    csrf: String,
    call_center: String,
    name: String,
    role: String,
    password: String,
}

/// `POST /admin/users`: adds a user with a console password (admins of the call center, at HQ).
pub async fn add_user(
    State(console): State<Console>,
    signed: Signed,
    Form(f): Form<NewUserForm>,
) -> Response {
    if let Err(r) = signed.check(&f.csrf) {
        return r.into_response();
    }
    let result = async {
        let cc = CallCenterId::parse(f.call_center.trim().to_string())
            .map_err(|_| ServiceError::not_found("no such call center"))?;
        let role = Role::parse(f.role.trim()).ok_or_else(|| {
            ServiceError::invalid_field("role", "must be agent, supervisor or admin")
        })?;
        console.app.require_config_writer_of(&signed.user, &cc)?;
        let body = NewUserBody {
            name: f.name.clone(),
            role,
            password: Some(f.password.clone()),
        };
        console.app.create_user(&signed.user, &cc, body).await
    }
    .await;
    match result {
        Ok(_) => signed.flash(&console, Flash::Done(s::user_added(f.name.trim()))),
        Err(e) => signed.flash(&console, Flash::Refused(e.to_string())),
    }
    Redirect::to("/admin/users").into_response()
}

/// The set-password form.
#[derive(Deserialize)]
pub struct PasswordForm {
    csrf: String,
    password: String,
}

fn user_id(id: &str) -> Result<UserId, ServiceError> {
    Uuid::parse_str(id)
        .map(UserId)
        .map_err(|_| ServiceError::not_found("no such user"))
}

/// `POST /admin/users/{id}/password`: sets a user's console password (at HQ: an admin, or a
/// supervisor of the user's call center).
pub async fn set_password(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
    Form(f): Form<PasswordForm>,
) -> Response {
    if let Err(r) = signed.check(&f.csrf) {
        return r.into_response();
    }
    let result = async {
        let id = user_id(&id)?;
        let body = PasswordBody {
            password: f.password.clone(),
            current: None,
        };
        console.app.set_password(&signed.user, id, body).await
    }
    .await;
    match result {
        Ok(()) => signed.flash(&console, Flash::Done(s::PASSWORD_SET.into())),
        Err(e) => signed.flash(&console, Flash::Refused(e.to_string())),
    }
    Redirect::to("/admin/users").into_response()
}

/// A form that carries only its CSRF token.
#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}

/// `POST /admin/users/{id}/disable`: revokes a user (their tokens and console sign-in stop, at
/// sites once synced).
pub async fn disable_user(
    State(console): State<Console>,
    signed: Signed,
    Path(id): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Err(r) = signed.check(&f.csrf) {
        return r.into_response();
    }
    let result = async {
        let id = user_id(&id)?;
        console.app.revoke_user(&signed.user, id).await
    }
    .await;
    match result {
        Ok(u) => signed.flash(&console, Flash::Done(s::user_disabled(&u.name))),
        Err(e) => signed.flash(&console, Flash::Refused(e.to_string())),
    }
    Redirect::to("/admin/users").into_response()
}

/// `GET /admin/peers`: the peers of this node and each link's sync status (admins).
pub async fn peers(State(console): State<Console>, signed: Signed) -> Response {
    if let Err(e) = signed.user.require_some_admin() {
        return refused(&console, &signed, s::ADMIN_PEERS, e.to_string()).await;
    }
    let mut peers = match console.app.peers().await {
        Ok(p) => p,
        Err(e) => return refused(&console, &signed, s::ADMIN_PEERS, e.to_string()).await,
    };
    peers.sort_by(|a, b| a.name.cmp(&b.name));
    let status = console.hub.status().await;
    let now = console.app.now();
    let node = console.app.node_view().await.ok();
    let body = html! {
        section aria-labelledby="node-h" {
            h2 id="node-h" { (s::THIS_NODE) }
            @if let Some(n) = &node {
                p id="this-node" { (s::node_line(&n.name, &n.role)) br; (s::NODE_ID) ": " code { (n.fingerprint.to_string()) } }
            }
        }
        section aria-labelledby="peers-h" {
            h2 id="peers-h" { (s::PEERS) }
            @if peers.is_empty() { p id="no-peers" { (s::NO_PEERS) } } @else {
                table id="peer-table" {
                    thead { tr {
                        th scope="col" { (s::NAME) } th scope="col" { (s::PEER_URL) }
                        th scope="col" { (s::ROLE) } th scope="col" { (s::CALL_CENTERS) }
                        th scope="col" { (s::PEER_NODE_ID) }
                    } }
                    tbody { @for p in &peers { tr {
                        td { (p.name) }
                        td { (p.url) }
                        td { (p.role.clone().unwrap_or_default()) }
                        td { @if let Some(ccs) = &p.call_centers { @for (i, c) in ccs.iter().enumerate() { @if i > 0 { ", " } (c) } } }
                        td { @if let Some(n) = &p.node_id { code { (short_id(&n.to_string())) "…" } } @else { (s::PEER_LEGACY) } }
                    } } }
                }
            }
        }
        section aria-labelledby="sync-h" {
            h2 id="sync-h" { (s::SYNC_STATUS) }
            @match &status {
                Err(e) => p role="alert" class="error" { (e.to_string()) },
                Ok(list) if list.is_empty() => p { (s::SYNC_STANDALONE) },
                Ok(list) => table id="sync-table" {
                    thead { tr {
                        th scope="col" { (s::NAME) } th scope="col" { (s::REACHABLE) }
                        th scope="col" { (s::LAST_SUCCESS) } th scope="col" class="num" { (s::PENDING_OUT) }
                        th scope="col" { (s::LAST_ERROR) }
                    } }
                    tbody { @for p in list { tr {
                        td { (p.name) }
                        td { (match p.reachable { Some(true) => s::YES, Some(false) => s::NO, None => s::NOT_TRIED }) }
                        td { @if let Some(t) = p.last_success { (when(t, now)) } @else { (s::NEVER) } }
                        td class="num" { (p.pending_out) }
                        td { (p.last_error.clone().unwrap_or_default()) }
                    } } }
                },
            }
            form method="post" action="/admin/sync" class="row" {
                (csrf(&signed))
                button type="submit" id="sync-now" class="primary" { (s::SYNC_NOW) }
            }
        }
    };
    page(&console, &signed, s::ADMIN_PEERS)
        .render(body)
        .await
        .into_response()
}

/// `POST /admin/sync`: a sync session with every peer now (node-wide admins); the result per
/// peer is the page's message (admins).
pub async fn sync_now(
    State(console): State<Console>,
    signed: Signed,
    Form(f): Form<CsrfOnly>,
) -> Response {
    if let Err(r) = signed.check(&f.csrf) {
        return r.into_response();
    }
    let flash = match signed.user.require_some_admin() {
        Err(e) => Flash::Refused(e.to_string()),
        Ok(()) => match console.hub.sync_now(None).await {
            Err(e) => Flash::Refused(e.to_string()),
            Ok(results) if results.is_empty() => Flash::Done(s::SYNC_STANDALONE.into()),
            Ok(results) => {
                let parts: Vec<String> = results
                    .iter()
                    .map(|r| match &r.error {
                        None => s::synced_ok(&r.name, r.sent_docs, r.received_docs),
                        Some(e) => s::synced_failed(&r.name, e),
                    })
                    .collect();
                if results.iter().all(|r| r.ok) {
                    Flash::Done(parts.join(" · "))
                } else {
                    Flash::Refused(parts.join(" · "))
                }
            }
        },
    };
    signed.flash(&console, flash);
    Redirect::to("/admin/peers").into_response()
}

/// `GET /account/password`: users change their own console password, giving the present one
/// (at HQ; at a site the page says where it is done).
pub async fn own_password_page(State(console): State<Console>, signed: Signed) -> Response {
    let site = at_site(&console);
    let body = html! {
        @if site { p role="note" id="read-only" class="muted" { (s::OWN_PASSWORD_AT_SITE) } } @else {
            section aria-labelledby="own-password-h" {
                h2 id="own-password-h" { (s::CHANGE_OWN_PASSWORD) }
                form method="post" action="/account/password" class="row" {
                    (csrf(&signed))
                    label { (s::CURRENT_PASSWORD) input type="password" id="current-password" name="current" autocomplete="current-password" required; }
                    label { (s::NEW_PASSWORD) input type="password" id="new-password" name="password" autocomplete="new-password" required minlength="8"; }
                    button type="submit" id="change-password" class="primary" { (s::CHANGE_OWN_PASSWORD) }
                }
            }
        }
    };
    page(&console, &signed, s::OWN_PASSWORD)
        .render(body)
        .await
        .into_response()
}

/// The own-password form.
#[derive(Deserialize)]
pub struct OwnPasswordForm {
    csrf: String,
    current: String,
    password: String,
}

/// `POST /account/password`: the service's `set_password` for the signed-in user, with the
/// present password.
///
/// A wrong present password counts as a failed sign-in in the sign-in throttle (per user name and
/// address), so an open session cannot be used to guess it.
pub async fn own_password(
    State(console): State<Console>,
    signed: Signed,
    ClientAddr(addr): ClientAddr,
    Form(f): Form<OwnPasswordForm>,
) -> Response {
    if let Err(r) = signed.check(&f.csrf) {
        return r.into_response();
    }
    let name = signed.user.0.name.clone();
    if let Some(wait) = console.throttle.locked(&name, addr, Instant::now()) {
        signed.flash(
            &console,
            Flash::Refused(s::throttled(wait.as_secs().max(1))),
        );
        return Redirect::to("/account/password").into_response();
    }
    let body = PasswordBody {
        password: f.password,
        current: Some(f.current),
    };
    match console
        .app
        .set_password(&signed.user, signed.user.0.id, body)
        .await
    {
        Ok(()) => signed.flash(&console, Flash::Done(s::PASSWORD_SET.into())),
        Err(e) => {
            if matches!(e, ServiceError::Forbidden(_)) && !at_site(&console) {
                console.throttle.failed(&name, addr, Instant::now());
            }
            signed.flash(&console, Flash::Refused(e.to_string()))
        }
    }
    Redirect::to("/account/password").into_response()
}
