//! How the admin commands print what a node answered: as JSON for scripts (`--json`), or as
//! lines and padded tables for a person. Every command goes through these helpers, so the two
//! forms look the same everywhere and a closed pipe is handled once (by `outln!`).
//!
//! Text taken from the node (names, reasons, notes) is printed as the node sent it.

use anyhow::Result;
use serde::Serialize;
use std::fmt::Display;

/// Prints `value` as pretty JSON when `json` is set, and otherwise hands it to `human`.
pub fn print<T: Serialize>(json: bool, value: &T, human: impl FnOnce(&T)) -> Result<()> {
    if json {
        print_json(value)
    } else {
        human(value);
        Ok(())
    }
}

/// Prints `value` as pretty JSON.
pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    outln!("{}", serde_json::to_string_pretty(&sorted(value)?)?);
    Ok(())
}

/// `value` as one line of compact JSON (an export record).
pub fn json_line<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    Ok(serde_json::to_string(&sorted(value)?)?)
}

/// The JSON tree of `value`, whose objects list their keys in sorted order: the CLI has always
/// printed the node's answers that way, and scripts may compare its output as text.
fn sorted<T: Serialize + ?Sized>(value: &T) -> Result<serde_json::Value> {
    Ok(serde_json::to_value(value)?)
}

/// An optional field as text: empty when absent.
pub fn opt<T: Display>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

/// Prints rows under headers, columns padded to their widest cell.
pub fn print_table(headers: &[&str], rows: &[Vec<String>]) {
    outln!("{}", render_table(headers, rows).trim_end_matches('\n'));
}

/// Prints rows under headers, or `empty` when there are no rows.
pub fn print_table_or(empty: &str, headers: &[&str], rows: &[Vec<String>]) {
    if rows.is_empty() {
        outln!("{empty}");
    } else {
        print_table(headers, rows);
    }
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
    fn json_keys_come_out_sorted() {
        #[derive(Serialize)]
        struct Answer {
            zeta: u32,
            alpha: Option<String>,
        }
        let line = json_line(&Answer {
            zeta: 1,
            alpha: None,
        })
        .expect("json");
        assert_eq!(line, r#"{"alpha":null,"zeta":1}"#);
    }

    #[test]
    fn absent_fields_print_empty() {
        assert_eq!(opt::<u32>(&None), "");
        assert_eq!(opt(&Some(7)), "7");
    }
}
