//! How the admin commands print what a node answered: as JSON for scripts (`--json`), or as
//! lines and padded tables for a person. Every command goes through these helpers, so the two
//! forms look the same everywhere and a closed pipe is handled once (by `outln!`).
//!
//! Text taken from the node (names, reasons, notes, problem details) never reaches the terminal
//! with control characters in it: [`clean`] shows them as visible escapes (`\u{1b}`) in human
//! output and table cells, [`terminal_safe`] does the same for every line the CLI prints (keeping
//! its own line breaks), and JSON output spells them as `\uXXXX` escapes, so an ESC `[31m` or a
//! right-to-left override stored in a name can neither drive the terminal nor reorder a line.

use anyhow::Result;
use serde::Serialize;
use std::borrow::Cow;
use std::fmt::Display;

/// Whether `c` could drive a terminal or change how a line reads: control characters (C0, DEL,
/// C1), line and paragraph separators, bidirectional formatting and invisible characters.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{E0000}'..='\u{E007F}')
}

/// `s` with every [`is_unsafe`] character (line breaks included) shown as `\u{…}`: for text from
/// the node in human output.
pub fn clean(s: &str) -> Cow<'_, str> {
    escape(s, |_| false)
}

/// A line about to be printed, with every [`is_unsafe`] character but line feeds shown as
/// `\u{…}`: the last guard of everything printed for a person.
pub fn terminal_safe(s: &str) -> Cow<'_, str> {
    escape(s, |c| c == '\n')
}

fn escape(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| is_unsafe(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) && !keep(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// JSON text with every [`is_unsafe`] character spelled as a `\uXXXX` escape: the same JSON
/// value, safe to print. serde_json escapes line feeds inside strings itself, so a raw line feed
/// is the pretty printer's and stays; any other such character can only be inside a string.
fn json_safe(json: String) -> String {
    let escaped = |c: char| is_unsafe(c) && c != '\n';
    if !json.chars().any(escaped) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if escaped(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

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
    outln!(
        "{}",
        json_safe(serde_json::to_string_pretty(&sorted(value)?)?)
    );
    Ok(())
}

/// `value` as one line of compact JSON (an export record).
pub fn json_line<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    Ok(json_safe(serde_json::to_string(&sorted(value)?)?))
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

/// Prints rows under headers, columns padded to their widest cell; cells are [`clean`]ed.
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
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| clean(c).into_owned()).collect())
        .collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
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
    for r in &rows {
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
    fn control_characters_from_data_are_never_printed() {
        let hostile = "Eve\u{1b}[31mRED\u{7}\u{9b}2J\u{202e}gnp.exe\u{200b}\nnext";
        let c = clean(hostile);
        assert!(!c.chars().any(is_unsafe), "{c}");
        assert_eq!(
            c,
            "Eve\\u{1b}[31mRED\\u{7}\\u{9b}2J\\u{202e}gnp.exe\\u{200b}\\u{a}next"
        );
        let line = terminal_safe("first\nsecond\u{1b}[2J");
        assert_eq!(line, "first\nsecond\\u{1b}[2J");
        assert_eq!(clean("Zoë Ünal, 東京"), "Zoë Ünal, 東京");
        let t = render_table(&["NAME"], &[vec![hostile.to_string()]]);
        assert_eq!(t.lines().count(), 2, "{t:?}");
        assert!(t.lines().all(|l| !l.chars().any(is_unsafe)), "{t:?}");
        #[derive(Serialize)]
        struct Named {
            name: String,
        }
        let json = json_line(&Named {
            name: format!("{hostile} \u{e0041}"),
        })
        .expect("json");
        assert!(!json.chars().any(is_unsafe), "{json}");
        let back: serde_json::Value = serde_json::from_str(&json).expect("still JSON");
        assert_eq!(back["name"], format!("{hostile} \u{e0041}"));
        // Pretty JSON keeps its line breaks and stays JSON.
        let pretty = json_safe(
            serde_json::to_string_pretty(&serde_json::json!({"name": hostile, "n": 1}))
                .expect("json"),
        );
        assert!(pretty.lines().count() > 1, "{pretty}");
        assert!(
            pretty.lines().all(|l| !l.chars().any(is_unsafe)),
            "{pretty}"
        );
        let back: serde_json::Value = serde_json::from_str(&pretty).expect("still JSON");
        assert_eq!(back["name"], hostile);
    }

    #[test]
    fn absent_fields_print_empty() {
        assert_eq!(opt::<u32>(&None), "");
        assert_eq!(opt(&Some(7)), "7");
    }
}
