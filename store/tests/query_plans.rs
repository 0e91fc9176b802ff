//! An operator checks that filtered reads go through an index, not a scan of every log (a quick
//! check of the plans SQLite picks, not a timing).

mod common;

use common::*;
use serde_json::{Value, json};
use switchboard_store::{Filter, Order, Score, ScoreValue, Store};

fn seeded() -> (TempDir, Store, String) {
    let dir = TempDir::new("plans");
    let mut store = dir.open();
    let batch: Vec<Value> = (0..2_000)
        .map(|n| {
            let mut r = record(&id(n), n as f64);
            r["thread_identifier"] = json!(format!("call_{}", n / 10));
            let language = ["es", "en", "fr"][n % 3];
            r["metadata"] = json!({
                "language": language, "tenant": format!("t{}", n % 50), "use_case": "intent",
            });
            r
        })
        .collect();
    insert(&mut store, &batch);
    let score = Score {
        evaluator_slug: "q".into(),
        value: ScoreValue::Numerical(1.0),
    };
    store.put_score(&id(5), &score).expect("score");
    let (_, cursor) = store
        .list(&Filter::default(), 100, None)
        .expect("first page");
    (dir, store, cursor.expect("more pages"))
}

/// The plan reads `logs` through an index (or by key), never by a scan of the whole table or of
/// its time index.
fn assert_indexed(plan: &[String], what: &str) {
    let uses_index = |line: &String| {
        line.contains("USING INDEX")
            || line.contains("USING COVERING INDEX")
            || line.contains("PRIMARY KEY")
    };
    assert!(plan.iter().any(uses_index), "{what}: {plan:#?}");
    for line in plan {
        assert!(
            !line.starts_with("SCAN logs"),
            "{what} scans every log: {plan:#?}"
        );
    }
}

#[test]
fn metadata_thread_and_other_filters_are_answered_through_an_index() {
    let (_dir, mut store, cursor) = seeded();
    let filters: [&[(&str, &str)]; 8] = [
        &[("metadata.tenant", "t7")],
        &[("metadata.never_seen_before", "x")],
        &[("thread_identifier", "call_7")],
        &[("model", "voice-fast")],
        &[("customer_identifier", "acct_9")],
        &[("error_kind", "5xx")],
        &[("score.q", "1")],
        &[("metadata.tenant", "t7"), ("status", "success")],
    ];
    for pairs in filters {
        let filter = Filter::from_pairs(pairs.iter().copied()).expect("filter");
        for order in [Order::NewestFirst, Order::OldestFirst] {
            for after in [None, Some(cursor.as_str())] {
                let plan = store.query_plan(&filter, order, after).expect("plan");
                assert_indexed(&plan, &format!("{pairs:?} {order:?} after {after:?}"));
            }
        }
    }
}

#[test]
fn an_unfiltered_page_reads_the_time_index_in_order() {
    let (_dir, mut store, cursor) = seeded();
    let plan = store
        .query_plan(&Filter::default(), Order::NewestFirst, Some(&cursor))
        .expect("plan");
    assert!(
        plan.iter().any(|line| line.contains("logs_by_time")),
        "{plan:#?}"
    );
    assert!(
        !plan.iter().any(|line| line.contains("TEMP B-TREE")),
        "no sort needed: {plan:#?}"
    );
}

/// The plan walks one index in the page's order: nothing is collected and sorted first.
fn assert_no_sort(plan: &[String], what: &str) {
    assert!(
        !plan.iter().any(|line| line.contains("TEMP B-TREE")),
        "{what} sorts its matches: {plan:#?}"
    );
}

#[test]
fn a_metadata_page_is_read_in_order_off_the_side_table_however_common_the_value() {
    let (_dir, mut store, cursor) = seeded();
    let from = at(500.0);
    let to = at(1_500.0);
    let values = [
        ("use_case", "intent", "every log"),
        ("language", "es", "a third"),
        ("tenant", "t7", "2%"),
        ("never_seen_before", "x", "none"),
    ];
    for (key, value, share) in values {
        let key = format!("metadata.{key}");
        let ranges: [&[(&str, &str)]; 2] = [&[], &[("from", &from), ("to", &to)]];
        for range in ranges {
            let mut pairs = vec![(key.as_str(), value)];
            pairs.extend_from_slice(range);
            let filter = Filter::from_pairs(pairs.iter().copied()).expect("filter");
            for order in [Order::NewestFirst, Order::OldestFirst] {
                for after in [None, Some(cursor.as_str())] {
                    let what = format!("{pairs:?} ({share}) {order:?} after {after:?}");
                    let plan = store.query_plan(&filter, order, after).expect("plan");
                    assert!(
                        plan[0].starts_with(
                            "SEARCH log_properties USING PRIMARY KEY (key=? AND value=?"
                        ),
                        "{what} is driven by the side table: {plan:#?}"
                    );
                    assert_indexed(&plan, &what);
                    assert_no_sort(&plan, &what);
                }
            }
        }
    }
}

#[test]
fn error_kind_score_and_combined_filters_need_no_sort() {
    let (_dir, mut store, cursor) = seeded();
    let filters: [&[(&str, &str)]; 6] = [
        &[("error_kind", "5xx")],
        &[("score.q", "1")],
        &[("metadata.use_case", "intent"), ("metadata.tenant", "t7")],
        &[("metadata.use_case", "intent"), ("status", "success")],
        &[("metadata.use_case", "intent"), ("error_kind", "5xx")],
        &[("metadata.use_case", "intent"), ("score.q", "1")],
    ];
    for pairs in filters {
        let filter = Filter::from_pairs(pairs.iter().copied()).expect("filter");
        for after in [None, Some(cursor.as_str())] {
            let what = format!("{pairs:?} after {after:?}");
            let plan = store
                .query_plan(&filter, Order::NewestFirst, after)
                .expect("plan");
            assert_indexed(&plan, &what);
            assert_no_sort(&plan, &what);
        }
    }
}

#[test]
fn a_thread_drives_and_its_metadata_is_checked_per_log() {
    let (_dir, mut store, _) = seeded();
    let filter = Filter::from_pairs([
        ("metadata.use_case", "intent"),
        ("thread_identifier", "call_7"),
    ])
    .expect("filter");
    let plan = store
        .query_plan(&filter, Order::NewestFirst, None)
        .expect("plan");
    assert!(plan[0].contains("logs_by_thread"), "{plan:#?}");
    assert!(
        plan.iter()
            .any(|line| line.contains("log_properties_by_log")),
        "{plan:#?}"
    );
    assert_no_sort(&plan, "thread");
}
