//! An analyst exports every log (or a filtered slice) as JSONL, for millions of rows.

mod common;

use common::*;
use serde_json::{Value, json};
use switchboard_store::{Filter, Order, Store, StoreError};

fn for_each_visits_every_row_of_a_twenty_thousand_row_store_in_order(backend: Backend) {
    let dir = Place::new(backend, "export");
    let mut store = dir.open();
    for chunk in 0..20 {
        let batch: Vec<Value> = (chunk * 1_000..(chunk + 1) * 1_000)
            .map(|n| {
                let language = if n % 4 == 0 { "es" } else { "en" };
                let mut r = json!({
                    "id": id(n), "start_time": at((n / 2) as f64), "model": "voice-fast",
                    "metadata": {"language": language},
                });
                if n % 10 == 0 {
                    r["attempts"] = json!([{"error_kind": "timeout"}]);
                }
                r
            })
            .collect();
        assert_eq!(insert(&mut store, &batch).inserted, 1_000);
    }

    for order in [Order::OldestFirst, Order::NewestFirst] {
        let mut next = 0usize;
        store
            .for_each(&Filter::default(), order, None, &mut |record, cursor| {
                let expected = match order {
                    Order::OldestFirst => next,
                    Order::NewestFirst => 19_999 - next,
                };
                let record: Value =
                    serde_json::from_str(record).map_err(|e| StoreError::Aborted(Box::new(e)))?;
                assert_eq!(record["id"], id(expected), "{order:?} row {next}");
                assert!(!cursor.is_empty());
                next += 1;
                Ok(())
            })
            .expect("export");
        assert_eq!(next, 20_000, "{order:?}");
    }

    // A filtered export through a side table sees exactly its rows, in order.
    let timeouts = Filter::from_pairs([("error_kind", "timeout"), ("metadata.language", "es")])
        .expect("filter");
    let mut seen = Vec::new();
    store
        .for_each(&timeouts, Order::OldestFirst, None, &mut |record, _| {
            let record: Value =
                serde_json::from_str(record).map_err(|e| StoreError::Aborted(Box::new(e)))?;
            seen.push(record["id"].as_str().unwrap_or_default().to_owned());
            Ok(())
        })
        .expect("filtered export");
    let expected: Vec<String> = (0..20_000).filter(|n| n % 20 == 0).map(id).collect();
    assert_eq!(seen, expected);
}

fn an_export_stopped_by_the_caller_resumes_from_the_last_cursor(backend: Backend) {
    let dir = Place::new(backend, "export-resume");
    let mut store = dir.open();
    let batch: Vec<Value> = (0..50).map(|n| record(&id(n), n as f64)).collect();
    insert(&mut store, &batch);

    let mut seen = Vec::new();
    let mut last_cursor = String::new();
    let stopped = store.for_each(&Filter::default(), Order::OldestFirst, None, &mut |r, c| {
        if seen.len() == 20 {
            return Err(StoreError::Aborted("client went away".into()));
        }
        seen.push(serde_json::from_str::<Value>(r)?["id"].clone());
        last_cursor = c.to_owned();
        Ok(())
    });
    assert!(matches!(stopped, Err(StoreError::Aborted(_))));
    assert_eq!(seen.len(), 20);

    store
        .for_each(
            &Filter::default(),
            Order::OldestFirst,
            Some(&last_cursor),
            &mut |r, _| {
                seen.push(serde_json::from_str::<Value>(r)?["id"].clone());
                Ok(())
            },
        )
        .expect("resumed export");
    let expected: Vec<Value> = (0..50).map(|n| json!(id(n))).collect();
    assert_eq!(seen, expected);
}

fn an_export_resumes_after_the_last_id_it_wrote(backend: Backend) {
    let dir = Place::new(backend, "export-cursor-of");
    let mut store = dir.open();
    // Three rows share a start time, so the id breaks the tie.
    let batch: Vec<Value> = (0..30).map(|n| record(&id(n), (n / 3) as f64)).collect();
    insert(&mut store, &batch);
    assert_eq!(store.cursor_of("no-such-log").expect("lookup"), None);
    for order in [Order::NewestFirst, Order::OldestFirst] {
        let mut all = Vec::new();
        store
            .for_each(&Filter::default(), order, None, &mut |r, _| {
                all.push(
                    serde_json::from_str::<Value>(r)?["id"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                );
                Ok(())
            })
            .expect("export");
        let last_written = &all[13];
        let cursor = store
            .cursor_of(last_written)
            .expect("lookup")
            .expect("known id");
        let mut rest = Vec::new();
        store
            .for_each(&Filter::default(), order, Some(&cursor), &mut |r, _| {
                rest.push(
                    serde_json::from_str::<Value>(r)?["id"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                );
                Ok(())
            })
            .expect("resumed export");
        assert_eq!(rest, all[14..], "{order:?}");
    }
}

fn a_filtered_export_resumes_after_the_last_id_it_wrote_in_either_order(backend: Backend) {
    let dir = Place::new(backend, "export-filtered-resume");
    let mut store = dir.open();
    // Three rows share a start time; every other row matches.
    let batch: Vec<Value> = (0..60)
        .map(|n| {
            let language = if n % 2 == 0 { "es" } else { "en" };
            let mut r = with(
                record(&id(n), (n / 3) as f64),
                "metadata",
                json!({"language": language}),
            );
            if n % 4 == 0 {
                r["attempts"] = json!([{"error_kind": "5xx"}]);
            }
            r
        })
        .collect();
    insert(&mut store, &batch);
    let read = |store: &mut Store, filter: &Filter, order, after: Option<&str>| {
        let mut ids = Vec::new();
        store
            .for_each(filter, order, after, &mut |r, _| {
                ids.push(
                    serde_json::from_str::<Value>(r)?["id"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                );
                Ok(())
            })
            .expect("export");
        ids
    };
    let filters = [
        (
            Filter::from_pairs([("metadata.language", "es")]).expect("filter"),
            2,
        ),
        (
            Filter::from_pairs([("error_kind", "5xx")]).expect("filter"),
            4,
        ),
    ];
    for (filter, every) in &filters {
        for order in [Order::OldestFirst, Order::NewestFirst] {
            let all = read(&mut store, filter, order, None);
            let mut expected: Vec<String> = (0..60).filter(|n| n % every == 0).map(id).collect();
            if order == Order::NewestFirst {
                expected.reverse();
            }
            assert_eq!(all, expected, "{filter:?} {order:?}");
            for split in [0, 4, 7, all.len() - 1] {
                let cursor = store
                    .cursor_of(&all[split])
                    .expect("lookup")
                    .expect("known id");
                let rest = read(&mut store, filter, order, Some(&cursor));
                assert_eq!(rest, all[split + 1..], "{filter:?} {order:?} after {split}");
            }
        }
    }
}

both_stores!(
    for_each_visits_every_row_of_a_twenty_thousand_row_store_in_order,
    an_export_stopped_by_the_caller_resumes_from_the_last_cursor,
    an_export_resumes_after_the_last_id_it_wrote,
    a_filtered_export_resumes_after_the_last_id_it_wrote_in_either_order,
);
