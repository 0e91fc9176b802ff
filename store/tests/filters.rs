//! An analyst narrows the logs down with the filters of `GET /api/logs`.

mod common;

use common::*;
use serde_json::{Value, json};
use switchboard_store::{Filter, Store, StoreError};

fn filter(pairs: &[(&str, &str)]) -> Filter {
    Filter::from_pairs(pairs.iter().copied()).expect("valid filter")
}

fn matching(store: &mut Store, pairs: &[(&str, &str)]) -> Vec<String> {
    let filter = filter(pairs);
    let (page, next) = store.list(&filter, 1_000, None).expect("list");
    assert_eq!(next, None);
    assert_eq!(
        store.count(&filter).expect("count"),
        page.len() as u64,
        "{pairs:?}"
    );
    let mut found = ids(&page);
    found.sort();
    found
}

fn a_metadata_key_never_seen_before_filters_with_no_setup(backend: Backend) {
    let dir = Place::new(backend, "metadata");
    let mut store = dir.open();
    insert(&mut store, &[record("a", 0.0), record("b", 1.0)]);
    assert!(matching(&mut store, &[("metadata.campaign", "spring")]).is_empty());

    // Later a client starts sending a brand-new key, with a non-string value too.
    let tagged = |id: &str, s: f64, meta: Value| with(record(id, s), "metadata", meta);
    insert(
        &mut store,
        &[
            tagged("c", 2.0, json!({"campaign": "spring", "language": "en"})),
            tagged("d", 3.0, json!({"campaign": "autumn"})),
            tagged("e", 4.0, json!({"campaign": "spring", "attempt": 2})),
        ],
    );
    assert_eq!(
        matching(&mut store, &[("metadata.campaign", "spring")]),
        ["c", "e"]
    );
    assert_eq!(matching(&mut store, &[("metadata.attempt", "2")]), ["e"]);
    assert_eq!(
        matching(&mut store, &[("metadata.language", "es")]),
        ["a", "b"]
    );
    assert_eq!(
        matching(
            &mut store,
            &[("metadata.campaign", "spring"), ("metadata.language", "en")]
        ),
        ["c"]
    );
}

fn error_kind_matches_any_attempt(backend: Backend) {
    let dir = Place::new(backend, "error-kind");
    let mut store = dir.open();
    let attempts = |id: &str, s: f64, kinds: &[Option<&str>]| {
        let list: Vec<Value> = kinds
            .iter()
            .map(|k| json!({"provider_id": "p", "status_code": 503, "error_kind": k}))
            .collect();
        with(record(id, s), "attempts", json!(list))
    };
    insert(
        &mut store,
        &[
            attempts("clean", 0.0, &[None]),
            attempts("retried", 1.0, &[Some("5xx"), None]),
            attempts("twice", 2.0, &[Some("5xx"), Some("5xx"), Some("timeout")]),
            attempts("failed", 3.0, &[Some("429"), Some("connect")]),
            json!({"id": "no-attempts", "start_time": at(4.0)}),
        ],
    );
    assert_eq!(
        matching(&mut store, &[("error_kind", "5xx")]),
        ["retried", "twice"]
    );
    assert_eq!(
        matching(&mut store, &[("error_kind", "timeout")]),
        ["twice"]
    );
    assert_eq!(
        matching(&mut store, &[("error_kind", "connect")]),
        ["failed"]
    );
    assert!(matching(&mut store, &[("error_kind", "stall")]).is_empty());
}

fn fallback_used_and_json_valid_filter_on_their_flags(backend: Backend) {
    let dir = Place::new(backend, "flags");
    let mut store = dir.open();
    let flags = |id: &str, s: f64, fallback: Value, json_valid: Value| {
        with(
            with(record(id, s), "fallback_used", fallback),
            "json_valid",
            json_valid,
        )
    };
    insert(
        &mut store,
        &[
            flags("plain", 0.0, json!(false), json!(true)),
            flags("fell-back", 1.0, json!(true), json!(true)),
            flags("bad-json", 2.0, json!(false), json!(false)),
            flags("both", 3.0, json!(true), json!(false)),
            flags("unchecked", 4.0, json!(false), Value::Null),
        ],
    );
    assert_eq!(
        matching(&mut store, &[("fallback_used", "true")]),
        ["both", "fell-back"]
    );
    assert_eq!(
        matching(&mut store, &[("fallback_used", "false")]),
        ["bad-json", "plain", "unchecked"]
    );
    assert_eq!(
        matching(&mut store, &[("json_valid", "false")]),
        ["bad-json", "both"]
    );
    assert_eq!(
        matching(
            &mut store,
            &[("json_valid", "true"), ("fallback_used", "true")]
        ),
        ["fell-back"]
    );
}

fn a_time_range_compares_with_start_time(backend: Backend) {
    let dir = Place::new(backend, "time-range");
    let mut store = dir.open();
    let batch: Vec<Value> = (0..10).map(|n| record(&id(n), n as f64 * 60.0)).collect();
    insert(&mut store, &batch);
    // from is inclusive, to exclusive; any offset is accepted.
    let from = at(120.0);
    let to = "2025-01-01T01:06:00+01:00";
    assert_eq!(
        matching(&mut store, &[("from", &from), ("to", to)]),
        [id(2), id(3), id(4), id(5)]
    );
    assert_eq!(matching(&mut store, &[("from", &at(530.0))]), [id(9)]);
    assert_eq!(matching(&mut store, &[("to", &at(60.0))]), [id(0)]);
    assert_eq!(
        matching(&mut store, &[("from", &at(120.0)), ("model", "voice-fast")]).len(),
        8
    );
}

fn column_filters_combine_with_and(backend: Backend) {
    let dir = Place::new(backend, "columns");
    let mut store = dir.open();
    let r = |id: &str, model: &str, provider: &str, status: &str, customer: &str| {
        let mut r = record(id, 0.0);
        r["model"] = json!(model);
        r["provider_id"] = json!(provider);
        r["status"] = json!(status);
        r["customer_identifier"] = json!(customer);
        r
    };
    insert(
        &mut store,
        &[
            r("1", "fast", "openai", "success", "acct_1"),
            r("2", "fast", "groq", "error", "acct_1"),
            r("3", "smart", "openai", "success", "acct_2"),
            r("4", "fast", "openai", "client_disconnected", "acct_2"),
        ],
    );
    assert_eq!(matching(&mut store, &[("model", "fast")]), ["1", "2", "4"]);
    assert_eq!(
        matching(&mut store, &[("model", "fast"), ("provider_id", "openai")]),
        ["1", "4"]
    );
    assert_eq!(matching(&mut store, &[("status", "error")]), ["2"]);
    assert_eq!(
        matching(
            &mut store,
            &[("customer_identifier", "acct_2"), ("status", "success")]
        ),
        ["3"]
    );
    assert_eq!(store.count(&Filter::default()).expect("count"), 4);
}

fn bad_filters_name_the_key_at_fault(backend: Backend) {
    let key_of = |pairs: &[(&str, &str)]| match Filter::from_pairs(pairs.iter().copied()) {
        Err(StoreError::BadFilter { key, .. }) => key,
        other => panic!("{pairs:?} gave {other:?}"),
    };
    assert_eq!(key_of(&[("model", "x"), ("colour", "red")]), "colour");
    assert_eq!(key_of(&[("fallback_used", "yes")]), "fallback_used");
    assert_eq!(key_of(&[("json_valid", "")]), "json_valid");
    assert_eq!(key_of(&[("from", "yesterday")]), "from");
    assert_eq!(key_of(&[("to", "2025-01-01")]), "to");
    assert_eq!(key_of(&[("metadata.", "x")]), "metadata.");
    assert_eq!(key_of(&[("score.", "1")]), "score.");
    assert_eq!(key_of(&[("model", "a"), ("model", "b")]), "model");
    let message = Filter::from_pairs([("colour", "red")])
        .expect_err("unknown key")
        .to_string();
    assert!(message.contains("colour"), "{message}");

    // Pagination and export keys share the query string and are not filters.
    assert_eq!(
        Filter::from_pairs([("limit", "5"), ("cursor", "x"), ("format", "csv")]).ok(),
        Some(Filter::default())
    );
    // A filter built by hand is checked when used.
    let dir = Place::new(backend, "bad-filter");
    let mut store = dir.open();
    let by_hand = Filter {
        from: Some("soon".into()),
        ..Filter::default()
    };
    assert!(matches!(
        store.count(&by_hand),
        Err(StoreError::BadFilter { key, .. }) if key == "from"
    ));
}

both_stores!(
    a_metadata_key_never_seen_before_filters_with_no_setup,
    error_kind_matches_any_attempt,
    fallback_used_and_json_valid_filter_on_their_flags,
    a_time_range_compares_with_start_time,
    column_filters_combine_with_and,
    bad_filters_name_the_key_at_fault,
);
