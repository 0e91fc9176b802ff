//! A dashboard pages through the logs, newest first, while the gateway keeps writing.

mod common;

use std::collections::HashSet;

use common::*;
use serde_json::{Value, json};
use switchboard_store::{Filter, Store, StoreError};

/// 250 records, three per second (so start times tie and the id breaks the tie).
fn seeded(backend: Backend, name: &str) -> (Place, Store) {
    let dir = Place::new(backend, name);
    let mut store = dir.open();
    let batch: Vec<Value> = (0..250).map(|n| record(&id(n), (n / 3) as f64)).collect();
    assert_eq!(insert(&mut store, &batch).inserted, 250);
    (dir, store)
}

fn expected_newest_first() -> Vec<String> {
    (0..250).rev().map(id).collect()
}

fn two_hundred_fifty_rows_by_hundred_are_three_pages_newest_first(backend: Backend) {
    let (_dir, mut store) = seeded(backend, "pages");
    let all = Filter::default();
    let (first, cursor) = store.list(&all, 100, None).expect("page 1");
    let (second, cursor) = store.list(&all, 100, cursor.as_deref()).expect("page 2");
    let cursor = cursor.expect("a third page");
    let (third, end) = store.list(&all, 100, Some(&cursor)).expect("page 3");
    assert_eq!((first.len(), second.len(), third.len()), (100, 100, 50));
    assert_eq!(end, None, "the last page has no next cursor");
    let seen: Vec<String> = [first, second, third].iter().flat_map(|p| ids(p)).collect();
    assert_eq!(seen, expected_newest_first());
}

fn pages_stay_stable_when_rows_arrive_between_reads(backend: Backend) {
    // Every record matches these filters, read off different indexes: the time index, the
    // metadata side table, a column index.
    let filters: [&[(&str, &str)]; 4] = [
        &[],
        &[("metadata.language", "es")],
        &[("metadata.language", "es"), ("metadata.use_case", "intent")],
        &[("model", "voice-fast")],
    ];
    for pairs in filters {
        let filter = Filter::from_pairs(pairs.iter().copied()).expect("filter");
        pages_stay_stable(backend, &filter, &format!("{pairs:?}"));
    }
}

fn pages_stay_stable(backend: Backend, filter: &Filter, what: &str) {
    let (_dir, mut store) = seeded(backend, "stable");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let (page, next) = store.list(filter, 100, cursor.as_deref()).expect("page");
        seen.extend(ids(&page));
        pages += 1;
        // New traffic lands between two page reads: newer than anything read so far, at the very
        // instant of rows already read, and (a late record) older than everything.
        let fresh: Vec<Value> = (0..30)
            .map(|n| record(&format!("new-{pages}-{n:02}"), 1_000.0 + n as f64))
            .chain([record(&format!("tie-{pages}"), 82.0)])
            .chain([record(&format!("old-{pages}"), -10.0)])
            .collect();
        insert(&mut store, &fresh);
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3, "{what}");
    let unique: HashSet<&String> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "{what}: no row twice");
    let original: Vec<String> = seen
        .iter()
        .filter(|id| id.starts_with("log-"))
        .cloned()
        .collect();
    assert_eq!(
        original,
        expected_newest_first(),
        "{what}: none missing, in order"
    );
    assert!(
        seen.iter()
            .all(|id| !id.starts_with("new-") && !id.starts_with("tie-")),
        "{what}: rows ahead of the cursor do not leak into later pages"
    );
    assert_eq!(
        seen[250..],
        ["old-2", "old-1"],
        "{what}: rows behind the cursor show up where they belong"
    );
    assert_eq!(store.count(filter).expect("count"), 250 + 3 * 32, "{what}");
}

fn a_filtered_listing_pages_too(backend: Backend) {
    let dir = Place::new(backend, "filtered-pages");
    let mut store = dir.open();
    let batch: Vec<Value> = (0..250)
        .map(|n| {
            let language = if n % 2 == 0 { "es" } else { "en" };
            with(
                record(&id(n), n as f64),
                "metadata",
                json!({"language": language}),
            )
        })
        .collect();
    insert(&mut store, &batch);
    let spanish = Filter::from_pairs([("metadata.language", "es")]).expect("filter");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let (page, next) = store.list(&spanish, 40, cursor.as_deref()).expect("page");
        seen.extend(ids(&page));
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (0..250).rev().filter(|n| n % 2 == 0).map(id).collect();
    assert_eq!(seen, expected);
}

fn a_cursor_that_is_not_ours_is_refused(backend: Backend) {
    let (_dir, mut store) = seeded(backend, "bad-cursor");
    for junk in ["", "hello", "0193abc", "zz"] {
        assert!(
            matches!(
                store.list(&Filter::default(), 10, Some(junk)),
                Err(StoreError::BadCursor(_))
            ),
            "{junk:?}"
        );
    }
}

fn a_metadata_listing_in_a_time_range_pages_through_exactly_that_range(backend: Backend) {
    let dir = Place::new(backend, "range-pages");
    let mut store = dir.open();
    // Two records per second, so pages end in the middle of a tie.
    let batch: Vec<Value> = (0..300)
        .map(|n| {
            let language = if n % 3 == 0 { "en" } else { "es" };
            with(
                record(&id(n), (n / 2) as f64),
                "metadata",
                json!({"language": language}),
            )
        })
        .collect();
    insert(&mut store, &batch);
    let (from, to) = (at(20.0), at(120.0));
    let spanish = Filter::from_pairs([
        ("metadata.language", "es"),
        ("from", from.as_str()),
        ("to", to.as_str()),
    ])
    .expect("filter");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let (page, next) = store.list(&spanish, 7, cursor.as_deref()).expect("page");
        seen.extend(ids(&page));
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let expected: Vec<String> = (40..240).rev().filter(|n| n % 3 != 0).map(id).collect();
    assert_eq!(seen, expected);
    assert_eq!(store.count(&spanish).expect("count"), expected.len() as u64);
}

fn pages_cross_days_in_order_with_and_without_a_filter(backend: Backend) {
    let dir = Place::new(backend, "day-pages");
    let mut store = dir.open();
    // 90 records over four days (PostgreSQL keeps a partition per day), every third Spanish.
    let batch: Vec<Value> = (0..90)
        .map(|n| {
            let language = if n % 3 == 0 { "es" } else { "en" };
            with(
                record(&id(n), n as f64 * 3_600.0),
                "metadata",
                json!({"language": language}),
            )
        })
        .collect();
    assert_eq!(insert(&mut store, &batch).inserted, 90);
    for (pairs, every) in [(vec![], 1), (vec![("metadata.language", "es")], 3)] {
        let filter = Filter::from_pairs(pairs.iter().copied()).expect("filter");
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let (page, next) = store.list(&filter, 7, cursor.as_deref()).expect("page");
            seen.extend(ids(&page));
            match next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        let expected: Vec<String> = (0..90).rev().filter(|n| n % every == 0).map(id).collect();
        assert_eq!(seen, expected, "{pairs:?}");
    }
}

both_stores!(
    pages_cross_days_in_order_with_and_without_a_filter,
    two_hundred_fifty_rows_by_hundred_are_three_pages_newest_first,
    pages_stay_stable_when_rows_arrive_between_reads,
    a_filtered_listing_pages_too,
    a_cursor_that_is_not_ours_is_refused,
    a_metadata_listing_in_a_time_range_pages_through_exactly_that_range,
);
