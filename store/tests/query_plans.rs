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
            r["metadata"] = json!({"language": language, "tenant": format!("t{}", n % 50)});
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
    let (_dir, store, cursor) = seeded();
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
    let (_dir, store, cursor) = seeded();
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
