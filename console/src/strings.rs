//! Every sentence and label the console shows, in one place (for wording reviews and, later,
//! translation). Templates name these constants; they hold no text of their own beyond data.

pub const APP: &str = "Switchboard";
pub const SIGN_IN: &str = "Sign in";
pub const SIGN_OUT: &str = "Sign out";
pub const USER_NAME: &str = "User name";
pub const PASSWORD: &str = "Password";
pub const BAD_CREDENTIALS: &str = "Wrong user name or password.";
pub const SESSION_EXPIRED: &str =
    "Your session expired after a while without use. Please sign in again.";
pub const SIGNED_OUT: &str = "You are signed out.";
pub const CSRF_REFUSED: &str = "This form is no longer valid (it came from another page or an old session). Reload the page and try again.";
pub const NOT_FOUND: &str = "Nothing here.";

pub fn throttled(secs: u64) -> String {
    format!("Too many wrong passwords. Try again in {secs} seconds.")
}

pub const NAV_LABEL: &str = "Main";
pub const NAV_CUSTOMERS: &str = "Customers";
pub const NAV_ORDERS: &str = "Orders";
pub const NAV_HOLDS: &str = "Hold queue";
pub const SKIP_TO_MAIN: &str = "Skip to the page";

pub fn signed_in_as(name: &str, role: &str) -> String {
    format!("{name} ({role})")
}

// The sync banner.
pub const SYNC_STANDALONE: &str = "Standalone node: no peers to sync with.";
pub fn sync_reached(peer_kind: &str, at: &str, waiting: u64) -> String {
    format!(
        "{peer_kind} last reached {at} — {waiting} {} waiting",
        changes(waiting)
    )
}
pub fn sync_never(peer_kind: &str, waiting: u64) -> String {
    format!(
        "{peer_kind} not reached yet — {waiting} {} waiting",
        changes(waiting)
    )
}
fn changes(n: u64) -> &'static str {
    if n == 1 {
        "change"
    } else {
        "changes"
    }
}
pub const SYNC_UNREACHABLE: &str = "unreachable now; orders are still taken here";
pub const PEER_HQ: &str = "HQ";
pub const PEER_SITES: &str = "Sites";

// Customers.
pub const CUSTOMERS: &str = "Customers";
pub const CUSTOMER: &str = "Customer";
pub const SEARCH_CUSTOMERS: &str = "Search by name, phone or email";
pub const SEARCH: &str = "Search";
pub const NEW_CUSTOMER: &str = "New customer";
pub const NAME: &str = "Name";
pub const PHONE: &str = "Phone";
pub const EMAIL: &str = "Email";
pub const CREATE: &str = "Create";
pub const NO_CUSTOMERS: &str = "No customer matches.";
pub const ORDERS_OF_CUSTOMER: &str = "Orders";
pub const CATALOG_REQUESTS: &str = "Catalog requests";
pub const NEW_ORDER: &str = "New order";
pub const SOURCE_CODE: &str = "Source code";
pub const NONE: &str = "(none)";
pub const DELIVERY_MODE: &str = "Delivery mode";
pub const CUSTOMER_CREATED: &str = "Customer created.";
pub const OPEN: &str = "Open";

// Orders list.
pub const ORDERS: &str = "Orders";
pub const STATUS: &str = "Status";
pub const ANY: &str = "Any";
pub const HELD_ONLY: &str = "Held only";
pub const TODAY_ONLY: &str = "Created today";
pub const FILTER: &str = "Filter";
pub const CREATED: &str = "Created";
pub const LINES: &str = "Lines";
pub const TOTAL: &str = "Total";
pub const BALANCE: &str = "Balance";
pub const NO_ORDERS: &str = "No orders.";
pub const NEXT_PAGE: &str = "Next page";
pub const CALL_CENTER: &str = "Call center";

// The sales order page.
pub const ORDER: &str = "Order";
pub const SCRIPT: &str = "Script";
pub const CATALOG: &str = "Catalog";
pub const ADD_LINE: &str = "Add line";
pub const PRODUCT: &str = "Product";
pub const QUANTITY: &str = "Quantity";
pub const UNIT_PRICE: &str = "Unit price";
pub const LIST_PRICE: &str = "List price";
pub const OVERRIDE_PRICE: &str = "Override price (optional)";
pub const REASON_CODE: &str = "Reason code";
pub const LINE_TOTAL: &str = "Line total";
pub const REMOVE: &str = "Remove";
pub const NO_LINES: &str = "No lines yet.";
pub const OVERRIDDEN: &str = "overridden";
pub const SET_PRICE: &str = "Set price";
pub const SUGGESTIONS: &str = "Suggested with this product";
pub const UPSELL: &str = "Upsell";
pub const CROSS_SELL: &str = "Cross-sell";
pub const ACCEPT: &str = "Add";
pub const COUPONS: &str = "Coupons";
pub const COUPON_CODE: &str = "Coupon code";
pub const APPLY: &str = "Apply";
pub const CHARGES: &str = "Charges";
pub const CHARGE_CODE: &str = "Charge code";
pub const AMOUNT: &str = "Amount";
pub const ADD_CHARGE: &str = "Add charge";
pub const AUTOMATIC: &str = "automatic";
pub const PAYMENTS: &str = "Payments";
pub const METHOD: &str = "Method";
pub const REFERENCE: &str = "Reference (optional)";
pub const ADD_PAYMENT: &str = "Add payment";
pub const VOID: &str = "Void";
pub const HOLDS: &str = "Holds";
pub const HOLD_CODE: &str = "Hold code";
pub const REASON: &str = "Reason";
pub const PLACE_HOLD: &str = "Place hold";
pub const CLEAR_HOLD: &str = "Clear hold";
pub const CLEARED_BY: &str = "cleared by";
pub const SYSTEM_HOLD: &str =
    "system hold: concurrent edits at two sites broke a rule; a supervisor reviews and clears it";
pub const NOTES: &str = "Notes";
pub const ADD_NOTE: &str = "Add note";
pub const RECAP: &str = "Recap before submit";
pub const SUBTOTAL: &str = "Lines";
pub const DISCOUNT: &str = "Discounts (source code, coupons)";
pub const PAID: &str = "Payments";
pub const SUBMIT: &str = "Submit order";
pub const CANCEL_ORDER: &str = "Cancel order";
pub const HISTORY: &str = "History";
pub const CONFLICTS: &str = "Merged conflicts (two sites edited the same field)";
pub const SHORTCUTS: &str =
    "Keys: Alt+L add line · Alt+U accept suggestion · Alt+P payment · Alt+H hold · Alt+S submit";
pub const DONE: &str = "Done.";
pub const REFUSED: &str = "Refused";
pub const LIVE_CHANGED: &str =
    "This order changed while open (another agent, or a merge from a peer); the page shows it now:";
pub const RELOAD: &str = "Reload";
pub const LIVE_HERE: &str = "on this node";
pub const LIVE_ELSEWHERE: &str = "on another node (synced)";
pub const LIVE_SOMETHING: &str = "The order was changed.";

pub fn live_conflict(path: &str, values: &str) -> String {
    format!("Conflict: two sites edited {path} ({values})")
}

pub fn live_status(status: &str) -> String {
    format!("Status is now {status}")
}

pub fn line_added(product: &str) -> String {
    format!("Added {product}.")
}

// The hold queue.
pub const HOLD_QUEUE: &str = "Held orders, oldest hold first";
pub const HELD_BY: &str = "Held by";
pub const HELD_AT: &str = "Held at";
pub const NO_HOLDS: &str = "No order is on hold.";
pub const SYSTEM: &str = "system";

// Continuity programs (the sales order page).
pub const CONTINUITY: &str = "Continuity program";
pub const CONTINUITY_PROGRAMS: &str = "Continuity programs";
pub const DELIVERY: &str = "Delivery";
pub const DUE: &str = "Due";
pub const CONTINUITY_NOT_YET: &str = "not created yet";
pub const CONTINUITY_STARTS: &str =
    "The deliveries are scheduled when the order is submitted, counted from that day.";
pub const CONTINUITY_STOPPED: &str = "The order was canceled: no further delivery is created.";
pub const CONTINUITY_PER_DELIVERY: &str = "per delivery";

pub fn continuity_program(every_days: u32, times: u32) -> String {
    format!("every {every_days} days × {times}")
}

pub fn continuity_progress(created: u32, remaining: u32) -> String {
    format!("{created} created, {remaining} to come")
}

pub fn continuity_next(at: &str) -> String {
    format!("next delivery {at}")
}

pub fn continuity_recap(product: &str, every_days: u32, times: u32) -> String {
    format!(
        "Continuity: {product}, {}",
        continuity_program(every_days, times)
    )
}

pub fn continuity_child(index: u32, times: Option<u32>) -> String {
    match times {
        Some(t) => format!("Continuity delivery {index} of {t}, made from order"),
        None => format!("Continuity delivery {index}, made from order"),
    }
}

// Admin pages: users, peers and sync.
pub const NAV_ADMIN_USERS: &str = "Users";
pub const NAV_ADMIN_PEERS: &str = "Peers and sync";
pub const ADMIN_USERS: &str = "Users";
pub const ADMIN_PEERS: &str = "Peers and sync status";
pub const NO_CALL_CENTERS: &str = "No call center is configured on this node yet.";
pub const USERS_READ_ONLY_AT_SITE: &str = "This is a site node: users and passwords are added and changed at HQ and reach this site by sync, so this list is read-only here.";
pub const ROLE: &str = "Role";
pub const ADDED: &str = "Added";
pub const ACTIONS: &str = "Actions";
pub const USER_ACTIVE: &str = "active";
pub const USER_DISABLED: &str = "disabled";
pub const NEW_PASSWORD: &str = "New password";
pub const SET_PASSWORD: &str = "Set password";
pub const DISABLE: &str = "Disable";
pub const ADD_USER: &str = "Add user";
pub const PASSWORD_SET: &str = "Password set.";
pub const THIS_NODE: &str = "This node";
pub const NODE_ID: &str = "Node id";
pub const PEERS: &str = "Peers";
pub const NO_PEERS: &str = "No peers: this node syncs with no other node.";
pub const PEER_URL: &str = "Sync URL";
pub const CALL_CENTERS: &str = "Call centers";
pub const PEER_NODE_ID: &str = "Node id";
pub const PEER_LEGACY: &str = "none (added with a shared secret; add it again by node id)";
pub const SYNC_STATUS: &str = "Sync status";
pub const REACHABLE: &str = "Reachable";
pub const LAST_SUCCESS: &str = "Last successful sync";
pub const PENDING_OUT: &str = "Changes waiting";
pub const LAST_ERROR: &str = "Last error";
pub const YES: &str = "yes";
pub const NO: &str = "no";
pub const NOT_TRIED: &str = "not tried yet";
pub const NEVER: &str = "never";
pub const SYNC_NOW: &str = "Sync now";

pub fn user_added(name: &str) -> String {
    format!("User {name} added; they sign in with the password given.")
}

pub fn user_disabled(name: &str) -> String {
    format!("User {name} disabled: their sign-in and tokens stop working.")
}

pub fn node_line(name: &str, role: &str) -> String {
    format!("{name} ({role})")
}

pub fn synced_ok(peer: &str, sent: u64, received: u64) -> String {
    format!("{peer}: synced, {sent} documents sent, {received} received")
}

pub fn synced_failed(peer: &str, why: &str) -> String {
    format!("{peer}: sync failed: {why}")
}
pub const NAV_OWN_PASSWORD: &str = "My password";
pub const OWN_PASSWORD: &str = "My password";
pub const CHANGE_OWN_PASSWORD: &str = "Change my password";
pub const CURRENT_PASSWORD: &str = "Current password";
pub const OWN_PASSWORD_AT_SITE: &str = "This is a site node: passwords are changed on a console connected to HQ (or by an admin or supervisor there) and reach this site by sync.";

// The customer edit form.
pub const EDIT_CUSTOMER: &str = "Edit customer";
pub const SAVE_CUSTOMER: &str = "Save changes";
pub const CUSTOMER_SAVED: &str = "Customer saved.";
pub const ADDRESS_NEW_FIELD: &str = "New address field (name)";
pub const ADDRESS_NEW_VALUE: &str = "New address field (value)";

pub fn address_field(key: &str) -> String {
    format!("Address: {key}")
}

// Catalog requests on the customer page.
pub const REQUEST_CATALOG: &str = "Request catalog";
pub const CATALOG_REQUESTED: &str = "Catalog request recorded.";
pub const CATALOG_QUANTITY_NOT_A_NUMBER: &str = "Refused: quantity: must be a whole number";
