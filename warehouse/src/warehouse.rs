//! [`Warehouse`]: the connection pool, and the operations a node's feed follower and the admin
//! commands call.

use crate::copy::{self, OrderRows};
use crate::error::{Error, Result};
use crate::migrate;
use crate::model::{
    Applied, DocOutcome, DocUpdate, DocValue, NodePosition, Options, Position, Status,
};
use crate::rows::{self, Rows};
use deadpool_postgres::GenericClient;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use std::collections::BTreeMap;
use switchboard_domain::NodeId;
use switchboard_sync::doc::{call_center_doc_id, DocKind};
use tokio_postgres::types::Json;
use tokio_postgres::NoTls;
use uuid::Uuid;

/// The class of the advisory locks (`pg_advisory_xact_lock(int, int)`) that serialize the batches
/// of one node: the second key is a hash of the node id.
const NODE_LOCK_CLASS: i32 = 0x5357_4248;

/// A PostgreSQL warehouse: a connection pool on a migrated database. Cheap to clone (the pool is
/// shared).
#[derive(Clone)]
pub struct Warehouse {
    pool: Pool,
    target: String,
    options: Options,
}

impl std::fmt::Debug for Warehouse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Warehouse")
            .field("target", &self.target)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Where a PostgreSQL URL points, for status and messages: hosts, ports and database, never the
/// password (`None` if it does not parse).
pub fn describe_target(url: &str) -> Option<String> {
    url.parse::<tokio_postgres::Config>()
        .ok()
        .map(|cfg| describe(&cfg))
}

/// An error and its causes, `outer: inner: …` ("error connecting to server: Connection refused"),
/// so that a failure names its real reason.
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// Where a configuration points, for messages: hosts, ports and database, never the password.
fn describe(cfg: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = cfg
        .get_hosts()
        .iter()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(h) => h.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = cfg.get_ports().iter().map(u16::to_string).collect();
    format!(
        "{}:{}/{}",
        hosts.join(","),
        if ports.is_empty() {
            "5432".to_string()
        } else {
            ports.join(",")
        },
        cfg.get_dbname().unwrap_or("")
    )
}

fn pos_from(epoch: Uuid, seq: i64) -> Position {
    Position {
        epoch,
        seq: u64::try_from(seq).unwrap_or(0),
    }
}

impl Warehouse {
    /// Connects to `url` (`postgres://user:password@host:port/database` or the key=value form),
    /// builds the pool and brings the schema to the latest migration. Fails if the server cannot
    /// be reached within `options.connect_timeout`.
    pub async fn connect(url: &str, options: Options) -> Result<Warehouse> {
        let mut cfg: tokio_postgres::Config = url
            .parse()
            .map_err(|e: tokio_postgres::Error| Error::Url(e.to_string()))?;
        cfg.connect_timeout(options.connect_timeout);
        if cfg.get_application_name().is_none() {
            cfg.application_name("switchboard-warehouse");
        }
        let target = describe(&cfg);
        let manager = Manager::from_config(
            cfg,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.connect_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|e| Error::Connect {
                target: target.clone(),
                reason: e.to_string(),
            })?;
        let wh = Warehouse {
            pool,
            target,
            options,
        };
        let mut client = wh.client().await?;
        migrate::migrate(&mut client).await?;
        Ok(wh)
    }

    /// The options the warehouse was opened with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Host, port and database (no password), for logs.
    pub fn target(&self) -> &str {
        &self.target
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| Error::Connect {
            target: self.target.clone(),
            reason: match e {
                deadpool_postgres::PoolError::Backend(e) => with_sources(&e),
                other => with_sources(&other),
            },
        })
    }

    /// The position stored for a node: how far its change feed is in the warehouse. `None`: the
    /// node never fed this warehouse (or it was reset), start from the beginning of the feed.
    pub async fn position(&self, node: NodeId) -> Result<Option<Position>> {
        let client = self.client().await?;
        read_position(&client, node).await
    }

    /// Applies one batch of a node's change feed, in one transaction: the documents changed in
    /// the feed after `after` up to `to`, then the node's position `to`.
    ///
    /// `after` must be the position stored for the node (what [`Warehouse::position`] returned,
    /// or the `to` of the last batch that succeeded), else nothing is written and
    /// [`Error::PositionMoved`] tells the caller to read the position again. `to` may start a
    /// new feed epoch; within one epoch it may not go backwards.
    ///
    /// Per document (one per id; the last wins if an id repeats), the version the warehouse holds
    /// is locked and compared: no version yet, or heads that this version contains, and the
    /// document's rows are replaced as a whole by this version's ([`DocOutcome::Replaced`]); the
    /// same heads and nothing is written ([`DocOutcome::Unchanged`]); heads this version does not
    /// contain (it is older than the stored one, or concurrent with it) and nothing is written
    /// ([`DocOutcome::Stale`]): whoever wrote the stored version, or a later merge, brings the
    /// next one. Several nodes may feed one warehouse at once.
    pub async fn apply_batch(
        &self,
        node: NodeId,
        after: Option<Position>,
        to: Position,
        docs: Vec<DocUpdate>,
    ) -> Result<Applied> {
        if let Some(from) = after {
            if from.epoch == to.epoch && to.seq < from.seq {
                return Err(Error::PositionBackwards { node, from, to });
            }
        }
        let seq = i64::try_from(to.seq).map_err(|_| Error::SeqOutOfRange { node, to })?;
        let mut by_id: BTreeMap<Uuid, DocUpdate> = BTreeMap::new();
        for d in docs {
            check_id(&d)?;
            by_id.insert(d.doc_id, d);
        }
        let ids: Vec<Uuid> = by_id.keys().copied().collect();
        let kinds: Vec<&'static str> = by_id.values().map(|d| d.value.kind().as_str()).collect();

        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            &[&NODE_LOCK_CLASS, &node.to_string()],
        )
        .await?;
        let stored_pos = read_position(&tx, node).await?;
        if stored_pos != after {
            return Err(Error::PositionMoved {
                node,
                expected: after,
                stored: stored_pos,
            });
        }

        // Lock every document's version row, in id order (so batches of several nodes never
        // wait on each other in a cycle); a document new to the warehouse gets an empty version.
        let insert = tx
            .prepare_cached(
                "INSERT INTO documents (doc_id, kind, heads)
                 SELECT d, k, '{}' FROM unnest($1::uuid[], $2::text[]) AS u(d, k) ORDER BY d
                 ON CONFLICT (doc_id) DO NOTHING",
            )
            .await?;
        tx.execute(&insert, &[&ids, &kinds]).await?;
        let select = tx
            .prepare_cached(
                "SELECT doc_id, kind, heads FROM documents WHERE doc_id = ANY($1)
                 ORDER BY doc_id FOR UPDATE",
            )
            .await?;
        let mut stored: BTreeMap<Uuid, (String, Vec<String>)> = tx
            .query(&select, &[&ids])
            .await?
            .into_iter()
            .map(|r| (r.get(0), (r.get(1), r.get(2))))
            .collect();

        let mut outcomes = Vec::with_capacity(by_id.len());
        let mut replace: Vec<(Uuid, Vec<String>, DocValue)> = Vec::new();
        for (id, d) in by_id {
            let DocUpdate {
                heads,
                value,
                contains,
                ..
            } = d;
            let (kind, held) = stored.remove(&id).unwrap_or_default();
            if kind != value.kind().as_str() {
                return Err(Error::Mismatch {
                    doc: id,
                    reason: format!("stored as a {kind}, the batch has a {}", value.kind()),
                });
            }
            let outcome = if held.is_empty() {
                DocOutcome::Replaced
            } else if same_heads(&held, &heads) {
                DocOutcome::Unchanged
            } else if contains(&held) {
                DocOutcome::Replaced
            } else {
                DocOutcome::Stale
            };
            if outcome == DocOutcome::Stale {
                tracing::debug!(doc = %id, %node, "warehouse holds a version this one does not contain; skipped");
            }
            if outcome == DocOutcome::Replaced {
                replace.push((id, heads, value));
            }
            outcomes.push((id, outcome));
        }

        // Replace the rows of every replaced document: delete them (one statement per table),
        // then insert each table's rows in one statement, parents first (an order's tables by
        // binary COPY).
        for kind in [
            DocKind::CallCenter,
            DocKind::Catalog,
            DocKind::Customer,
            DocKind::Order,
        ] {
            let of_kind: Vec<Uuid> = replace
                .iter()
                .filter(|(_, _, v)| v.kind() == kind)
                .map(|(id, _, _)| *id)
                .collect();
            if !of_kind.is_empty() {
                for sql in rows::delete_sql(kind) {
                    let del = tx.prepare_cached(sql).await?;
                    tx.execute(&del, &[&of_kind]).await?;
                }
            }
        }
        let mut rows = Rows::default();
        let mut orders = OrderRows::default();
        for (id, _, value) in &replace {
            match value {
                DocValue::Order(o) => orders.add(o, &self.options),
                other => rows.add(*id, other, &self.options),
            }
        }
        for (table, cols, list) in rows.in_order() {
            let cols = cols.join(", ");
            let sql = format!(
                "INSERT INTO {table} ({cols}) SELECT {cols} \
                 FROM jsonb_populate_recordset(NULL::{table}, $1::jsonb)"
            );
            let stmt = tx.prepare_cached(&sql).await?;
            // The rows are serialized straight from where they are, not copied into one value.
            tx.execute(&stmt, &[&Json(list)]).await?;
        }
        // Orders' rows (nearly all of them) by one binary COPY per table.
        if !orders.is_empty() {
            for (table, list) in orders.tables() {
                copy::copy_rows(&tx, table, list).await?;
            }
        }
        if !replace.is_empty() {
            let versions: Vec<serde_json::Value> = replace
                .iter()
                .map(|(id, heads, _)| serde_json::json!({ "doc_id": id, "heads": heads }))
                .collect();
            let update = tx
                .prepare_cached(
                    "UPDATE documents d SET heads = u.heads, written_by = $2, updated_at = now()
                     FROM jsonb_populate_recordset(NULL::documents, $1::jsonb) u
                     WHERE d.doc_id = u.doc_id",
                )
                .await?;
            tx.execute(&update, &[&serde_json::Value::Array(versions), &node.0])
                .await?;
        }

        let upsert = tx
            .prepare_cached(
                "INSERT INTO feed_positions (node_id, feed_epoch, seq, updated_at)
                 VALUES ($1, $2, $3, now())
                 ON CONFLICT (node_id) DO UPDATE
                 SET feed_epoch = EXCLUDED.feed_epoch, seq = EXCLUDED.seq, updated_at = now()",
            )
            .await?;
        tx.execute(&upsert, &[&node.0, &to.epoch, &seq]).await?;
        tx.commit().await?;
        Ok(Applied {
            position: to,
            outcomes,
        })
    }

    /// What the warehouse holds: schema version, every node's position, documents by kind and
    /// rows per table.
    pub async fn status(&self) -> Result<Status> {
        let client = self.client().await?;
        let version: i32 = client
            .query_one(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                &[],
            )
            .await?
            .get(0);
        let positions = client
            .query(
                "SELECT node_id, feed_epoch, seq, updated_at FROM feed_positions ORDER BY node_id",
                &[],
            )
            .await?
            .into_iter()
            .map(|r| NodePosition {
                node: NodeId(r.get(0)),
                position: pos_from(r.get(1), r.get(2)),
                updated_at: r.get(3),
            })
            .collect();
        let documents = client
            .query(
                "SELECT kind, count(*) FROM documents GROUP BY kind ORDER BY kind",
                &[],
            )
            .await?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let counts = rows::TABLES
            .iter()
            .map(|t| format!("SELECT '{t}', count(*) FROM {t}"))
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let by_table: BTreeMap<String, i64> = client
            .query(&counts, &[])
            .await?
            .into_iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        let rows = rows::TABLES
            .iter()
            .map(|t| (*t, by_table.get(*t).copied().unwrap_or(0)))
            .collect();
        Ok(Status {
            schema_version: version,
            positions,
            documents,
            rows,
        })
    }

    /// Empties the warehouse for a rebuild, in one transaction: every document row, every
    /// document version and every node's position (the rows those positions covered are gone).
    /// Each node's follower then gets [`Error::PositionMoved`] on its next batch, reads its
    /// position (none) and feeds from the start of its feed. Waits for batches in flight.
    pub async fn reset(&self) -> Result<()> {
        let mut client = self.client().await?;
        let tx = client.transaction().await?;
        let tables = rows::TABLES.join(", ");
        tx.batch_execute(&format!("TRUNCATE documents, feed_positions, {tables}"))
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn read_position(c: &impl GenericClient, node: NodeId) -> Result<Option<Position>> {
    Ok(c.query_opt(
        "SELECT feed_epoch, seq FROM feed_positions WHERE node_id = $1",
        &[&node.0],
    )
    .await?
    .map(|r| pos_from(r.get(0), r.get(1))))
}

fn same_heads(a: &[String], b: &[String]) -> bool {
    let mut a: Vec<&str> = a.iter().map(String::as_str).collect();
    let mut b: Vec<&str> = b.iter().map(String::as_str).collect();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}

/// A value must belong to the document it is given for: an order's or customer's id is its
/// document id, a call center's configuration lives in `call_center_doc_id`.
fn check_id(d: &DocUpdate) -> Result<()> {
    let expected = match &d.value {
        DocValue::Order(o) => Some(o.order.id.0),
        DocValue::Customer(c) => Some(c.id.0),
        DocValue::CallCenter(s) => Some(call_center_doc_id(&s.config.id)),
        DocValue::Catalog(_) => None,
    };
    match expected {
        Some(e) if e != d.doc_id => Err(Error::Mismatch {
            doc: d.doc_id,
            reason: format!("the {} in it has document id {e}", d.value.kind()),
        }),
        _ => Ok(()),
    }
}
