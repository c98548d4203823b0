//! Admin commands against a running node, all over its HTTP API (API.md): `node`, `peers`,
//! `sync`, `users`, `orders` and `export`.

use crate::client::{enc, Client, Conn};
use anyhow::{anyhow, bail, Context as _, Result};
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use std::io::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// `switchboard node`: identity and counts.
#[derive(Args, Debug)]
pub struct NodeArgs {
    #[command(flatten)]
    conn: Conn,
    /// Print the node's JSON answer.
    #[arg(long)]
    json: bool,
}

/// `switchboard peers ...`
#[derive(Args, Debug)]
pub struct PeersArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    cmd: PeersCmd,
}

#[derive(Subcommand, Debug)]
enum PeersCmd {
    /// List the node's peers.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Add a peer (both sides add each other with the same secret).
    Add {
        /// A short name for the peer, used by `sync now --peer` and `peers remove`.
        #[arg(long)]
        name: String,
        /// The peer's base URL, e.g. http://hq.example:7070 (`--url` is the node you talk to).
        #[arg(long, value_name = "URL")]
        peer_url: String,
        /// Shared secret that authenticates the link (the same on both sides).
        #[arg(long, env = "SWITCHBOARD_PEER_SECRET", hide_env_values = true)]
        secret: String,
        /// The peer's node id, if known (checked on the first session).
        #[arg(long)]
        node_id: Option<String>,
        /// Print the node's JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// Remove a peer by name.
    Remove {
        /// The peer's name.
        name: String,
    },
}

/// `switchboard sync ...`
#[derive(Args, Debug)]
pub struct SyncArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    cmd: SyncCmd,
}

#[derive(Subcommand, Debug)]
enum SyncCmd {
    /// Run a sync session now with every peer (or one), and report what moved.
    Now {
        /// Only this peer.
        #[arg(long)]
        peer: Option<String>,
        /// Print the node's JSON answer.
        #[arg(long)]
        json: bool,
    },
    /// Show each peer's sync state: reachable, last success, last error, pending documents.
    Status {
        /// Print the node's JSON answer.
        #[arg(long)]
        json: bool,
    },
}

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

#[derive(ValueEnum, Clone, Copy, Debug)]
enum UserRole {
    Agent,
    Supervisor,
    Admin,
}

impl UserRole {
    fn as_str(self) -> &'static str {
        match self {
            UserRole::Agent => "agent",
            UserRole::Supervisor => "supervisor",
            UserRole::Admin => "admin",
        }
    }
}

/// `switchboard orders ...`
#[derive(Args, Debug)]
pub struct OrdersArgs {
    #[command(flatten)]
    conn: Conn,
    #[command(subcommand)]
    cmd: OrdersCmd,
}

#[derive(Subcommand, Debug)]
enum OrdersCmd {
    /// List orders (newest first), following pages up to --limit.
    List {
        /// Only orders of this customer.
        #[arg(long)]
        customer_id: Option<String>,
        /// Only orders in this status (open, submitted, on_hold, released, canceled).
        #[arg(long)]
        status: Option<String>,
        /// At most this many orders.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// Print JSON (`{"items":[...]}`).
        #[arg(long)]
        json: bool,
    },
    /// Show one order.
    Show {
        /// The order id.
        id: String,
        /// Print the order view as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `switchboard export`
#[derive(Args, Debug)]
pub struct ExportArgs {
    #[command(flatten)]
    conn: Conn,
    /// Output format: one order view per line (jsonl) or one row per order (csv).
    #[arg(long, value_enum, default_value_t = ExportFormat::Jsonl)]
    format: ExportFormat,
    /// The file to write (written to a temporary name, then renamed).
    #[arg(long)]
    out: PathBuf,
    /// Only orders in this status.
    #[arg(long)]
    status: Option<String>,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ExportFormat {
    Jsonl,
    Csv,
}

/// Runs `switchboard node`.
pub async fn node(args: NodeArgs) -> Result<()> {
    let c = Client::from_conn(&args.conn)?;
    let v: Value = c.get("/api/v1/node").await?;
    if args.json {
        return print_json(&v);
    }
    let docs = v.get("documents");
    outln!("node id:       {}", s(&v, "node_id"));
    outln!("name:          {}", s(&v, "name"));
    outln!("role:          {}", s(&v, "role"));
    outln!("call centers:  {}", list(v.get("call_centers")));
    outln!("version:       {}", s(&v, "version"));
    outln!(
        "documents:     {} orders, {} customers",
        docs.map(|d| s(d, "orders")).unwrap_or_default(),
        docs.map(|d| s(d, "customers")).unwrap_or_default()
    );
    Ok(())
}

/// Runs `switchboard peers ...`.
pub async fn peers(args: PeersArgs) -> Result<()> {
    let c = Client::from_conn(&args.conn)?;
    match args.cmd {
        PeersCmd::List { json } => {
            let v: Value = c.get("/api/v1/peers").await?;
            if json {
                return print_json(&v);
            }
            let rows: Vec<Vec<String>> = items(&v, "peers")
                .iter()
                .map(|p| vec![s(p, "name"), s(p, "url"), s(p, "node_id")])
                .collect();
            if rows.is_empty() {
                outln!("no peers");
            } else {
                print_table(&["PEER", "URL", "NODE ID"], &rows);
            }
        }
        PeersCmd::Add {
            name,
            peer_url: url,
            secret,
            node_id,
            json,
        } => {
            let mut body = json!({ "name": name, "url": url, "secret": secret });
            if let Some(id) = node_id {
                body["node_id"] = json!(id);
            }
            let v: Value = c.post("/api/v1/peers", &body).await?;
            if json {
                return print_json(&v);
            }
            outln!("added peer {name} at {url}");
        }
        PeersCmd::Remove { name } => {
            c.delete(&format!("/api/v1/peers/{}", enc(&name))).await?;
            outln!("removed peer {name}");
        }
    }
    Ok(())
}

/// Runs `switchboard sync ...`.
pub async fn sync(args: SyncArgs) -> Result<()> {
    let c = Client::from_conn(&args.conn)?;
    match args.cmd {
        SyncCmd::Now { peer, json } => {
            let v = sync_now(&c, peer.as_deref(), !json).await?;
            if json {
                print_json(&v)?;
            } else {
                print_sync_result(&v);
            }
            let failed: Vec<String> = items(&v, "peers")
                .iter()
                .filter(|p| p.get("ok").and_then(Value::as_bool) != Some(true))
                .map(|p| format!("{}: {}", s(p, "name"), s(p, "error")))
                .collect();
            if !failed.is_empty() {
                bail!("sync failed with {}", failed.join("; "));
            }
        }
        SyncCmd::Status { json } => {
            let v: Value = c.get("/api/v1/sync/status").await?;
            if json {
                return print_json(&v);
            }
            let rows: Vec<Vec<String>> = items(&v, "peers")
                .iter()
                .map(|p| {
                    vec![
                        s(p, "name"),
                        s(p, "url"),
                        s(p, "reachable"),
                        s(p, "last_success"),
                        s(p, "last_error"),
                        s(p, "pending_out"),
                    ]
                })
                .collect();
            if rows.is_empty() {
                outln!("no peers");
            } else {
                print_table(
                    &[
                        "PEER",
                        "URL",
                        "REACHABLE",
                        "LAST SUCCESS",
                        "LAST ERROR",
                        "PENDING",
                    ],
                    &rows,
                );
            }
        }
    }
    Ok(())
}

/// `POST /api/v1/sync[?peer=NAME]`, with a spinner on a terminal while the session runs.
pub async fn sync_now(c: &Client, peer: Option<&str>, spinner: bool) -> Result<Value> {
    let path = match peer {
        Some(p) => format!("/api/v1/sync?peer={}", enc(p)),
        None => "/api/v1/sync".to_string(),
    };
    let pb = if spinner {
        let pb = ProgressBar::new_spinner();
        pb.set_message(match peer {
            Some(p) => format!("syncing with {p}..."),
            None => "syncing with all peers...".to_string(),
        });
        pb.enable_steady_tick(Duration::from_millis(100));
        Some(pb)
    } else {
        None
    };
    let res: Result<Value> = c.post(&path, &json!({})).await;
    if let Some(pb) = pb {
        pb.finish_and_clear();
    }
    res
}

fn print_sync_result(v: &Value) {
    let rows: Vec<Vec<String>> = items(v, "peers")
        .iter()
        .map(|p| {
            vec![
                s(p, "name"),
                if p.get("ok").and_then(Value::as_bool) == Some(true) {
                    "ok".into()
                } else {
                    "FAILED".into()
                },
                s(p, "sent_docs"),
                s(p, "received_docs"),
                s(p, "bytes_out"),
                s(p, "bytes_in"),
                s(p, "error"),
            ]
        })
        .collect();
    if rows.is_empty() {
        outln!("no peers to sync with");
    } else {
        print_table(
            &[
                "PEER",
                "RESULT",
                "SENT",
                "RECEIVED",
                "BYTES OUT",
                "BYTES IN",
                "ERROR",
            ],
            &rows,
        );
    }
}

/// Runs `switchboard users ...`.
pub async fn users(args: UsersArgs) -> Result<()> {
    let c = Client::from_conn(&args.conn)?;
    match args.cmd {
        UsersCmd::Add {
            call_center,
            name,
            role,
            json,
        } => {
            let v: Value = c
                .post(
                    &format!("/api/v1/call-centers/{}/users", enc(&call_center)),
                    &json!({ "name": name, "role": role.as_str() }),
                )
                .await?;
            if json {
                return print_json(&v);
            }
            outln!("user id: {}", s(&v, "user_id"));
            outln!("token:   {}", s(&v, "token"));
            outln!("(the token is shown only once)");
        }
    }
    Ok(())
}

/// Runs `switchboard orders ...`.
pub async fn orders(args: OrdersArgs) -> Result<()> {
    let c = Client::from_conn(&args.conn)?;
    match args.cmd {
        OrdersCmd::List {
            customer_id,
            status,
            limit,
            json,
        } => {
            let mut out = Vec::new();
            let mut pages = OrderPages::new(customer_id, status);
            while out.len() < limit {
                match pages.next(&c).await? {
                    Some(page) => out.extend(page),
                    None => break,
                }
            }
            out.truncate(limit);
            if json {
                return print_json(&json!({ "items": out }));
            }
            if out.is_empty() {
                outln!("no orders");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = out
                .iter()
                .map(|o| {
                    vec![
                        s(o, "id"),
                        s(o, "status"),
                        o.get("totals")
                            .map(|t| s(t, "total"))
                            .unwrap_or_else(|| s(o, "total")),
                        s(o, "customer_id"),
                        s(o, "created_at"),
                    ]
                })
                .collect();
            print_table(&["ORDER", "STATUS", "TOTAL", "CUSTOMER", "CREATED"], &rows);
        }
        OrdersCmd::Show { id, json } => {
            let v: Value = c.get(&format!("/api/v1/orders/{}", enc(&id))).await?;
            if json {
                return print_json(&v);
            }
            print_order(&v);
        }
    }
    Ok(())
}

/// Pages through `GET /api/v1/orders` by cursor.
pub struct OrderPages {
    filter: String,
    cursor: Option<String>,
    done: bool,
}

impl OrderPages {
    /// Starts at the first page, optionally filtered.
    pub fn new(customer_id: Option<String>, status: Option<String>) -> OrderPages {
        let mut filter = String::new();
        if let Some(cid) = customer_id {
            filter.push_str(&format!("&customer_id={}", enc(&cid)));
        }
        if let Some(st) = status {
            filter.push_str(&format!("&status={}", enc(&st)));
        }
        OrderPages {
            filter,
            cursor: None,
            done: false,
        }
    }

    /// The next page of order summaries, or `None` after the last.
    pub async fn next(&mut self, c: &Client) -> Result<Option<Vec<Value>>> {
        if self.done {
            return Ok(None);
        }
        let mut path = format!("/api/v1/orders?limit=100{}", self.filter);
        if let Some(cur) = &self.cursor {
            path.push_str(&format!("&cursor={}", enc(cur)));
        }
        let v: Value = c.get(&path).await?;
        let page = items(&v, "items");
        let next = v
            .get("next_cursor")
            .and_then(Value::as_str)
            .map(str::to_string);
        // A repeated cursor would loop forever against a buggy node; stop instead.
        if next.is_none() || next == self.cursor || page.is_empty() {
            self.done = true;
        }
        self.cursor = next;
        if page.is_empty() {
            return Ok(None);
        }
        Ok(Some(page))
    }
}

/// Every order id the node holds (pages followed to the end).
pub async fn all_order_ids(c: &Client) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let mut pages = OrderPages::new(None, None);
    while let Some(page) = pages.next(c).await? {
        ids.extend(page.iter().map(|o| s(o, "id")));
    }
    Ok(ids)
}

fn print_order(v: &Value) {
    outln!("order {}  [{}]", s(v, "id"), s(v, "status"));
    outln!("  call center: {}", s(v, "call_center_id"));
    outln!("  customer:    {}", s(v, "customer_id"));
    outln!("  source code: {}", s(v, "source_code"));
    outln!("  delivery:    {}", s(v, "delivery_mode"));
    outln!(
        "  created:     {} by {}",
        s(v, "created_at"),
        s(v, "created_by")
    );
    outln!("  updated:     {}", s(v, "updated_at"));
    let lines = items(v, "lines");
    if !lines.is_empty() {
        outln!("  lines:");
        for l in &lines {
            outln!(
                "    {} x {} @ {} = {}{}",
                s(l, "quantity"),
                s(l, "product_id"),
                s(l, "unit_price"),
                s(l, "line_total"),
                if l.get("override").is_some_and(|o| !o.is_null()) {
                    " (price override)"
                } else {
                    ""
                }
            );
        }
    }
    for ch in items(v, "charges") {
        outln!("  charge {}: {}", s(&ch, "code"), s(&ch, "amount"));
    }
    for cp in items(v, "coupons") {
        outln!("  coupon {}: -{}", s(&cp, "code"), s(&cp, "discount"));
    }
    for p in items(v, "payments") {
        outln!(
            "  payment {} {} [{}]",
            s(&p, "method"),
            s(&p, "amount"),
            s(&p, "status")
        );
    }
    for h in items(v, "holds") {
        let state = match h.get("cleared") {
            Some(c) if !c.is_null() => format!("cleared by {}", s(c, "by")),
            _ => "ACTIVE".to_string(),
        };
        outln!(
            "  hold {}{}: {} [{}]",
            s(&h, "code"),
            if h.get("system").and_then(Value::as_bool) == Some(true) {
                " (system)"
            } else {
                ""
            },
            s(&h, "reason"),
            state
        );
    }
    for n in items(v, "notes") {
        outln!("  note ({}): {}", s(&n, "by"), s(&n, "text"));
    }
    if let Some(t) = v.get("totals") {
        outln!(
            "  totals: subtotal {}  discount {}  charges {}  total {}  paid {}  balance {}",
            s(t, "subtotal"),
            s(t, "discount"),
            s(t, "charges"),
            s(t, "total"),
            s(t, "paid"),
            s(t, "balance")
        );
    }
    let conflicts = items(v, "conflicts");
    if !conflicts.is_empty() {
        outln!("  conflicts:");
        for c in conflicts {
            outln!(
                "    {}: {}",
                s(&c, "path"),
                c.get("values").map(Value::to_string).unwrap_or_default()
            );
        }
    }
}

/// Runs `switchboard export`.
pub async fn export(args: ExportArgs) -> Result<()> {
    let c = Client::from_conn(&args.conn)?;
    // The node's order count sizes the progress bar; a filtered export may end earlier.
    let node: Value = c.get("/api/v1/node").await?;
    let expected = node
        .get("documents")
        .and_then(|d| d.get("orders"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let pb = ProgressBar::new(expected);
    pb.set_style(
        ProgressStyle::with_template("{spinner} exporting [{bar:30}] {pos}/{len} orders ({eta})")
            .map_err(|e| anyhow!("progress style: {e}"))?
            .progress_chars("=> "),
    );

    let dir = args
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    let mut tmp = tempfile::NamedTempFile::new_in(&dir)
        .with_context(|| format!("cannot write to {}", dir.display()))?;
    let mut w = std::io::BufWriter::new(tmp.as_file_mut());
    if args.format == ExportFormat::Csv {
        writeln!(w, "{}", CSV_HEADER.join(","))?;
    }
    let mut n: u64 = 0;
    let mut pages = OrderPages::new(None, args.status.clone());
    while let Some(page) = pages.next(&c).await? {
        for summary in page {
            let id = s(&summary, "id");
            let view: Value = c.get(&format!("/api/v1/orders/{}", enc(&id))).await?;
            match args.format {
                ExportFormat::Jsonl => writeln!(w, "{}", serde_json::to_string(&view)?)?,
                ExportFormat::Csv => writeln!(w, "{}", csv_row(&view).join(","))?,
            }
            n += 1;
            if n > pb.length().unwrap_or(0) {
                pb.set_length(n);
            }
            pb.set_position(n);
        }
    }
    w.flush()?;
    drop(w);
    tmp.as_file().sync_all()?;
    tmp.persist(&args.out)
        .map_err(|e| anyhow!("cannot write {}: {}", args.out.display(), e.error))?;
    pb.finish_and_clear();
    outln!("exported {n} orders to {}", args.out.display());
    Ok(())
}

const CSV_HEADER: [&str; 18] = [
    "id",
    "call_center_id",
    "customer_id",
    "status",
    "source_code",
    "delivery_mode",
    "lines",
    "active_holds",
    "coupons",
    "subtotal",
    "discount",
    "charges",
    "total",
    "paid",
    "balance",
    "created_at",
    "created_by",
    "updated_at",
];

fn csv_row(v: &Value) -> Vec<String> {
    let t = v.get("totals").cloned().unwrap_or(Value::Null);
    let active_holds = items(v, "holds")
        .iter()
        .filter(|h| h.get("cleared").is_none_or(Value::is_null))
        .count();
    let coupons = items(v, "coupons")
        .iter()
        .map(|c| s(c, "code"))
        .collect::<Vec<_>>()
        .join(" ");
    [
        s(v, "id"),
        s(v, "call_center_id"),
        s(v, "customer_id"),
        s(v, "status"),
        s(v, "source_code"),
        s(v, "delivery_mode"),
        items(v, "lines").len().to_string(),
        active_holds.to_string(),
        coupons,
        s(&t, "subtotal"),
        s(&t, "discount"),
        s(&t, "charges"),
        s(&t, "total"),
        s(&t, "paid"),
        s(&t, "balance"),
        s(v, "created_at"),
        s(v, "created_by"),
        s(v, "updated_at"),
    ]
    .into_iter()
    .map(|f| csv_field(&f))
    .collect()
}

/// RFC 4180 quoting: a field with a comma, quote or newline is quoted, quotes doubled.
fn csv_field(f: &str) -> String {
    if f.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", f.replace('"', "\"\""))
    } else {
        f.to_string()
    }
}

/// A field as display text: strings bare, null empty, the rest as JSON.
pub fn s(v: &Value, key: &str) -> String {
    match v.get(key) {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(x)) => x.clone(),
        Some(other) => other.to_string(),
    }
}

fn list(v: Option<&Value>) -> String {
    v.and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| x.to_string())
                })
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// The array under `key` (or under `items`, or the value itself if it is an array).
pub fn items(v: &Value, key: &str) -> Vec<Value> {
    v.get(key)
        .and_then(Value::as_array)
        .or_else(|| v.get("items").and_then(Value::as_array))
        .or_else(|| v.as_array())
        .cloned()
        .unwrap_or_default()
}

fn print_json(v: &Value) -> Result<()> {
    outln!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Prints rows under headers, columns padded to their widest cell.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    outln!("{}", render_table(headers, rows).trim_end_matches('\n'));
}

fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, cell) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(cell.chars().count());
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let mut out = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                out.push_str(c);
            } else {
                let w = widths.get(i).copied().unwrap_or(0);
                out.push_str(&format!("{c:<w$}  "));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(headers.to_vec());
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Peers {
        #[command(flatten)]
        args: PeersArgs,
    }

    #[test]
    fn peer_url_and_node_url_stay_apart() {
        let p = Peers::try_parse_from([
            "peers",
            "add",
            "--name",
            "hq",
            "--peer-url",
            "http://peer:1",
            "--secret",
            "s",
            "--url",
            "http://node:2",
        ])
        .expect("parse");
        assert_eq!(p.args.conn.url, "http://node:2");
        match p.args.cmd {
            PeersCmd::Add { peer_url, .. } => assert_eq!(peer_url, "http://peer:1"),
            other => panic!("parsed {other:?}"),
        }
    }

    #[test]
    fn table_pads_columns() {
        let t = render_table(
            &["PEER", "OK"],
            &[
                vec!["hq".into(), "yes".into()],
                vec!["north-site".into(), "no".into()],
            ],
        );
        assert_eq!(t, "PEER        OK\nhq          yes\nnorth-site  no\n");
    }

    #[test]
    fn csv_quotes_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn csv_row_matches_header() {
        let v = json!({"id":"o1","status":"open","totals":{"total":"10.00"},
            "holds":[{"cleared":null},{"cleared":{"by":"u"}}],"lines":[{},{}]});
        let row = csv_row(&v);
        assert_eq!(row.len(), CSV_HEADER.len());
        assert_eq!(row[6], "2");
        assert_eq!(row[7], "1");
        assert_eq!(row[12], "10.00");
    }
}
