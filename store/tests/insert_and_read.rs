//! A consumer writes batches of log records; the logs API reads them back.

mod common;

use common::*;
use serde_json::{Value, json};
use switchboard_store::{Filter, InsertSummary, Score, ScoreValue, StoreError};

fn a_batch_is_stored_and_read_back_field_for_field(backend: Backend) {
    let dir = Place::new(backend, "read-back");
    let mut store = dir.open();
    let full = with(
        record(&id(1), 0.0),
        "mystery_field",
        json!({"kept": [1, 2]}),
    );
    let sparse = json!({"id": id(2), "start_time": at(5.0), "model": null});
    let summary = insert(&mut store, &[full.clone(), sparse.clone()]);
    assert_eq!(
        summary,
        InsertSummary {
            inserted: 2,
            duplicates: 0,
            rejected: vec![]
        }
    );

    let mut expected = full.clone();
    expected["scores"] = json!([]);
    assert_eq!(store.get(&id(1)).expect("get"), Some(expected));
    let got = store.get(&id(2)).expect("get").expect("stored");
    assert_eq!(got["start_time"], sparse["start_time"]);
    assert_eq!(got["model"], Value::Null);
    assert_eq!(store.get("no-such-log").expect("get"), None);
    assert_eq!(store.count(&Filter::default()).expect("count"), 2);

    // The file survives a reopen; the schema is not created twice.
    drop(store);
    let mut store = dir.open();
    assert_eq!(store.count(&Filter::default()).expect("count"), 2);
    if backend == Backend::Sqlite {
        assert!(dir.path().join("data").join("logs.db").exists());
    }
}

fn replaying_a_batch_stores_nothing_twice(backend: Backend) {
    let dir = Place::new(backend, "idempotent");
    let mut store = dir.open();
    let batch: Vec<Value> = (0..10).map(|n| record(&id(n), n as f64)).collect();
    assert_eq!(insert(&mut store, &batch).inserted, 10);

    // The stream redelivers the same entries (XAUTOCLAIM after a crash before XACK).
    let again = insert(&mut store, &batch);
    assert_eq!((again.inserted, again.duplicates), (0, 10));
    assert!(again.rejected.is_empty());

    // A duplicate inside one batch counts once; a replayed record keeps its first version.
    let changed = with(record(&id(3), 3.0), "model", json!("other"));
    let mixed = insert(
        &mut store,
        &[record(&id(20), 20.0), record(&id(20), 20.0), changed],
    );
    assert_eq!((mixed.inserted, mixed.duplicates), (1, 2));
    assert_eq!(store.count(&Filter::default()).expect("count"), 11);
    let kept = store.get(&id(3)).expect("get").expect("stored");
    assert_eq!(kept["model"], "voice-fast");
}

fn malformed_records_are_reported_and_do_not_abort_the_batch(backend: Backend) {
    let dir = Place::new(backend, "malformed");
    let mut store = dir.open();
    let good_a = record(&id(1), 1.0).to_string();
    let good_b = record(&id(2), 2.0).to_string();
    let batch = [
        good_a.as_str(),
        "{not json",
        "[1, 2]",
        r#"{"model": "voice-fast"}"#,
        r#"{"id": 42}"#,
        good_b.as_str(),
        r#"{"id": ""}"#,
    ];
    let summary = store.insert_batch(&batch).expect("the batch goes through");
    assert_eq!(summary.inserted, 2);
    assert_eq!(summary.duplicates, 0);
    let rejected: Vec<usize> = summary.rejected.iter().map(|(i, _)| *i).collect();
    assert_eq!(rejected, vec![1, 2, 3, 4, 6]);
    let why: Vec<&str> = summary.rejected.iter().map(|(_, w)| w.as_str()).collect();
    assert!(why[0].contains("JSON"), "{why:?}");
    assert!(why[2].contains("id"), "{why:?}");
    assert!(store.get(&id(2)).expect("get").is_some());
}

fn a_record_without_a_usable_start_time_is_filed_at_insert_time(backend: Backend) {
    let dir = Place::new(backend, "no-start");
    let mut store = dir.open();
    insert(
        &mut store,
        &[
            record(&id(1), 0.0),
            json!({"id": "late", "start_time": "not a time"}),
            json!({"id": "later"}),
        ],
    );
    let (page, _) = store.list(&Filter::default(), 10, None).expect("list");
    let order = ids(&page);
    assert_eq!(order.len(), 3);
    assert_eq!(order[2], id(1), "the 2025 record is the oldest: {order:?}");
    let recent = Filter::from_pairs([("from", "2026-01-01T00:00:00Z")]).expect("filter");
    assert_eq!(store.count(&recent).expect("count"), 2);
}

#[test]
fn urls_in_every_accepted_form_open() {
    let dir = TempDir::new("urls");
    let mut memory = switchboard_store::open("sqlite::memory:").expect("memory store");
    assert_eq!(insert(&mut memory, &[record("m", 0.0)]).inserted, 1);
    let bare = dir.path().join("nested").join("bare.db");
    let mut store = switchboard_store::open(bare.to_str().expect("utf-8 path")).expect("bare path");
    assert_eq!(insert(&mut store, &[record("b", 0.0)]).inserted, 1);
    assert!(bare.exists());
    assert!(matches!(
        switchboard_store::open("mysql://localhost/logs"),
        Err(StoreError::BadUrl { .. })
    ));
    // A PostgreSQL that is not there is named, without the password.
    let refused = switchboard_store::open("postgres://sb:s3cret@127.0.0.1:1/logs")
        .expect_err("nothing listens on port 1");
    assert!(matches!(refused, StoreError::Connect { .. }), "{refused}");
    let message = refused.to_string();
    assert!(
        message.contains("127.0.0.1:1") && !message.contains("s3cret"),
        "{message}"
    );
}

fn a_writer_and_readers_share_one_file(backend: Backend) {
    let dir = Place::new(backend, "shared");
    let mut writer = dir.open();
    let mut reader = dir.open();
    let writing = std::thread::spawn(move || {
        for chunk in 0..20 {
            let batch: Vec<Value> = (chunk * 50..(chunk + 1) * 50)
                .map(|n| record(&id(n), n as f64))
                .collect();
            assert_eq!(insert(&mut writer, &batch).inserted, 50);
        }
    });
    // A second writer (the API scoring logs) works at the same time: it waits, it does not fail.
    let mut scorer = dir.open();
    insert(&mut scorer, &[record("scored", -1.0)]);
    let scoring = std::thread::spawn(move || {
        for n in 0..200 {
            let score = Score {
                evaluator_slug: "quality".into(),
                value: ScoreValue::Numerical(f64::from(n)),
            };
            scorer
                .put_score("scored", &score)
                .expect("score while inserting");
        }
    });
    let mut last = 0;
    while !writing.is_finished() {
        let count = reader
            .count(&Filter::default())
            .expect("read while writing");
        assert!(
            count >= last && (count - 1).is_multiple_of(50),
            "whole batches only: {count}"
        );
        last = count;
    }
    writing.join().expect("writer");
    scoring.join().expect("scorer");
    assert_eq!(reader.count(&Filter::default()).expect("count"), 1_001);
    let scored = reader.get("scored").expect("get").expect("stored");
    assert_eq!(scored["scores"][0]["numerical_value"], 199.0);
}

both_stores!(
    a_batch_is_stored_and_read_back_field_for_field,
    replaying_a_batch_stores_nothing_twice,
    malformed_records_are_reported_and_do_not_abort_the_batch,
    a_record_without_a_usable_start_time_is_filed_at_insert_time,
    a_writer_and_readers_share_one_file,
);
