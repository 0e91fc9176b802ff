//! Between Respan's span shape and Switchboard's record: the create body made ready for the
//! record ingest ([`crate::respan_log`]), and a stored record shown the way Respan's SDK parses
//! a span. Fields Switchboard does not keep are absent, never invented.

use serde_json::{Map, Value, json};

/// Respan's create body with its Respan-only envelopes folded into record fields:
/// `keywordsai_params` into `respan_params`; from that, `customer_identifier`,
/// `thread_identifier`, `customer_params` and `metadata`; `properties` into `metadata`; and
/// `prompt_unit_price` / `completion_unit_price` (USD per million tokens) into `cost` when the
/// body gives none.
pub fn fold_create_body(body: Value) -> Value {
    let Value::Object(mut body) = body else {
        return body;
    };
    let mut params = take_object(&mut body, "respan_params");
    params.extend(take_object(&mut body, "keywordsai_params"));
    for key in [
        "customer_identifier",
        "thread_identifier",
        "customer_params",
    ] {
        if let Some(value) = params.remove(key) {
            body.entry(key.to_owned()).or_insert(value);
        }
    }
    let mut metadata = take_object(&mut body, "metadata");
    for extra in [params.remove("metadata"), body.remove("properties")]
        .into_iter()
        .flatten()
    {
        if let Value::Object(extra) = extra {
            for (key, value) in extra {
                metadata.entry(key).or_insert(value);
            }
        }
    }
    if !metadata.is_empty() {
        body.insert("metadata".to_owned(), Value::Object(metadata));
    }
    let prices = (
        body.remove("prompt_unit_price").and_then(|v| v.as_f64()),
        body.remove("completion_unit_price")
            .and_then(|v| v.as_f64()),
    );
    if !body.contains_key("cost") && (prices.0.is_some() || prices.1.is_some()) {
        let tokens = |flat: &str, nested: &str| {
            body.get(flat)
                .or_else(|| body.get("usage").and_then(|u| u.get(nested)))
                .and_then(Value::as_f64)
                .unwrap_or(0.0)
        };
        let cost = (tokens("prompt_tokens", "prompt_tokens") * prices.0.unwrap_or(0.0)
            + tokens("completion_tokens", "completion_tokens") * prices.1.unwrap_or(0.0))
            / 1e6;
        body.insert("cost".to_owned(), json!(cost));
    }
    Value::Object(body)
}

fn take_object(body: &mut Map<String, Value>, key: &str) -> Map<String, Value> {
    match body.remove(key) {
        Some(Value::Object(map)) => map,
        _ => Map::new(),
    }
}

/// A stored record as Respan shows a span: `unique_id`, flat token counts, the messages under
/// Respan's names, and `scores` as an object keyed by evaluator.
pub fn span(record: Value) -> Value {
    let Value::Object(mut span) = record else {
        return record;
    };
    if let Some(id) = span.get("id").cloned() {
        span.insert("unique_id".to_owned(), id);
    }
    if let Some(usage) = span.get("usage").cloned() {
        for (respan, own) in [
            ("prompt_tokens", "prompt_tokens"),
            ("completion_tokens", "completion_tokens"),
            ("total_request_tokens", "total_tokens"),
        ] {
            if let Some(n) = usage.get(own).filter(|v| v.is_u64()) {
                span.insert(respan.to_owned(), n.clone());
            }
        }
    }
    if let Some(input) = span.get("input").filter(|v| v.is_array()).cloned() {
        span.insert("prompt_messages".to_owned(), input);
    }
    if let Some(output) = span.get("output").filter(|v| v.is_object()).cloned() {
        span.insert("completion_message".to_owned(), output);
    }
    if let Some(Value::Array(scores)) = span.remove("scores") {
        let keyed: Map<String, Value> = scores
            .into_iter()
            .filter_map(|mut score| {
                let slug = score.get("evaluator_slug")?.as_str()?.to_owned();
                let kind = ["numerical", "boolean", "categorical", "string"]
                    .into_iter()
                    .find(|k| score.get(format!("{k}_value")).is_some());
                if let (Some(kind), Value::Object(fields)) = (kind, &mut score) {
                    fields.insert("score_value_type".to_owned(), json!(kind));
                }
                Some((slug, score))
            })
            .collect();
        span.insert("scores".to_owned(), Value::Object(keyed));
    }
    Value::Object(span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_create_envelopes_fold_into_record_fields() {
        let body = fold_create_body(json!({
            "model": "gpt-4o", "prompt_tokens": 1000, "completion_tokens": 500,
            "prompt_unit_price": 2.5, "completion_unit_price": 10.0,
            "respan_params": {"customer_identifier": "acct_1", "metadata": {"tier": "pro"}},
            "keywordsai_params": {"thread_identifier": "call_9"},
            "properties": {"language": "es"},
            "metadata": {"use_case": "intent"},
        }));
        assert_eq!(body["customer_identifier"], "acct_1");
        assert_eq!(body["thread_identifier"], "call_9");
        assert_eq!(
            body["metadata"],
            json!({"use_case": "intent", "tier": "pro", "language": "es"})
        );
        assert!((body["cost"].as_f64().unwrap() - 0.0075).abs() < 1e-12);
        assert!(body.get("respan_params").is_none());
    }

    #[test]
    fn a_record_reads_as_a_span() {
        let span = span(json!({
            "id": "abc", "usage": {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7},
            "input": [{"role": "user", "content": "hi"}],
            "output": {"role": "assistant", "content": "hello"},
            "scores": [{"evaluator_slug": "quality", "numerical_value": 0.9}],
        }));
        assert_eq!(span["unique_id"], "abc");
        assert_eq!(span["total_request_tokens"], 7);
        assert_eq!(span["prompt_messages"][0]["content"], "hi");
        assert_eq!(span["completion_message"]["content"], "hello");
        assert_eq!(span["scores"]["quality"]["numerical_value"], 0.9);
        assert_eq!(span["scores"]["quality"]["score_value_type"], "numerical");
    }
}
