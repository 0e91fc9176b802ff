//! An analyst slices the logs with operators (SPEC section 14): "every call where the first
//! token took over 500 ms", "every Spanish or Portuguese call that cost more than a cent",
//! "every error whose message mentions the context".

mod common;

use common::*;
use serde_json::{Value, json};
use switchboard_store::{Filter, Store, StoreError};

fn matching(store: &mut Store, pairs: &[(&str, &str)]) -> Vec<String> {
    let filter = Filter::from_pairs(pairs.iter().copied()).expect("valid filter");
    let (page, next) = store.list(&filter, 1_000, None).expect("list");
    assert_eq!(next, None, "{pairs:?}");
    assert_eq!(
        store.count(&filter).expect("count"),
        page.len() as u64,
        "count agrees with the page: {pairs:?}"
    );
    let mut exported = Vec::new();
    store
        .for_each(
            &filter,
            switchboard_store::Order::OldestFirst,
            None,
            &mut |text, _| {
                let record: Value = serde_json::from_str(text).expect("json");
                exported.push(record["id"].as_str().unwrap().to_owned());
                Ok(())
            },
        )
        .expect("export walk");
    let mut found = ids(&page);
    found.sort();
    exported.sort();
    assert_eq!(found, exported, "the export walk agrees: {pairs:?}");
    found
}

/// Five calls that differ where the slices cut.
fn seeded(dir: &Place) -> Store {
    let mut store = dir.open();
    let call = |n: usize, ttft: Value, latency: f64, cost: Value, language: Option<&str>| {
        let mut r = record(&id(n), n as f64);
        r["time_to_first_token"] = ttft;
        r["latency"] = json!(latency);
        r["cost"] = cost;
        match language {
            Some(l) => r["metadata"] = json!({"language": l, "use_case": "intent"}),
            None => r["metadata"] = json!({"use_case": "scam_detector"}),
        }
        r
    };
    let mut records = vec![
        call(1, json!(0.131), 0.40, json!(0.002), Some("es")),
        call(2, json!(0.650), 1.20, json!(0.020), Some("pt")),
        call(3, json!(0.501), 0.90, json!(0.015), Some("en")),
        call(4, Value::Null, 2.50, Value::Null, None),
        call(5, json!(0.500), 1.00, json!(0.010), Some("es")),
    ];
    records[3]["status"] = json!("error");
    records[3]["status_code"] = json!(502);
    records[3]["stream"] = json!(false);
    records[3]["error_message"] =
        json!("All 2 upstream attempts failed: context_length: prompt is too long");
    records[1]["span_name"] = json!("response.generate");
    insert(&mut store, &records);
    store
}

fn numbers_compare_and_missing_values_never_match_a_comparison(backend: Backend) {
    let dir = Place::new(backend, "ops-numbers");
    let mut store = seeded(&dir);
    assert_eq!(
        matching(&mut store, &[("time_to_first_token.gt", "0.5")]),
        [id(2), id(3)]
    );
    assert_eq!(
        matching(&mut store, &[("time_to_first_token.gte", "0.5")]),
        [id(2), id(3), id(5)]
    );
    assert_eq!(
        matching(&mut store, &[("latency.lte", "1")]),
        [id(1), id(3), id(5)]
    );
    assert_eq!(matching(&mut store, &[("latency.lt", "0.5")]), [id(1)]);
    assert_eq!(matching(&mut store, &[("cost.gt", "0.01")]), [id(2), id(3)]);
    assert_eq!(matching(&mut store, &[("status_code.not", "200")]), [id(4)]);
    assert_eq!(matching(&mut store, &[("status_code", "502")]), [id(4)]);
    assert_eq!(
        matching(&mut store, &[("time_to_first_token.empty", "")]),
        [id(4)]
    );
    assert_eq!(matching(&mut store, &[("cost.not_empty", "")]).len(), 4);
    assert_eq!(matching(&mut store, &[("total_tokens.gte", "52")]).len(), 5);
}

fn metadata_takes_sets_and_text_operators_and_combines_with_the_rest(backend: Backend) {
    let dir = Place::new(backend, "ops-metadata");
    let mut store = seeded(&dir);
    assert_eq!(
        matching(&mut store, &[("metadata.language.in", "es,pt")]),
        [id(1), id(2), id(5)]
    );
    // A call without the key never matches a metadata condition, not even a negative one
    // (Respan's rule), `empty` aside.
    assert_eq!(
        matching(&mut store, &[("metadata.language.not_in", "es,pt")]),
        [id(3)]
    );
    assert_eq!(
        matching(&mut store, &[("metadata.language.not", "es")]),
        [id(2), id(3)]
    );
    assert_eq!(
        matching(&mut store, &[("metadata.language.not_contains", "s")]),
        [id(2), id(3)]
    );
    assert_eq!(
        matching(&mut store, &[("metadata.use_case.endswith", "detector")]),
        [id(4)]
    );
    assert_eq!(
        matching(&mut store, &[("metadata.language.empty", "")]),
        [id(4)]
    );
    assert_eq!(
        matching(&mut store, &[("metadata.use_case.startswith", "scam")]),
        [id(4)]
    );
    assert_eq!(
        matching(&mut store, &[("metadata.use_case.icontains", "INTENT")]).len(),
        4
    );
    // "Every Spanish call that cost more than a cent": the SPEC's example, plus equality.
    assert_eq!(
        matching(
            &mut store,
            &[
                ("metadata.language.in", "es,pt"),
                ("cost.gt", "0.01"),
                ("status", "success")
            ]
        ),
        [id(2)]
    );
    // An equality on a metadata key with dots in it is still an equality.
    assert!(matching(&mut store, &[("metadata.a.b", "c")]).is_empty());
}

fn text_fields_match_by_contains_and_prefix(backend: Backend) {
    let dir = Place::new(backend, "ops-text");
    let mut store = seeded(&dir);
    assert_eq!(
        matching(&mut store, &[("error_message.contains", "context_length")]),
        [id(4)]
    );
    assert_eq!(
        matching(&mut store, &[("error_message.icontains", "PROMPT IS")]),
        [id(4)]
    );
    assert!(matching(&mut store, &[("error_message.contains", "PROMPT IS")]).is_empty());
    assert_eq!(
        matching(&mut store, &[("error_message.not_empty", "")]),
        [id(4)]
    );
    assert_eq!(
        matching(&mut store, &[("span_name", "response.generate")]),
        [id(2)]
    );
    assert_eq!(
        matching(&mut store, &[("model.in", "voice-fast,other")]).len(),
        5
    );
    assert_eq!(matching(&mut store, &[("stream", "false")]), [id(4)]);
    assert_eq!(matching(&mut store, &[("stream.not", "true")]), [id(4)]);
    assert_eq!(
        matching(&mut store, &[("error_kind.in", "5xx,429")]).len(),
        0
    );
    assert_eq!(
        matching(
            &mut store,
            &[("start_time.gte", &at(3.0)), ("start_time.lt", &at(5.0))]
        ),
        [id(3), id(4)]
    );
}

fn a_rare_match_is_found_page_by_page_with_each_page_bounded(backend: Backend) {
    let dir = Place::new(backend, "ops-scan");
    let mut store = dir.open();
    // 45,000 calls; every 10,000th took over a second to its first token.
    let records: Vec<Value> = (0..45_000)
        .map(|n| {
            let mut r = record(&id(n), n as f64);
            r["time_to_first_token"] = json!(if n % 10_000 == 0 { 1.5 } else { 0.1 });
            r
        })
        .collect();
    for chunk in records.chunks(5_000) {
        insert(&mut store, chunk);
    }
    let filter = Filter::from_pairs([("time_to_first_token.gt", "1")]).unwrap();
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let (page, next) = store.list(&filter, 50, cursor.as_deref()).unwrap();
        pages += 1;
        found.extend(ids(&page));
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(
        found,
        [id(40_000), id(30_000), id(20_000), id(10_000), id(0)]
    );
    assert!(
        pages >= 3,
        "a page walks a bounded number of rows: {pages} pages"
    );
}

#[test]
fn an_operator_that_does_not_fit_the_field_is_refused_naming_it() {
    let refused = |key: &str, value: &str| match Filter::from_pairs([(key, value)]) {
        Err(StoreError::BadFilter {
            key: at,
            reason: message,
        }) => {
            assert_eq!(at, key);
            message
        }
        other => panic!("{key}={value} gave {other:?}"),
    };
    assert!(refused("latency.gt", "fast").contains("not a number"));
    assert!(refused("model.gt", "a").contains("text"));
    assert!(refused("metadata.language.lt", "b").contains("text"));
    assert!(refused("stream.contains", "t").contains("true or false"));
    assert!(refused("colour.in", "red").contains("unknown filter field `colour`"));
    assert!(refused("from.gt", "2025-01-01T00:00:00Z").contains("start_time"));
    assert!(refused("start_time.gt", "yesterday").contains("RFC3339"));
}

both_stores!(
    numbers_compare_and_missing_values_never_match_a_comparison,
    metadata_takes_sets_and_text_operators_and_combines_with_the_rest,
    text_fields_match_by_contains_and_prefix,
    a_rare_match_is_found_page_by_page_with_each_page_bounded,
);
