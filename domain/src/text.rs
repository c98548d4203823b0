//! Free text: the one set of rules every name, note, reason, address, reference and script obeys,
//! whoever writes it (an agent's command, an admin's configuration).
//!
//! - Text is stored in Unicode normalisation form C ([`Rule::apply`] normalises; two spellings of
//!   "é" are the same name).
//! - No control characters (U+0000–U+001F, U+007F–U+009F, U+2028, U+2029), so nothing stored can
//!   drive a terminal (ESC `[31m`) or hide in a log line. Multi-line text (notes and scripts) may
//!   hold line feeds `\n`; a `\r\n` or lone `\r` in it becomes `\n`. Tabs are refused everywhere.
//! - No bidirectional formatting characters (U+061C, U+200E, U+200F, U+202A–U+202E,
//!   U+2066–U+2069), which make text display in another order than it is stored.
//! - No invisible characters: U+00AD, U+180E, U+200B, U+2060–U+2064, U+FEFF and the tag
//!   characters U+E0000–U+E007F; the joiners U+200C and U+200D only between two characters
//!   that are neither ASCII nor white space (inside a word of a script that needs them, or an
//!   emoji sequence), never next to a Latin letter, where they only hide a difference.
//! - Lengths count Unicode scalar values (`char`s) of the normalised text.
//!
//! An error says the rule once ("must not contain control characters (found U+001B)"); the
//! caller names the field. Messages never echo the text itself, which may be what is refused.

use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// Why a text was refused. It says the rule; the caller names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TextError(pub String);

/// The rule of one text field: how long, whether it may be blank, whether it may span lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Most characters allowed.
    pub max_chars: usize,
    /// Whether blank (empty or white space only) is refused.
    pub required: bool,
    /// Whether line feeds are allowed.
    pub multiline: bool,
}

/// A display name: one line, 1 to 200 characters.
pub const NAME: Rule = Rule::line(200).required();
/// A note: 1 to 4,000 characters, line feeds allowed.
pub const NOTE: Rule = Rule::lines(4000).required();
/// A reason (holds, cancels): one line of at most 1,000 characters.
pub const REASON: Rule = Rule::line(1000);
/// A payment reference: one line of at most 200 characters.
pub const REFERENCE: Rule = Rule::line(200);
/// A script shown to agents: at most 4,000 characters, line feeds allowed.
pub const SCRIPT: Rule = Rule::lines(4000);
/// A URL (product images): one line of at most 2,000 characters.
pub const URL: Rule = Rule::line(2000);
/// A key of an address or of financial dimensions: one line, 1 to 64 characters.
pub const KEY: Rule = Rule::line(64).required();
/// A value of an address or of financial dimensions: one line of at most 500 characters.
pub const VALUE: Rule = Rule::line(500);
/// Most entries an address (or the financial dimensions) may have.
pub const MAX_ENTRIES: usize = 20;

impl Rule {
    /// One line of at most `max_chars` characters, blank allowed.
    pub const fn line(max_chars: usize) -> Rule {
        Rule {
            max_chars,
            required: false,
            multiline: false,
        }
    }

    /// At most `max_chars` characters, line feeds allowed, blank allowed.
    pub const fn lines(max_chars: usize) -> Rule {
        Rule {
            max_chars,
            required: false,
            multiline: true,
        }
    }

    /// The same rule, refusing blank text.
    pub const fn required(self) -> Rule {
        Rule {
            required: true,
            ..self
        }
    }

    /// Normalises `text` (NFC; in multi-line text `\r\n` and `\r` become `\n`) and checks it:
    /// what a constructor stores.
    pub fn apply(self, text: String) -> Result<String, TextError> {
        let text = normalize(text, self.multiline);
        self.check(&text)?;
        Ok(text)
    }

    /// Checks `text` as it would be stored (its NFC form), without changing it: what a
    /// validator of an already built value uses.
    pub fn check(self, text: &str) -> Result<(), TextError> {
        if self.required && text.trim().is_empty() {
            return Err(TextError("must not be empty".into()));
        }
        check_chars(text, self.multiline)?;
        let len = if unicode_normalization::is_nfc_quick(text.chars())
            == unicode_normalization::IsNormalized::Yes
        {
            text.chars().count()
        } else {
            text.nfc().count()
        };
        if len > self.max_chars {
            return Err(TextError(format!(
                "must be at most {} characters",
                self.max_chars
            )));
        }
        Ok(())
    }
}

/// NFC, and in multi-line text line feeds only.
pub fn normalize(text: String, multiline: bool) -> String {
    let text = if multiline && text.contains('\r') {
        text.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        text
    };
    if unicode_normalization::is_nfc_quick(text.chars()) == unicode_normalization::IsNormalized::Yes
    {
        text
    } else {
        text.nfc().collect()
    }
}

/// Checks every key and value of an address (or any string map of the same shape): at most
/// [`MAX_ENTRIES`] entries, keys by [`KEY`], values by [`VALUE`]; normalises both.
pub fn apply_map<I>(entries: I) -> Result<std::collections::BTreeMap<String, String>, TextError>
where
    I: IntoIterator<Item = (String, String)>,
{
    let mut out = std::collections::BTreeMap::new();
    for (k, v) in entries {
        let k = KEY
            .apply(k)
            .map_err(|e| TextError(format!("a key {}", e.0)))?;
        let v = VALUE
            .apply(v)
            .map_err(|e| TextError(format!("a value {}", e.0)))?;
        out.insert(k, v);
        if out.len() > MAX_ENTRIES {
            return Err(too_many_entries());
        }
    }
    Ok(out)
}

/// [`apply_map`] without changing anything: for validators of built values.
pub fn check_map<'a, I>(entries: I) -> Result<(), TextError>
where
    I: IntoIterator<Item = (&'a String, &'a String)>,
{
    let mut n = 0;
    for (k, v) in entries {
        KEY.check(k)
            .map_err(|e| TextError(format!("a key {}", e.0)))?;
        VALUE
            .check(v)
            .map_err(|e| TextError(format!("a value {}", e.0)))?;
        n += 1;
        if n > MAX_ENTRIES {
            return Err(too_many_entries());
        }
    }
    Ok(())
}

fn too_many_entries() -> TextError {
    TextError(format!("must have at most {MAX_ENTRIES} entries"))
}

/// A code point as `U+XXXX`.
struct CodePoint(char);

impl fmt::Display for CodePoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "U+{:04X}", self.0 as u32)
    }
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{180E}'
            | '\u{200B}'
            | '\u{2060}'..='\u{2064}'
            | '\u{FEFF}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

fn is_joiner(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}')
}

/// A neighbour that lets a joiner stand: not ASCII, not white space, not itself a joiner.
fn joins(c: Option<char>) -> bool {
    c.is_some_and(|c| !c.is_ascii() && !c.is_whitespace() && !is_joiner(c))
}

fn check_chars(text: &str, multiline: bool) -> Result<(), TextError> {
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let line_break = matches!(c, '\n' | '\r' | '\u{0085}' | '\u{2028}' | '\u{2029}');
        if line_break && !multiline {
            return Err(TextError("must be a single line".into()));
        }
        if c == '\n' {
            continue;
        }
        if c.is_control() || line_break {
            return Err(TextError(format!(
                "must not contain control characters (found {})",
                CodePoint(c)
            )));
        }
        if is_bidi_control(c) {
            return Err(TextError(format!(
                "must not contain bidirectional formatting characters (found {})",
                CodePoint(c)
            )));
        }
        let before = i.checked_sub(1).map(|j| chars[j]);
        let after = chars.get(i + 1).copied();
        if is_invisible(c) || (is_joiner(c) && !(joins(before) && joins(after))) {
            return Err(TextError(format!(
                "must not contain invisible characters (found {})",
                CodePoint(c)
            )));
        }
    }
    Ok(())
}
