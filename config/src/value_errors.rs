//! Every value of the wrong type in one run: serde stops at the first, so each is named, its
//! key blanked out of the text (spaces, so every other span stays where it was) and the file
//! read again, up to [`MAX_ROUNDS`] times.

use toml::de::{DeTable, DeValue};

use crate::error::Problem;
use crate::schema::RawConfig;
use crate::validate::toml_key;

/// Values of the wrong type reported at most per run (then the rest next run).
const MAX_ROUNDS: usize = 32;

/// A value that does not fit: the problem, and the path to take out of the table.
pub(crate) struct BadValue {
    /// The key's path, one segment per table (array indexes as `[i]` segments).
    pub path: Vec<String>,
    /// What to tell the user.
    pub problem: Problem,
    /// Where its key starts in the text (for file order).
    at: usize,
}

/// Every value of `text` that does not deserialize, in file order.
pub(crate) fn bad_values(text: &str) -> Vec<BadValue> {
    let mut text = text.to_owned();
    let mut out = Vec::new();
    for _ in 0..MAX_ROUNDS {
        let Err(error) = toml::from_str::<RawConfig>(&text) else {
            break;
        };
        let Some(span) = error.span() else { break };
        let Ok(table) = DeTable::parse(&text) else {
            break;
        };
        let Some(found) = key_at(table.get_ref(), span.start, &mut Vec::new()) else {
            break;
        };
        // Blanking did not take the error away: the rest is left to the parse error.
        if out.iter().any(|bad: &BadValue| bad.path == found.path) {
            break;
        }
        let line = text[..found.key_start.min(text.len())]
            .matches('\n')
            .count()
            + 1;
        let message = error.message().trim_end().to_owned();
        blank(&mut text, found.key_start, found.value_end);
        // Unknown keys are named (with a did-you-mean) by [`crate::known_keys`].
        if message.starts_with("unknown field") {
            continue;
        }
        out.push(BadValue {
            problem: Problem {
                key: dotted(&found.path),
                message: format!("{message} (line {line})"),
                fix: "write a value of the kind the message names (README, Configuration)"
                    .to_owned(),
            },
            path: found.path,
            at: found.key_start,
        });
    }
    out.sort_by_key(|bad| bad.at);
    out
}

struct Found {
    path: Vec<String>,
    key_start: usize,
    value_end: usize,
}

/// The innermost key whose key or value holds `offset`. Every table is searched: the span of
/// a table opened by a `[header]` covers the header, not its keys.
fn key_at(table: &DeTable<'_>, offset: usize, path: &mut Vec<String>) -> Option<Found> {
    for (key, value) in table {
        path.push(key.get_ref().to_string());
        let span = value.span();
        let start = key.span().start.min(span.start);
        let holds = start <= offset && offset < span.end.max(start + 1);
        let here = |path: &Vec<String>| Found {
            path: path.clone(),
            key_start: key.span().start,
            value_end: span.end,
        };
        let found = match value.get_ref() {
            DeValue::Table(inner) => key_at(inner, offset, path),
            DeValue::Array(items) => items
                .iter()
                .enumerate()
                .find_map(|(i, item)| {
                    let DeValue::Table(inner) = item.get_ref() else {
                        return None;
                    };
                    path.push(format!("[{i}]"));
                    let found = key_at(inner, offset, path);
                    path.pop();
                    found
                })
                .or_else(|| holds.then(|| here(path))),
            _ => holds.then(|| here(path)),
        };
        if found.is_some() {
            return found;
        }
        path.pop();
    }
    None
}

/// Replaces `start..end` with spaces, and a comma that would be left dangling in an inline
/// table with it.
fn blank(text: &mut String, start: usize, end: usize) {
    let bytes = text.as_bytes();
    let mut end = end.min(bytes.len());
    let mut after = end;
    while after < bytes.len() && (bytes[after] == b' ' || bytes[after] == b'\t') {
        after += 1;
    }
    if after < bytes.len() && bytes[after] == b',' {
        end = after + 1;
    }
    let spaces = " ".repeat(end.saturating_sub(start));
    if text.is_char_boundary(start) && text.is_char_boundary(end) {
        text.replace_range(start..end, &spaces);
    }
}

fn dotted(path: &[String]) -> String {
    let mut out = String::new();
    for segment in path {
        if segment.starts_with('[') {
            out.push_str(segment);
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&toml_key(segment));
        }
    }
    out
}
