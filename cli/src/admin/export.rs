//! `switchboard export`: every order's full view into one file, as JSON lines or CSV, written
//! to a temporary name and renamed so a reader never sees half a file.

use super::orders::{order, OrderPages};
use crate::client::{Client, Conn};
use crate::output::{self, opt};
use anyhow::{anyhow, Context as _, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::Write as _;
use std::path::PathBuf;
use switchboard_node::views::{NodeView, OrderView};

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

/// Runs `switchboard export`.
pub async fn run(args: ExportArgs) -> Result<()> {
    let c = Client::from_conn(&args.conn)?;
    // The node's order count sizes the progress bar; a filtered export may end earlier.
    let node: NodeView = c.get("/api/v1/node").await?;
    let pb = ProgressBar::new(node.documents.orders);
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
            let view = order(&c, summary.id).await?;
            match args.format {
                ExportFormat::Jsonl => writeln!(w, "{}", output::json_line(&view)?)?,
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

fn csv_row(v: &OrderView) -> Vec<String> {
    let t = &v.totals;
    let active_holds = v.holds.iter().filter(|h| h.cleared.is_none()).count();
    let coupons = v
        .coupons
        .iter()
        .map(|c| c.code.to_string())
        .collect::<Vec<_>>()
        .join(" ");
    [
        v.id.to_string(),
        v.call_center_id.to_string(),
        v.customer_id.to_string(),
        v.status.as_str().to_string(),
        opt(&v.source_code),
        opt(&v.delivery_mode),
        v.lines.len().to_string(),
        active_holds.to_string(),
        coupons,
        t.subtotal.to_string(),
        t.discount.to_string(),
        t.charges.to_string(),
        t.total.to_string(),
        t.paid.to_string(),
        t.balance.to_string(),
        v.created_at.to_string(),
        v.created_by.to_string(),
        v.updated_at.to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::admin::orders::sample_order;

    #[test]
    fn csv_quotes_when_needed() {
        assert_eq!(csv_field("plain"), "plain");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn csv_row_matches_header() {
        let row = csv_row(&sample_order());
        assert_eq!(row.len(), CSV_HEADER.len());
        assert_eq!(
            row,
            [
                "00000000-0000-7000-8000-000000000001",
                "east",
                "00000000-0000-4000-8000-000000000002",
                "on_hold",
                "",
                "std",
                "2",
                "1",
                "WELCOME10",
                "30.00",
                "10.00",
                "4.95",
                "24.95",
                "19.95",
                "5.00",
                "2026-12-01T09:59:00.000Z",
                "00000000-0000-4000-8000-000000000003",
                "2026-12-01T10:03:00.000Z",
            ]
        );
    }

    #[test]
    fn jsonl_record_is_the_view_on_one_line() {
        let line = output::json_line(&sample_order()).expect("json");
        assert!(!line.contains('\n'));
        let back: serde_json::Value = serde_json::from_str(&line).expect("parses");
        assert_eq!(back["totals"]["balance"], "5.00");
        assert_eq!(back["lines"][1]["override"]["reason_code"], "match");
    }
}
