//! `[logging] redact`: PII patterns replaced in a record's `input`, `output` and error
//! messages before it leaves the gateway (Redis, spool, embedded store). Runs on the writer
//! thread, never on the request path.
//!
//! Named patterns: `email`; `phone` (a number with at least 10 digits, or 8 after a `+`,
//! written with spaces, dots, dashes or brackets, and not a date); `card` (13 to 19 digits that
//! pass the Luhn check). Any other entry is a regular expression. Matches become
//! `[redacted:<name>]`, or `[redacted]` for a regular expression.

use regex::Regex;
use serde_json::Value;
use switchboard_record::LogRecord;

use crate::SinkError;

/// The compiled `[logging] redact` list.
#[derive(Debug, Default)]
pub struct Redactor {
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    regex: Regex,
    replacement: String,
    /// A second look at a match the regex alone cannot judge (digit counts, Luhn).
    accept: fn(&str) -> bool,
}

fn any(_: &str) -> bool {
    true
}

impl Redactor {
    /// Compiles `patterns` (config validation has already checked them).
    pub fn new(patterns: &[String]) -> Result<Redactor, SinkError> {
        let rules = patterns
            .iter()
            .map(|pattern| {
                let (source, replacement, accept): (&str, String, fn(&str) -> bool) =
                    match pattern.as_str() {
                        "email" => (
                            r"(?i)\b[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}\b",
                            "[redacted:email]".to_owned(),
                            any,
                        ),
                        "phone" => (
                            r"(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]?\d{2,4}){1,4}",
                            "[redacted:phone]".to_owned(),
                            phone_like,
                        ),
                        "card" => (
                            r"\b(?:\d[ -]?){12,18}\d\b",
                            "[redacted:card]".to_owned(),
                            luhn,
                        ),
                        regex => (regex, "[redacted]".to_owned(), any),
                    };
                let regex = Regex::new(source).map_err(|e| SinkError::Redact {
                    pattern: pattern.clone(),
                    why: e.to_string(),
                })?;
                Ok(Rule {
                    regex,
                    replacement,
                    accept,
                })
            })
            .collect::<Result<_, SinkError>>()?;
        Ok(Redactor { rules })
    }

    /// True when there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Replaces every match in `record`'s input, output and error messages.
    pub fn apply(&self, record: &mut LogRecord) {
        if self.rules.is_empty() {
            return;
        }
        if let Some(input) = record.input.as_mut() {
            self.value(input.value_mut());
        }
        if let Some(output) = record.output.as_mut() {
            self.value(output);
        }
        let messages = std::iter::once(&mut record.error_message)
            .chain(record.attempts.iter_mut().map(|a| &mut a.error_message));
        for message in messages.flatten() {
            if let Some(redacted) = self.text(message) {
                *message = redacted;
            }
        }
    }

    /// Replaces every match in the strings of `value` (for bodies that leave the process
    /// another way, e.g. on OpenTelemetry spans).
    pub fn value(&self, value: &mut Value) {
        match value {
            Value::String(text) => {
                if let Some(redacted) = self.text(text) {
                    *text = redacted;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.value(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.value(v)),
            _ => {}
        }
    }

    /// `text` with every accepted match replaced, `None` when nothing matched.
    fn text(&self, text: &str) -> Option<String> {
        let mut current: Option<String> = None;
        for rule in &self.rules {
            let source = current.as_deref().unwrap_or(text);
            let mut out = String::new();
            let mut last = 0;
            for found in rule.regex.find_iter(source) {
                if !(rule.accept)(found.as_str()) {
                    continue;
                }
                out.push_str(&source[last..found.start()]);
                out.push_str(&rule.replacement);
                last = found.end();
            }
            if last > 0 {
                out.push_str(&source[last..]);
                current = Some(out);
            }
        }
        current
    }
}

fn digits(text: &str) -> impl Iterator<Item = u32> + '_ {
    text.chars().filter_map(|c| c.to_digit(10))
}

/// A phone number: 10 to 15 digits, or 8 to 15 after a `+`; not a date like `2026-12-01 10`.
fn phone_like(text: &str) -> bool {
    let count = digits(text).count();
    let starts_like_date = text.len() >= 10
        && text.as_bytes()[..10].iter().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                *b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    let enough = if text.starts_with('+') {
        (8..=15).contains(&count)
    } else {
        (10..=15).contains(&count)
    };
    enough && !starts_like_date
}

/// A payment card number: 13 to 19 digits passing the Luhn check.
fn luhn(text: &str) -> bool {
    let numbers: Vec<u32> = digits(text).collect();
    if !(13..=19).contains(&numbers.len()) {
        return false;
    }
    let sum: u32 = numbers
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redact(patterns: &[&str], text: &str) -> String {
        let patterns: Vec<String> = patterns.iter().map(|p| p.to_string()).collect();
        let redactor = Redactor::new(&patterns).unwrap();
        redactor.text(text).unwrap_or_else(|| text.to_owned())
    }

    #[test]
    fn named_patterns_replace_what_they_name_and_leave_the_rest() {
        let all = ["email", "phone", "card"];
        assert_eq!(
            redact(&all, "mail ana.diaz+x@mail.example.co.uk now"),
            "mail [redacted:email] now"
        );
        assert_eq!(
            redact(&all, "call +34 612 345 678 or (415) 555-0100"),
            "call [redacted:phone] or [redacted:phone]"
        );
        assert_eq!(
            redact(&all, "card 4111 1111 1111 1111, exp 12/29"),
            "card [redacted:card], exp 12/29"
        );
        // Not a card (fails Luhn), not a phone (a date), a short number stays.
        assert_eq!(
            redact(
                &all,
                "order 4111 1111 1111 1112 on 2026-12-01 10 for 42 units"
            ),
            "order 4111 1111 1111 1112 on 2026-12-01 10 for 42 units"
        );
        assert_eq!(
            redact(&["\\bACCT-\\d+\\b"], "ref ACCT-991 ok"),
            "ref [redacted] ok"
        );
    }

    #[test]
    fn every_string_of_a_message_tree_is_redacted() {
        let redactor = Redactor::new(&["email".to_owned()]).unwrap();
        let mut input = serde_json::json!([
            {"role": "user", "content": [{"type": "text", "text": "I am a@b.io"}]},
            {"role": "assistant", "tool_calls": [{"function": {"arguments": "{\"to\":\"a@b.io\"}"}}]}
        ]);
        redactor.value(&mut input);
        let text = input.to_string();
        assert!(!text.contains("a@b.io"), "{text}");
        assert_eq!(text.matches("[redacted:email]").count(), 2, "{text}");
    }
}
