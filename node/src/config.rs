//! Node configuration: a TOML file plus `SWITCHBOARD_*` environment overrides, with defaults that
//! run with no file at all (data dir `./switchboard-data`, listen `127.0.0.1:7070`, role `hq`).
//!
//! Environment overrides: `SWITCHBOARD_DATA_DIR`, `SWITCHBOARD_LISTEN`, `SWITCHBOARD_NAME`,
//! `SWITCHBOARD_ROLE` (`hq`|`site`), `SWITCHBOARD_CALL_CENTERS` (comma separated),
//! `SWITCHBOARD_CACHE_MB`, `SWITCHBOARD_DOC_CACHE`, `SWITCHBOARD_SYNC_INTERVAL_SECS`,
//! `SWITCHBOARD_LOG`, and the limits on hostile clients: `SWITCHBOARD_HEADER_READ_TIMEOUT_SECS`,
//! `SWITCHBOARD_REQUEST_TIMEOUT_SECS`, `SWITCHBOARD_MAX_CONNECTIONS`,
//! `SWITCHBOARD_USER_WRITES_PER_SEC`, `SWITCHBOARD_USER_WRITE_BURST`,
//! `SWITCHBOARD_PUBLIC_METRICS`, `SWITCHBOARD_CONSOLE_IDLE_SECS` (the console's idle sign-out); the
//! lifetimes of API tokens `SWITCHBOARD_TOKEN_LIFETIME_SECS` and
//! `SWITCHBOARD_ADMIN_TOKEN_LIFETIME_SECS`; for TLS `SWITCHBOARD_SYNC_LISTEN` (the peers' listener),
//! `SWITCHBOARD_TLS_CERT`, `SWITCHBOARD_TLS_KEY` and `SWITCHBOARD_INSECURE_HTTP`; for the PostgreSQL warehouse (the `[warehouse]` table, off unless a URL
//! is set) `SWITCHBOARD_WAREHOUSE_URL`, `SWITCHBOARD_WAREHOUSE_CONTACT_FIELDS` (comma separated,
//! `all` or `none`) and `SWITCHBOARD_WAREHOUSE_BATCH_SIZE`.
//!
//! One reason to change: what a node can be configured with (each setting, its default, its
//! environment variable and its check, side by side).

use crate::error::NodeError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use switchboard_domain::CallCenterId;
use switchboard_sync::protocol::Role;
use switchboard_warehouse::ContactField;

/// Default sled page cache, MiB.
/// sled's page cache speeds nothing measurable here (reads go by key, documents are small) but
/// costs resident memory one for one, so it is kept small (BENCHMARKS.md: 100k orders).
pub const DEFAULT_CACHE_MB: u64 = 16;
/// Default number of automerge documents kept loaded by the writer.
pub const DEFAULT_DOC_CACHE: usize = 1024;
/// Default HTTP body limit, bytes.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;
/// Default time a client has to send a request's headers (also how long an idle keep-alive
/// connection stays open), seconds.
pub const DEFAULT_HEADER_READ_TIMEOUT_SECS: u64 = 15;
/// Default time a request may take from its headers to its answer, seconds (`POST /api/v1/sync`
/// excepted: its sessions have their own timeouts).
pub const DEFAULT_REQUEST_TIMEOUT_SECS: u64 = 60;
/// Default time one sync session may take in all, seconds: below the CLI's default wait (60 s),
/// so `switchboard sync now` gets the node's answer. A longer catch-up goes on in the next
/// session from the checkpoint this one reached (each frame's merge is durable with it).
pub const DEFAULT_SYNC_SESSION_TIMEOUT_SECS: u64 = 50;
/// Default number of connections served at once; more wait to be accepted.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// Default sustained writes per second one user may make.
pub const DEFAULT_USER_WRITES_PER_SEC: u32 = 200;
/// Default burst of writes one user may make above the sustained rate.
pub const DEFAULT_USER_WRITE_BURST: u32 = 400;
/// Default lifetime of a new user's API token (and of a rotated one), seconds: 90 days.
pub const DEFAULT_TOKEN_LIFETIME_SECS: u64 = 90 * 24 * 3600;
/// Default lifetime of the token of the admin made by `init`, seconds: 365 days.
pub const DEFAULT_ADMIN_TOKEN_LIFETIME_SECS: u64 = 365 * 24 * 3600;
/// Longest token lifetime accepted, seconds (100 years).
pub const MAX_TOKEN_LIFETIME_SECS: u64 = 100 * 365 * 24 * 3600;
/// Default number of documents the warehouse follower writes per PostgreSQL transaction.
pub const DEFAULT_WAREHOUSE_BATCH: usize = 500;
/// Largest warehouse batch accepted (each document of a batch is held loaded until it commits).
pub const MAX_WAREHOUSE_BATCH: usize = 10_000;

/// The node's configuration.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeConfig {
    /// Where the store lives.
    pub data_dir: PathBuf,
    /// HTTP listen address.
    pub listen: SocketAddr,
    /// Node name (used at `init`; the stored identity wins afterwards).
    pub name: String,
    /// Role used at `init`.
    pub role: Role,
    /// Call centers a site serves (used at `init`).
    pub call_centers: Vec<CallCenterId>,
    /// sled page cache size, MiB.
    pub cache_mb: u64,
    /// Loaded automerge documents kept by the writer.
    pub doc_cache: usize,
    /// Seconds between scheduled syncs with each peer.
    pub sync_interval_secs: u64,
    /// Seconds one sync session with a peer may take in all (waiting for a session already
    /// running with that peer included); past it the session ends with a timeout error.
    pub sync_session_timeout_secs: u64,
    /// `tracing` filter (env-filter syntax).
    pub log: String,
    /// Maximum HTTP request body, bytes.
    pub body_limit: usize,
    /// Seconds added to the business clock (order and history times). For testing clock skew
    /// between sites; peer authentication always uses the real system clock.
    pub clock_offset_secs: i64,
    /// Byte budget of one sync frame (`None`: the protocol's target). Small values make a
    /// catch-up span many frames, which the fault tests use to cut sessions mid-way.
    pub sync_frame_bytes: Option<usize>,
    /// Seconds a client has to send a request's headers; a connection idle that long between
    /// requests is closed too.
    pub header_read_timeout_secs: u64,
    /// Seconds a request may take from its headers to its answer (body upload included);
    /// `POST /api/v1/sync` is bounded by its sessions' own timeouts instead.
    pub request_timeout_secs: u64,
    /// Connections served at once; further connections wait to be accepted.
    pub max_connections: usize,
    /// Sustained API writes per second per user (a token bucket next to the node-wide limit on
    /// writes in flight); 0 turns the per-user limit off.
    pub user_writes_per_sec: u32,
    /// Writes a user may make at once above the sustained rate (the bucket's size).
    pub user_write_burst: u32,
    /// Serve `/metrics` and `/openapi.json` without a token (by default they need one).
    pub public_metrics: bool,
    /// Seconds a token made by `POST /api/v1/call-centers/{id}/users` or a rotation stays
    /// valid (`expires_at` is returned with it).
    pub token_lifetime_secs: u64,
    /// Seconds the token of the admin made by `init` stays valid.
    pub admin_token_lifetime_secs: u64,
    /// The PostgreSQL warehouse this node feeds (`[warehouse]`; off without a URL).
    pub warehouse: WarehouseConfig,
    /// Seconds a console session may stay idle before it must sign in again.
    pub console_idle_secs: u64,
    /// Where peers reach this node (`/sync/v1`, TLS 1.3 with client certificates, only for
    /// peers an admin added by node id). `None`: the node serves no peers, it only dials them.
    pub sync_listen: Option<SocketAddr>,
    /// An operator's certificate chain (PEM) for the agent API's HTTPS, instead of the node's
    /// self-signed one; re-read on SIGHUP. Needs `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of `tls_cert`.
    pub tls_key: Option<PathBuf>,
    /// Serve the agent API as plain HTTP even off loopback (warned at every start). Without it
    /// the API speaks HTTPS to every client not on loopback.
    pub insecure_http: bool,
}

/// The `[warehouse]` table: where and how the node streams its documents into PostgreSQL.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WarehouseConfig {
    /// `postgres://user:password@host:port/database` (or the key=value form); `None` leaves the
    /// warehouse off.
    pub postgres_url: Option<String>,
    /// The customer contact fields written to the warehouse; the others stay NULL. In TOML a
    /// list of names (`["name", "email"]`, `[]` for none) or one of `"all"`, `"none"`.
    pub contact_fields: ContactFields,
    /// Most documents written per PostgreSQL transaction.
    pub batch_size: usize,
}

impl Default for WarehouseConfig {
    fn default() -> Self {
        WarehouseConfig {
            postgres_url: None,
            contact_fields: ContactFields::all(),
            batch_size: DEFAULT_WAREHOUSE_BATCH,
        }
    }
}

impl std::fmt::Debug for WarehouseConfig {
    // The URL may carry a password: it is never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WarehouseConfig")
            .field("postgres_url", &self.postgres_url.as_ref().map(|_| "<set>"))
            .field("contact_fields", &self.contact_fields)
            .field("batch_size", &self.batch_size)
            .finish()
    }
}

impl WarehouseConfig {
    /// Whether the warehouse is on (a URL is set).
    pub fn enabled(&self) -> bool {
        self.postgres_url.is_some()
    }

    /// The warehouse crate's options for this configuration.
    pub fn options(&self) -> switchboard_warehouse::Options {
        switchboard_warehouse::Options {
            // The follower writes one batch at a time; the rest serves status and rebuild.
            pool_size: 2,
            contact_fields: self.contact_fields.0.clone(),
            ..switchboard_warehouse::Options::default()
        }
    }
}

/// A set of customer contact fields (`name`, `phone`, `email`, `address`, `ship_to`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContactFields(pub BTreeSet<ContactField>);

impl ContactFields {
    /// Every contact field.
    pub fn all() -> ContactFields {
        ContactFields(ContactField::ALL.into_iter().collect())
    }

    /// No contact field.
    pub fn none() -> ContactFields {
        ContactFields(BTreeSet::new())
    }

    /// Parses `all`, `none`, or a comma-separated list of field names.
    pub fn parse(s: &str) -> Result<ContactFields, NodeError> {
        match s.trim() {
            "all" => return Ok(ContactFields::all()),
            "none" | "" => return Ok(ContactFields::none()),
            _ => {}
        }
        Self::from_names(s.split(',').map(str::trim).filter(|p| !p.is_empty()))
    }

    fn from_names<'a>(names: impl Iterator<Item = &'a str>) -> Result<ContactFields, NodeError> {
        names
            .map(|n| {
                ContactField::parse(n).ok_or_else(|| {
                    let known: Vec<&str> = ContactField::ALL.iter().map(|f| f.as_str()).collect();
                    NodeError::Config(format!(
                        "contact field {n:?}: expected one of {}, or all or none",
                        known.join(", ")
                    ))
                })
            })
            .collect::<Result<BTreeSet<_>, _>>()
            .map(ContactFields)
    }

    /// The field names, in a fixed order.
    pub fn names(&self) -> Vec<&'static str> {
        self.0.iter().map(|f| f.as_str()).collect()
    }
}

impl Serialize for ContactFields {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.names().serialize(s)
    }
}

impl<'de> Deserialize<'de> for ContactFields {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Word(String),
            List(Vec<String>),
        }
        let parsed = match Raw::deserialize(d)? {
            Raw::Word(w) => match w.as_str() {
                "all" | "none" => ContactFields::parse(&w),
                _ => Err(NodeError::Config(format!(
                    "contact_fields: expected a list of fields, \"all\" or \"none\", got {w:?}"
                ))),
            },
            Raw::List(l) => ContactFields::from_names(l.iter().map(String::as_str)),
        };
        parsed.map_err(serde::de::Error::custom)
    }
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            data_dir: PathBuf::from("./switchboard-data"),
            listen: SocketAddr::from(([127, 0, 0, 1], 7070)),
            name: "switchboard".to_string(),
            role: Role::Hq,
            call_centers: Vec::new(),
            cache_mb: DEFAULT_CACHE_MB,
            doc_cache: DEFAULT_DOC_CACHE,
            sync_interval_secs: 30,
            sync_session_timeout_secs: DEFAULT_SYNC_SESSION_TIMEOUT_SECS,
            log: "info".to_string(),
            body_limit: DEFAULT_BODY_LIMIT,
            clock_offset_secs: 0,
            sync_frame_bytes: None,
            header_read_timeout_secs: DEFAULT_HEADER_READ_TIMEOUT_SECS,
            request_timeout_secs: DEFAULT_REQUEST_TIMEOUT_SECS,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            user_writes_per_sec: DEFAULT_USER_WRITES_PER_SEC,
            user_write_burst: DEFAULT_USER_WRITE_BURST,
            public_metrics: false,
            token_lifetime_secs: DEFAULT_TOKEN_LIFETIME_SECS,
            admin_token_lifetime_secs: DEFAULT_ADMIN_TOKEN_LIFETIME_SECS,
            warehouse: WarehouseConfig::default(),
            console_idle_secs: 1800,
            sync_listen: None,
            tls_cert: None,
            tls_key: None,
            insecure_http: false,
        }
    }
}

impl NodeConfig {
    /// Parses a TOML document (missing keys take defaults; unknown keys are refused).
    pub fn from_toml_str(s: &str) -> Result<NodeConfig, NodeError> {
        toml::from_str(s).map_err(|e| NodeError::Config(format!("config file: {e}")))
    }

    /// Reads a TOML file.
    pub fn from_file(path: &Path) -> Result<NodeConfig, NodeError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| NodeError::io(format!("reading config {}", path.display()), e))?;
        Self::from_toml_str(&text)
    }

    /// Defaults, then the file if given, then `SWITCHBOARD_*` variables from the process
    /// environment.
    pub fn load(file: Option<&Path>) -> Result<NodeConfig, NodeError> {
        let mut cfg = match file {
            Some(p) => Self::from_file(p)?,
            None => NodeConfig::default(),
        };
        cfg.apply_env(|k| std::env::var(k).ok())?;
        Ok(cfg)
    }

    /// Applies `SWITCHBOARD_*` overrides read through `get` (a function so tests need not touch
    /// the process environment).
    pub fn apply_env(&mut self, get: impl Fn(&str) -> Option<String>) -> Result<(), NodeError> {
        fn num<T: std::str::FromStr>(key: &str, v: &str) -> Result<T, NodeError> {
            v.trim()
                .parse()
                .map_err(|_| NodeError::Config(format!("{key}: not a number: {v:?}")))
        }
        if let Some(v) = get("SWITCHBOARD_DATA_DIR") {
            self.data_dir = PathBuf::from(v);
        }
        if let Some(v) = get("SWITCHBOARD_LISTEN") {
            self.listen = v.trim().parse().map_err(|_| {
                NodeError::Config(format!("SWITCHBOARD_LISTEN: not an address: {v:?}"))
            })?;
        }
        if let Some(v) = get("SWITCHBOARD_NAME") {
            self.name = v;
        }
        if let Some(v) = get("SWITCHBOARD_ROLE") {
            self.role = Role::parse(&v).ok_or_else(|| {
                NodeError::Config(format!("SWITCHBOARD_ROLE: expected hq or site, got {v:?}"))
            })?;
        }
        if let Some(v) = get("SWITCHBOARD_CALL_CENTERS") {
            self.call_centers = parse_call_centers(&v)?;
        }
        if let Some(v) = get("SWITCHBOARD_CACHE_MB") {
            self.cache_mb = num("SWITCHBOARD_CACHE_MB", &v)?;
        }
        if let Some(v) = get("SWITCHBOARD_DOC_CACHE") {
            self.doc_cache = num("SWITCHBOARD_DOC_CACHE", &v)?;
        }
        if let Some(v) = get("SWITCHBOARD_SYNC_INTERVAL_SECS") {
            self.sync_interval_secs = num("SWITCHBOARD_SYNC_INTERVAL_SECS", &v)?;
        }
        if let Some(v) = get("SWITCHBOARD_CLOCK_OFFSET_SECS") {
            self.clock_offset_secs = num("SWITCHBOARD_CLOCK_OFFSET_SECS", &v)?;
        }
        if let Some(v) = get("SWITCHBOARD_SYNC_FRAME_BYTES") {
            self.sync_frame_bytes = Some(num("SWITCHBOARD_SYNC_FRAME_BYTES", &v)?);
        }
        if let Some(v) = get("SWITCHBOARD_LOG") {
            self.log = v;
        }
        if let Some(v) = get("SWITCHBOARD_HEADER_READ_TIMEOUT_SECS") {
            self.header_read_timeout_secs = num("SWITCHBOARD_HEADER_READ_TIMEOUT_SECS", &v)?;
        }
        if let Some(v) = get("SWITCHBOARD_SYNC_SESSION_TIMEOUT_SECS") {
            self.sync_session_timeout_secs = num("SWITCHBOARD_SYNC_SESSION_TIMEOUT_SECS", &v)?;
        }
        if let Some(v) = get("SWITCHBOARD_REQUEST_TIMEOUT_SECS") {
            self.request_timeout_secs = num("SWITCHBOARD_REQUEST_TIMEOUT_SECS", &v)?;
        }
        if let Some(v) = get("SWITCHBOARD_MAX_CONNECTIONS") {
            self.max_connections = num("SWITCHBOARD_MAX_CONNECTIONS", &v)?;
        }
        if let Some(v) = get("SWITCHBOARD_USER_WRITES_PER_SEC") {
            self.user_writes_per_sec = num("SWITCHBOARD_USER_WRITES_PER_SEC", &v)?;
        }
        if let Some(v) = get("SWITCHBOARD_CONSOLE_IDLE_SECS") {
            self.console_idle_secs = num("SWITCHBOARD_CONSOLE_IDLE_SECS", &v)?;
        }
        if let Some(v) = get("SWITCHBOARD_USER_WRITE_BURST") {
            self.user_write_burst = num("SWITCHBOARD_USER_WRITE_BURST", &v)?;
        }
        fn flag(key: &str, v: &str) -> Result<bool, NodeError> {
            match v.trim().to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" => Ok(true),
                "0" | "false" | "no" => Ok(false),
                _ => Err(NodeError::Config(format!(
                    "{key}: expected true or false, got {v:?}"
                ))),
            }
        }
        if let Some(v) = get("SWITCHBOARD_PUBLIC_METRICS") {
            self.public_metrics = flag("SWITCHBOARD_PUBLIC_METRICS", &v)?;
        }
        if let Some(v) = get("SWITCHBOARD_SYNC_LISTEN") {
            self.sync_listen = Some(v.trim().parse().map_err(|_| {
                NodeError::Config(format!("SWITCHBOARD_SYNC_LISTEN: not an address: {v:?}"))
            })?);
        }
        if let Some(v) = get("SWITCHBOARD_TLS_CERT") {
            self.tls_cert = Some(PathBuf::from(v));
        }
        if let Some(v) = get("SWITCHBOARD_TLS_KEY") {
            self.tls_key = Some(PathBuf::from(v));
        }
        if let Some(v) = get("SWITCHBOARD_INSECURE_HTTP") {
            self.insecure_http = flag("SWITCHBOARD_INSECURE_HTTP", &v)?;
        }
        if let Some(v) = get("SWITCHBOARD_TOKEN_LIFETIME_SECS") {
            self.token_lifetime_secs = num("SWITCHBOARD_TOKEN_LIFETIME_SECS", &v)?;
        }
        if let Some(v) = get("SWITCHBOARD_ADMIN_TOKEN_LIFETIME_SECS") {
            self.admin_token_lifetime_secs = num("SWITCHBOARD_ADMIN_TOKEN_LIFETIME_SECS", &v)?;
        }
        if let Some(v) = get("SWITCHBOARD_WAREHOUSE_URL") {
            // An empty value turns a warehouse of the file off.
            self.warehouse.postgres_url = Some(v.trim().to_string()).filter(|u| !u.is_empty());
        }
        if let Some(v) = get("SWITCHBOARD_WAREHOUSE_CONTACT_FIELDS") {
            self.warehouse.contact_fields = ContactFields::parse(&v).map_err(|e| {
                NodeError::Config(format!("SWITCHBOARD_WAREHOUSE_CONTACT_FIELDS: {e}"))
            })?;
        }
        if let Some(v) = get("SWITCHBOARD_WAREHOUSE_BATCH_SIZE") {
            self.warehouse.batch_size = num("SWITCHBOARD_WAREHOUSE_BATCH_SIZE", &v)?;
        }
        self.validate()
    }

    /// Checks ranges.
    pub fn validate(&self) -> Result<(), NodeError> {
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            return Err(NodeError::Config(
                "tls_cert and tls_key go together: set both or neither".into(),
            ));
        }
        if self.doc_cache == 0 {
            return Err(NodeError::Config("doc_cache must be at least 1".into()));
        }
        if self.cache_mb == 0 {
            return Err(NodeError::Config("cache_mb must be at least 1".into()));
        }
        if self.sync_frame_bytes == Some(0) {
            return Err(NodeError::Config(
                "sync_frame_bytes must be at least 1".into(),
            ));
        }
        if self.body_limit == 0 {
            return Err(NodeError::Config("body_limit must be at least 1".into()));
        }
        for (key, v) in [
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("request_timeout_secs", self.request_timeout_secs),
            ("sync_session_timeout_secs", self.sync_session_timeout_secs),
            ("max_connections", self.max_connections as u64),
        ] {
            if v == 0 {
                return Err(NodeError::Config(format!("{key} must be at least 1")));
            }
        }
        for (key, v) in [
            ("token_lifetime_secs", self.token_lifetime_secs),
            ("admin_token_lifetime_secs", self.admin_token_lifetime_secs),
        ] {
            if !(1..=MAX_TOKEN_LIFETIME_SECS).contains(&v) {
                return Err(NodeError::Config(format!(
                    "{key} must be 1 to {MAX_TOKEN_LIFETIME_SECS}"
                )));
            }
        }
        if self.user_writes_per_sec > 0 && self.user_write_burst == 0 {
            return Err(NodeError::Config(
                "user_write_burst must be at least 1 when user_writes_per_sec is set".into(),
            ));
        }
        if !(1..=MAX_WAREHOUSE_BATCH).contains(&self.warehouse.batch_size) {
            return Err(NodeError::Config(format!(
                "warehouse.batch_size must be 1 to {MAX_WAREHOUSE_BATCH}"
            )));
        }
        if let Some(url) = &self.warehouse.postgres_url {
            url.parse::<tokio_postgres::Config>().map_err(|e| {
                NodeError::Config(format!(
                    "warehouse.postgres_url is not a PostgreSQL URL: {e}"
                ))
            })?;
        }
        Ok(())
    }

    /// Where the agent API's certificate comes from: the operator's files, or the node's own.
    pub fn api_cert_source(&self) -> crate::tls::CertSource {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => crate::tls::CertSource::Operator {
                cert: cert.clone(),
                key: key.clone(),
            },
            _ => crate::tls::CertSource::Node,
        }
    }

    /// The store options this configuration implies.
    pub fn store_options(&self) -> crate::store::StoreOptions {
        crate::store::StoreOptions {
            cache_capacity_bytes: self.cache_mb.saturating_mul(1024 * 1024),
            doc_cache: self.doc_cache,
            ..crate::store::StoreOptions::default()
        }
    }
}

/// Parses a comma-separated list of call-center ids (empty items ignored).
pub fn parse_call_centers(s: &str) -> Result<Vec<CallCenterId>, NodeError> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            CallCenterId::parse(p).map_err(|e| NodeError::Config(format!("call center {p:?}: {e}")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn defaults_without_file() {
        let c = NodeConfig::default();
        assert_eq!(c.data_dir, PathBuf::from("./switchboard-data"));
        assert_eq!(c.listen.to_string(), "127.0.0.1:7070");
        assert_eq!(c.role, Role::Hq);
        assert_eq!(c.body_limit, 1024 * 1024);
        assert_eq!(c.cache_mb, DEFAULT_CACHE_MB);
        assert_eq!(c.doc_cache, 1024);
        assert_eq!(c.header_read_timeout_secs, 15);
        assert_eq!(c.request_timeout_secs, 60);
        assert_eq!(c.max_connections, 1024);
        assert_eq!((c.user_writes_per_sec, c.user_write_burst), (200, 400));
        assert!(!c.public_metrics);
    }

    #[test]
    fn limits_from_toml_and_env() {
        let mut c = NodeConfig::from_toml_str(
            "header_read_timeout_secs = 5\nmax_connections = 8\npublic_metrics = true\n",
        )
        .expect("toml");
        assert_eq!((c.header_read_timeout_secs, c.max_connections), (5, 8));
        assert!(c.public_metrics);
        let env: HashMap<&str, &str> = [
            ("SWITCHBOARD_REQUEST_TIMEOUT_SECS", "9"),
            ("SWITCHBOARD_USER_WRITES_PER_SEC", "0"),
            ("SWITCHBOARD_PUBLIC_METRICS", "false"),
        ]
        .into_iter()
        .collect();
        c.apply_env(|k| env.get(k).map(|v| v.to_string()))
            .expect("env");
        assert_eq!(c.request_timeout_secs, 9);
        assert_eq!(c.user_writes_per_sec, 0);
        assert!(!c.public_metrics);
        let mut c = NodeConfig::default();
        assert!(c
            .apply_env(|k| (k == "SWITCHBOARD_MAX_CONNECTIONS").then(|| "0".to_string()))
            .is_err());
        let mut c = NodeConfig::default();
        assert!(c
            .apply_env(|k| (k == "SWITCHBOARD_PUBLIC_METRICS").then(|| "maybe".to_string()))
            .is_err());
    }

    #[test]
    fn token_lifetimes_from_toml_and_env() {
        let c = NodeConfig::default();
        assert_eq!(c.token_lifetime_secs, 90 * 24 * 3600);
        assert_eq!(c.admin_token_lifetime_secs, 365 * 24 * 3600);
        let mut c = NodeConfig::from_toml_str("token_lifetime_secs = 60\n").expect("toml");
        assert_eq!(c.token_lifetime_secs, 60);
        c.apply_env(|k| (k == "SWITCHBOARD_ADMIN_TOKEN_LIFETIME_SECS").then(|| "120".into()))
            .expect("env");
        assert_eq!(
            (c.token_lifetime_secs, c.admin_token_lifetime_secs),
            (60, 120)
        );
        for bad in ["0", "99999999999999", "soon"] {
            let mut c = NodeConfig::default();
            assert!(c
                .apply_env(|k| (k == "SWITCHBOARD_TOKEN_LIFETIME_SECS").then(|| bad.into()))
                .is_err());
        }
    }

    #[test]
    fn toml_then_env() {
        let mut c = NodeConfig::from_toml_str(
            "data_dir = \"/tmp/x\"\nrole = \"site\"\ncall_centers = [\"cc-1\"]\ncache_mb = 8\n",
        )
        .expect("toml");
        assert_eq!(c.role, Role::Site);
        assert_eq!(c.cache_mb, 8);
        let env: HashMap<&str, &str> = [
            ("SWITCHBOARD_LISTEN", "0.0.0.0:9000"),
            ("SWITCHBOARD_CALL_CENTERS", "east, west"),
            ("SWITCHBOARD_ROLE", "HQ"),
            ("SWITCHBOARD_DOC_CACHE", "10"),
        ]
        .into_iter()
        .collect();
        c.apply_env(|k| env.get(k).map(|v| v.to_string()))
            .expect("env");
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.role, Role::Hq);
        assert_eq!(c.doc_cache, 10);
        assert_eq!(c.call_centers.len(), 2);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    }

    /// The role is the sync protocol's `Role`; the node's config and its stored records keep the
    /// format they had with the node's own role type: `hq`/`site` as text, variant index 0/1 in
    /// bincode records (`NodeMeta`, `PeerConfig`).
    #[test]
    fn role_keeps_its_config_and_record_format() {
        for (role, text, index) in [(Role::Hq, "hq", 0u8), (Role::Site, "site", 1)] {
            let c = NodeConfig::from_toml_str(&format!("role = \"{text}\"")).expect("toml");
            assert_eq!(c.role, role);
            assert_eq!(role.to_string(), text);
            assert_eq!(Role::parse(&text.to_uppercase()), Some(role));
            assert_eq!(
                serde_json::to_value(role).expect("json"),
                serde_json::json!(text)
            );
            let record = crate::store::records::encode(&role).expect("encode");
            assert_eq!(record, [switchboard_sync::codec::VERSION, index]);
        }
        assert_eq!(Role::parse("boss"), None);
    }

    #[test]
    fn warehouse_is_off_by_default_and_set_by_file_or_env() {
        let c = NodeConfig::default();
        assert!(!c.warehouse.enabled());
        assert_eq!(c.warehouse.contact_fields, ContactFields::all());
        assert_eq!(c.warehouse.batch_size, DEFAULT_WAREHOUSE_BATCH);

        let mut c = NodeConfig::from_toml_str(
            "[warehouse]\npostgres_url = \"postgres://sb:secret@db:5432/hq\"\n\
             contact_fields = [\"name\", \"ship_to\"]\nbatch_size = 50\n",
        )
        .expect("toml");
        assert!(c.warehouse.enabled());
        assert_eq!(c.warehouse.contact_fields.names(), ["name", "ship_to"]);
        assert_eq!(c.warehouse.batch_size, 50);
        assert!(
            !format!("{c:?}").contains("secret"),
            "the password never shows in Debug"
        );
        let opts = c.warehouse.options();
        assert_eq!(
            opts.contact_fields,
            [ContactField::Name, ContactField::ShipTo]
                .into_iter()
                .collect()
        );

        let env: HashMap<&str, &str> = [
            (
                "SWITCHBOARD_WAREHOUSE_URL",
                "host=127.0.0.1 port=5999 dbname=wh",
            ),
            ("SWITCHBOARD_WAREHOUSE_CONTACT_FIELDS", "none"),
            ("SWITCHBOARD_WAREHOUSE_BATCH_SIZE", "7"),
        ]
        .into_iter()
        .collect();
        c.apply_env(|k| env.get(k).map(|v| v.to_string()))
            .expect("env");
        assert_eq!(
            c.warehouse.postgres_url.as_deref(),
            Some("host=127.0.0.1 port=5999 dbname=wh")
        );
        assert!(c.warehouse.contact_fields.0.is_empty());
        assert_eq!(c.warehouse.batch_size, 7);

        // An empty URL from the environment turns the file's warehouse off.
        c.apply_env(|k| (k == "SWITCHBOARD_WAREHOUSE_URL").then(String::new))
            .expect("env");
        assert!(!c.warehouse.enabled());
    }

    #[test]
    fn contact_fields_parse_lists_and_words() {
        for (text, expected) in [
            ("all", vec!["name", "phone", "email", "address", "ship_to"]),
            ("none", vec![]),
            ("", vec![]),
            ("email, phone", vec!["phone", "email"]),
            ("ship_to", vec!["ship_to"]),
        ] {
            assert_eq!(
                ContactFields::parse(text).expect(text).names(),
                expected,
                "{text:?}"
            );
        }
        assert!(ContactFields::parse("name,birthday").is_err());
        for toml_value in ["\"none\"", "[]"] {
            let c =
                NodeConfig::from_toml_str(&format!("[warehouse]\ncontact_fields = {toml_value}"))
                    .expect("toml");
            assert!(c.warehouse.contact_fields.0.is_empty(), "{toml_value}");
        }
        assert!(NodeConfig::from_toml_str("[warehouse]\ncontact_fields = \"name\"").is_err());
        assert!(NodeConfig::from_toml_str("[warehouse]\ncontact_fields = [\"iban\"]").is_err());
    }

    #[test]
    fn bad_values_are_refused() {
        assert!(NodeConfig::from_toml_str("bogus = 1").is_err());
        let mut c = NodeConfig::default();
        assert!(c
            .apply_env(|k| (k == "SWITCHBOARD_ROLE").then(|| "boss".to_string()))
            .is_err());
        let mut c = NodeConfig::default();
        assert!(c
            .apply_env(|k| (k == "SWITCHBOARD_CACHE_MB").then(|| "lots".to_string()))
            .is_err());
        assert!(parse_call_centers("ok,bad id").is_err());
        assert!(NodeConfig::from_toml_str("[warehouse]\nbogus = 1").is_err());
        let mut c = NodeConfig::default();
        assert!(c
            .apply_env(|k| (k == "SWITCHBOARD_WAREHOUSE_BATCH_SIZE").then(|| "0".to_string()))
            .is_err());
        let mut c = NodeConfig::default();
        assert!(c
            .apply_env(|k| (k == "SWITCHBOARD_WAREHOUSE_URL")
                .then(|| "postgres://h:notaport/x".to_string()))
            .is_err());
    }
}
