//! A support engineer replays one phone call (a thread) and one agent run (a trace).

mod common;

use common::*;
use serde_json::{Value, json};

fn a_thread_of_twelve_turns_reads_back_oldest_first(backend: Backend) {
    let dir = Place::new(backend, "thread");
    let mut store = dir.open();
    // The turns arrive out of order (several consumers, retries), interleaved with other calls.
    let mut batch: Vec<Value> = Vec::new();
    for turn in [7, 2, 11, 0, 5, 9, 1, 10, 3, 8, 6, 4] {
        let turn_record = with(
            record(&format!("turn-{turn:02}"), f64::from(turn) * 3.5),
            "thread_identifier",
            json!("call_42"),
        );
        batch.push(turn_record);
        batch.push(with(
            record(&format!("other-{turn:02}"), f64::from(turn) * 3.5 + 1.0),
            "thread_identifier",
            json!("call_43"),
        ));
    }
    insert(&mut store, &batch[..10]);
    insert(&mut store, &batch[10..]);

    let turns = store.thread("call_42").expect("thread");
    let expected: Vec<String> = (0..12).map(|t| format!("turn-{t:02}")).collect();
    assert_eq!(ids(&turns), expected);
    assert!(turns.iter().all(|t| t["thread_identifier"] == "call_42"));
    assert!(store.thread("call_unknown").expect("thread").is_empty());
}

fn a_trace_returns_every_span_oldest_first_for_the_caller_to_nest(backend: Backend) {
    let dir = Place::new(backend, "trace");
    let mut store = dir.open();
    let span = |id: &str, at_s: f64, span_id: &str, parent: Value| {
        let mut r = record(id, at_s);
        r["trace_unique_id"] = json!("trace-1");
        r["span_unique_id"] = json!(span_id);
        r["span_parent_id"] = parent;
        r["span_name"] = json!(format!("step {span_id}"));
        r
    };
    insert(
        &mut store,
        &[
            span("c", 3.0, "s3", json!("s1")),
            span("a", 1.0, "s1", Value::Null),
            record("unrelated", 2.0),
            span("b", 2.0, "s2", json!("s1")),
        ],
    );
    let spans = store.trace("trace-1").expect("trace");
    assert_eq!(ids(&spans), vec!["a", "b", "c"]);
    assert_eq!(spans[2]["span_parent_id"], "s1");
    assert!(store.trace("trace-2").expect("trace").is_empty());
}

both_stores!(
    a_thread_of_twelve_turns_reads_back_oldest_first,
    a_trace_returns_every_span_oldest_first_for_the_caller_to_nest,
);
