//! The schema migrations the repository owns (`warehouse/migrations/*.sql`, embedded in the
//! binary), applied in order, each in the one transaction that records it in
//! `schema_migrations`, under an advisory lock so that nodes migrating at once take turns.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use tokio_postgres::Client;

/// One migration.
pub(crate) struct Migration {
    pub(crate) version: i32,
    pub(crate) name: &'static str,
    pub(crate) sql: &'static str,
}

/// Every migration, in order. Never edit one that was released: add the next.
pub(crate) const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "schema",
        sql: include_str!("../migrations/0001_schema.sql"),
    },
    Migration {
        version: 2,
        name: "views",
        sql: include_str!("../migrations/0002_views.sql"),
    },
    Migration {
        version: 3,
        name: "document children without foreign keys",
        sql: include_str!("../migrations/0003_document_children_without_foreign_keys.sql"),
    },
];

/// The key of the advisory lock held while migrating (`pg_advisory_xact_lock(bigint)`).
const MIGRATION_LOCK: i64 = 0x5357_4242_5748_0001;

/// The last migration this build carries.
pub(crate) fn latest() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

fn checksum(sql: &str) -> String {
    hex::encode(Sha256::digest(sql.as_bytes()))
}

/// Brings the database to the latest schema; returns the version it is at. Safe to run again
/// and from several processes at once.
pub(crate) async fn migrate(client: &mut Client) -> Result<i32> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    integer PRIMARY KEY,
             name       text NOT NULL,
             checksum   text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let applied = tx
        .query(
            "SELECT version, name, checksum FROM schema_migrations ORDER BY version",
            &[],
        )
        .await?;
    let mut done = 0;
    for row in &applied {
        let (version, name, sum): (i32, String, String) = (row.get(0), row.get(1), row.get(2));
        let Some(m) = MIGRATIONS.iter().find(|m| m.version == version) else {
            return Err(Error::SchemaTooNew {
                found: version,
                known: latest(),
            });
        };
        if m.name != name || checksum(m.sql) != sum {
            return Err(Error::MigrationChanged { version, name });
        }
        done = done.max(version);
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > done) {
        tx.batch_execute(m.sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
            &[&m.version, &m.name, &checksum(m.sql)],
        )
        .await?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "warehouse migration applied"
        );
    }
    tx.commit().await?;
    Ok(latest())
}
