//! # switchboard-console
//!
//! The agents' console, served by every node at `/` beside the API (same process, same port):
//! server-rendered HTML ([`maud`] templates, checked at compile time), a little plain JavaScript
//! for keyboard shortcuts and the live banner, every asset embedded in the binary.
//! Screens: customers, the sales order page (continuity programs included), orders, the hold
//! queue, and the admin pages (users; peers and sync status).
//!
//! It is an edge like the API: every page reads through the node's service operations and
//! views (`AppState`), every action is one service operation, and a refusal shows the domain's
//! own reason. It never touches the store and holds no business rule (what may be done, prices,
//! totals, holds: all decided by `domain` through the service). Sessions, CSRF and the sign-in
//! throttle ([`session`]) are the console's own, passwords are checked by the service against
//! the argon2id hashes in the call center's configuration.

pub mod admin;
pub mod assets;
pub mod auth;
pub mod customers;
pub mod layout;
pub mod live;
pub mod money;
pub mod orders;
pub mod session;
pub mod strings;

use axum::routing::{get, post};
use axum::Router;
use session::{Sessions, Throttle};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use switchboard_node::service::AppState;
use switchboard_node::sync_driver::SyncHub;

/// How the console is served.
#[derive(Clone, Debug)]
pub struct Options {
    /// A session ends after this long without a request.
    pub idle: Duration,
    /// Cookies are always marked `Secure` (the node's listener speaks TLS); otherwise only on
    /// requests a TLS proxy forwarded (`X-Forwarded-Proto: https`).
    pub secure_cookies: bool,
}

/// The console's state: the node's services and the console's own sessions.
#[derive(Clone)]
pub struct Console {
    /// The node's services.
    pub app: AppState,
    /// The sync links, for the banner.
    pub hub: Arc<SyncHub>,
    /// Signed-in sessions.
    pub sessions: Arc<Sessions>,
    /// The sign-in throttle.
    pub throttle: Arc<Throttle>,
    /// How it is served.
    pub options: Options,
    banner: Arc<Mutex<Option<(Instant, layout::Banner)>>>,
}

impl Console {
    /// A console over a node's state.
    pub fn new(app: AppState, hub: Arc<SyncHub>, options: Options) -> Console {
        Console {
            app,
            hub,
            sessions: Arc::new(Sessions::new(options.idle)),
            throttle: Arc::new(Throttle::default()),
            options,
            banner: Arc::new(Mutex::new(None)),
        }
    }
}

/// The console's routes (none under `/api`, `/sync`, `/healthz`, `/readyz` or `/metrics`), to
/// merge beside the node's API.
pub fn router(app: AppState, hub: Arc<SyncHub>, options: Options) -> Router {
    let console = Console::new(app, hub, options);
    Router::new()
        .route("/", get(orders::home))
        .route("/sign-in", get(auth::sign_in_page).post(auth::sign_in))
        .route("/sign-out", post(auth::sign_out))
        .route("/console/banner", get(layout::banner_fragment))
        .route("/console/assets/{name}", get(assets::asset))
        .route("/console/product-image/{id}", get(assets::product_image))
        .route("/customers", get(customers::search).post(customers::create))
        .route(
            "/customers/{id}",
            get(customers::show).post(customers::update),
        )
        .route("/orders", get(orders::list).post(orders::create))
        .route("/orders/{id}", get(orders::page_route))
        .route("/orders/{id}/events", get(live::events))
        .route("/orders/{id}/{action}", post(orders::act))
        .route("/orders/{id}/{what}/{item}/{action}", post(orders::act_on))
        .route(
            "/customers/{id}/catalog-requests",
            post(customers::request_catalog),
        )
        .route("/holds", get(orders::hold_queue))
        .route("/admin/users", get(admin::users).post(admin::add_user))
        .route("/admin/users/{id}/password", post(admin::set_password))
        .route("/admin/users/{id}/disable", post(admin::disable_user))
        .route("/admin/peers", get(admin::peers))
        .route("/admin/sync", post(admin::sync_now))
        .route(
            "/account/password",
            get(admin::own_password_page).post(admin::own_password),
        )
        .with_state(console)
}
