//! Evaluators and reviewers score logs; the logs API shows and filters by those scores.

mod common;

use common::*;
use serde_json::json;
use switchboard_store::{Filter, Score, ScoreValue, Store, StoreError};

fn score(slug: &str, value: ScoreValue) -> Score {
    Score {
        evaluator_slug: slug.into(),
        value,
    }
}

fn scored(store: &mut Store, pairs: &[(&str, &str)]) -> Vec<String> {
    let filter = Filter::from_pairs(pairs.iter().copied()).expect("filter");
    let (page, _) = store.list(&filter, 100, None).expect("list");
    let mut found = ids(&page);
    found.sort();
    found
}

fn a_second_score_by_the_same_evaluator_replaces_the_first(backend: Backend) {
    let dir = Place::new(backend, "score-replace");
    let mut store = dir.open();
    insert(&mut store, &[record("a", 0.0)]);
    store
        .put_score("a", &score("quality", ScoreValue::Numerical(0.2)))
        .expect("first score");
    store
        .put_score("a", &score("quality", ScoreValue::Numerical(0.9)))
        .expect("second score");
    store
        .put_score("a", &score("polite", ScoreValue::Boolean(true)))
        .expect("other evaluator");

    let log = store.get("a").expect("get").expect("stored");
    let scores = log["scores"].as_array().expect("scores array");
    assert_eq!(scores.len(), 2, "{scores:?}");
    assert_eq!(scores[0]["evaluator_slug"], "polite");
    assert_eq!(scores[0]["boolean_value"], true);
    assert_eq!(scores[1]["evaluator_slug"], "quality");
    assert_eq!(scores[1]["numerical_value"], 0.9);
    assert!(scores[1]["created_at"].is_string());

    assert_eq!(scored(&mut store, &[("score.quality", "0.9")]), ["a"]);
    assert!(scored(&mut store, &[("score.quality", "0.2")]).is_empty());
}

fn every_kind_of_score_is_shown_and_filterable(backend: Backend) {
    let dir = Place::new(backend, "score-kinds");
    let mut store = dir.open();
    insert(
        &mut store,
        &[record("a", 0.0), record("b", 1.0), record("c", 2.0)],
    );
    let put = |store: &mut Store, id: &str, s: Score| store.put_score(id, &s).expect("score");
    put(&mut store, "a", score("rating", ScoreValue::Numerical(1.0)));
    put(&mut store, "b", score("rating", ScoreValue::Numerical(4.5)));
    put(
        &mut store,
        "a",
        score("resolved", ScoreValue::Boolean(true)),
    );
    put(
        &mut store,
        "b",
        score("resolved", ScoreValue::Boolean(false)),
    );
    let tags = ScoreValue::Categorical(vec!["rude".into(), "off_topic".into()]);
    put(&mut store, "c", score("tags", tags));
    put(
        &mut store,
        "a",
        score("tags", ScoreValue::Categorical(vec!["ok".into()])),
    );
    put(
        &mut store,
        "c",
        score("note", ScoreValue::String("asked twice".into())),
    );

    assert_eq!(scored(&mut store, &[("score.rating", "1")]), ["a"]);
    assert_eq!(
        scored(&mut store, &[("score.rating", "1.0")]),
        ["a"],
        "by value"
    );
    assert_eq!(scored(&mut store, &[("score.rating", "4.5")]), ["b"]);
    assert_eq!(scored(&mut store, &[("score.resolved", "false")]), ["b"]);
    assert_eq!(scored(&mut store, &[("score.tags", "off_topic")]), ["c"]);
    assert_eq!(scored(&mut store, &[("score.tags", "ok")]), ["a"]);
    assert_eq!(scored(&mut store, &[("score.note", "asked twice")]), ["c"]);
    assert_eq!(
        scored(
            &mut store,
            &[("score.rating", "1"), ("score.resolved", "true")]
        ),
        ["a"]
    );
    assert!(scored(&mut store, &[("score.unknown_evaluator", "1")]).is_empty());

    let c = store.get("c").expect("get").expect("stored");
    assert_eq!(
        c["scores"],
        json!([
            {"evaluator_slug": "note", "string_value": "asked twice",
             "created_at": c["scores"][0]["created_at"]},
            {"evaluator_slug": "tags", "categorical_value": ["rude", "off_topic"],
             "created_at": c["scores"][1]["created_at"]},
        ])
    );

    // Replacing a categorical score drops its old categories from the filter.
    put(
        &mut store,
        "c",
        score("tags", ScoreValue::Categorical(vec!["ok".into()])),
    );
    assert!(scored(&mut store, &[("score.tags", "rude")]).is_empty());
    assert_eq!(scored(&mut store, &[("score.tags", "ok")]), ["a", "c"]);
}

fn scoring_a_log_that_does_not_exist_is_not_found(backend: Backend) {
    let dir = Place::new(backend, "score-missing");
    let mut store = dir.open();
    let result = store.put_score("ghost", &score("quality", ScoreValue::Numerical(1.0)));
    assert!(matches!(result, Err(StoreError::NotFound(id)) if id == "ghost"));
    insert(&mut store, &[record("a", 0.0)]);
    let bad = store.put_score("a", &score("quality", ScoreValue::Numerical(f64::NAN)));
    assert!(matches!(bad, Err(StoreError::BadScore(_))));
    let from_api = Score::from_json(&json!({"evaluator_slug": "quality", "numerical_value": 3}))
        .expect("API body");
    store.put_score("a", &from_api).expect("score from the API");
    assert_eq!(scored(&mut store, &[("score.quality", "3")]), ["a"]);
}

both_stores!(
    a_second_score_by_the_same_evaluator_replaces_the_first,
    every_kind_of_score_is_shown_and_filterable,
    scoring_a_log_that_does_not_exist_is_not_found,
);
