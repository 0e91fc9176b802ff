//! `GET /api/traces/{trace_unique_id}`: the spans of one trace, nested under their parents.

use std::collections::HashMap;

use http::StatusCode;
use serde_json::{Value, json};

use switchboard_gateway::http::json::json_response;

use crate::error::ApiError;
use crate::{LogsApi, Reply};

/// Nesting deeper than this is not built: deeper spans are listed in `orphans` (with their own
/// children), so a client's JSON parser never meets an absurdly deep document.
pub const MAX_DEPTH: usize = 32;

/// `{"trace_unique_id", "spans": [record + "children": [...]], "orphans": [...]}`; 404 when
/// the trace has no logs.
pub async fn get(api: &LogsApi, trace: &str) -> Reply {
    let key = trace.to_owned();
    let records = api.store.run(move |store| store.trace(&key)).await?;
    if records.is_empty() {
        return Err(ApiError::NotFound(format!("trace {trace} has no logs")));
    }
    let (spans, orphans) = nest(records);
    Ok(json_response(
        StatusCode::OK,
        &json!({"trace_unique_id": trace, "spans": spans, "orphans": orphans}),
    ))
}

fn text<'a>(record: &'a Value, field: &str) -> Option<&'a str> {
    record
        .get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Nests `records` (oldest first) by `span_parent_id` = a parent's `span_unique_id`; each
/// record gets `children` (oldest first). Roots (no parent) go in the first list; records whose
/// parent is not in the trace go in the second, with their children, as do records caught in
/// a parent cycle and those past [`MAX_DEPTH`]. Every record appears exactly once.
pub fn nest(records: Vec<Value>) -> (Vec<Value>, Vec<Value>) {
    let mut by_span: HashMap<&str, usize> = HashMap::new();
    for (i, record) in records.iter().enumerate() {
        if let Some(span) = text(record, "span_unique_id") {
            by_span.entry(span).or_insert(i);
        }
    }
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); records.len()];
    let mut roots = Vec::new();
    let mut orphans = Vec::new();
    for (i, record) in records.iter().enumerate() {
        match text(record, "span_parent_id") {
            None => roots.push(i),
            Some(parent) => match by_span.get(parent) {
                Some(&p) if p != i => children[p].push(i),
                _ => orphans.push(i),
            },
        }
    }
    drop(by_span);
    let mut tree = Tree {
        records: records.into_iter().map(Some).collect(),
        children,
        spill: Vec::new(),
    };
    let spans: Vec<Value> = roots.into_iter().map(|i| tree.build(i, 0)).collect();
    let mut orphan_trees: Vec<Value> = orphans.into_iter().map(|i| tree.build(i, 0)).collect();
    // Spans past the depth limit, then any left in a cycle, each as a tree of its own.
    loop {
        let next = if tree.spill.is_empty() {
            tree.records.iter().position(Option::is_some)
        } else {
            Some(tree.spill.remove(0))
        };
        let Some(i) = next else { break };
        orphan_trees.push(tree.build(i, 0));
    }
    (spans, orphan_trees)
}

struct Tree {
    records: Vec<Option<Value>>,
    children: Vec<Vec<usize>>,
    spill: Vec<usize>,
}

impl Tree {
    fn build(&mut self, i: usize, depth: usize) -> Value {
        let mut record = self.records[i].take().unwrap_or(Value::Null);
        let mut nested = Vec::new();
        for c in std::mem::take(&mut self.children[i]) {
            if self.records[c].is_none() {
                continue;
            }
            if depth + 1 >= MAX_DEPTH {
                self.spill.push(c);
            } else {
                nested.push(self.build(c, depth + 1));
            }
        }
        if let Value::Object(fields) = &mut record {
            fields.insert("children".into(), Value::Array(nested));
        }
        record
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(id: &str, parent: Option<&str>) -> Value {
        json!({"id": id, "span_unique_id": id, "span_parent_id": parent})
    }

    fn ids(list: &[Value]) -> Vec<&str> {
        list.iter().map(|r| r["id"].as_str().unwrap()).collect()
    }

    #[test]
    fn spans_nest_and_orphans_are_kept() {
        let (spans, orphans) = nest(vec![
            span("root", None),
            span("a", Some("root")),
            span("a1", Some("a")),
            span("lost", Some("gone")),
            span("lost-child", Some("lost")),
            span("b", Some("root")),
        ]);
        assert_eq!(ids(&spans), ["root"]);
        assert_eq!(ids(spans[0]["children"].as_array().unwrap()), ["a", "b"]);
        assert_eq!(spans[0]["children"][0]["children"][0]["id"], "a1");
        assert_eq!(ids(&orphans), ["lost"]);
        assert_eq!(orphans[0]["children"][0]["id"], "lost-child");
    }

    #[test]
    fn cycles_and_deep_chains_lose_nothing() {
        let (spans, orphans) = nest(vec![span("x", Some("y")), span("y", Some("x"))]);
        assert!(spans.is_empty());
        assert_eq!(ids(&orphans), ["x"]);
        assert_eq!(orphans[0]["children"][0]["id"], "y");

        let mut chain = vec![span("s0", None)];
        for n in 1..100 {
            chain.push(span(&format!("s{n}"), Some(&format!("s{}", n - 1))));
        }
        let (spans, orphans) = nest(chain);
        let text = serde_json::to_string(&json!({"spans": spans, "orphans": orphans})).unwrap();
        let back: Value = serde_json::from_str(&text).expect("parses within serde's depth limit");
        let count = text.matches("\"span_unique_id\"").count();
        assert_eq!(count, 100);
        assert_eq!(back["orphans"].as_array().unwrap().len(), 3);
    }
}
