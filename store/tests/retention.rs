//! An operator keeps 14 days of logs: older ones go, with their scores and their metadata,
//! a batch at a time in SQLite and a day at a time in PostgreSQL; recent ones stay.

mod common;

use common::*;
use serde_json::json;
use switchboard_store::{Filter, Score, ScoreValue};
use time::OffsetDateTime;

fn logs_older_than_the_retention_go_with_their_scores_and_metadata(backend: Backend) {
    let dir = Place::new(backend, "retention");
    let mut store = dir.open();
    let now = OffsetDateTime::now_utc();
    let day = 86_400.0;
    let base = common::BASE as f64;
    let ago = |days: f64| now.unix_timestamp() as f64 - base - days * day;
    let records: Vec<_> = (0..1_200)
        .map(|n| {
            let age = if n < 700 { 20.0 } else { 1.0 };
            let mut r = record(&id(n), ago(age) + n as f64);
            r["metadata"] = json!({"language": if n < 700 { "old" } else { "new" }});
            r
        })
        .collect();
    for chunk in records.chunks(400) {
        insert(&mut store, chunk);
    }
    let score = Score {
        evaluator_slug: "quality".into(),
        value: ScoreValue::Numerical(1.0),
    };
    store.put_score(&id(3), &score).unwrap();
    store.put_score(&id(900), &score).unwrap();

    let mut batches = Vec::new();
    let removed = store
        .expire_older_than(14, now, &mut |n| {
            batches.push(n);
            true
        })
        .unwrap();
    assert_eq!(removed, 700);
    match backend {
        Backend::Sqlite => assert_eq!(batches, [500, 200], "deleted in short batches"),
        // Whole days: the 700 old logs span one day, or two when they straddle midnight.
        Backend::Postgres => {
            assert!(
                batches.len() <= 2 && batches.iter().all(|&n| n > 0),
                "{batches:?}"
            )
        }
    }
    assert_eq!(store.count(&Filter::default()).unwrap(), 500);
    let by = |key: &str, value: &str| Filter::from_pairs([(key, value)]).unwrap();
    assert_eq!(store.count(&by("metadata.language", "old")).unwrap(), 0);
    assert_eq!(store.count(&by("metadata.language", "new")).unwrap(), 500);
    assert_eq!(store.count(&by("score.quality", "1")).unwrap(), 1);
    assert!(store.get(&id(3)).unwrap().is_none());
    assert!(store.get(&id(900)).unwrap().is_some());
    // A second pass finds nothing left to do.
    assert_eq!(store.expire_older_than(14, now, &mut |_| true).unwrap(), 0);
}

both_stores!(logs_older_than_the_retention_go_with_their_scores_and_metadata,);
