//! A team moves from one machine's SQLite to a shared PostgreSQL: for the same records, both
//! stores give the same answers, byte for byte — every page and cursor, both export orders,
//! page-numbered reads, counts, threads, traces and single logs — over filters of every kind.

mod common;

use common::*;
use serde_json::{Value, json};
use switchboard_store::{Filter, Order, Score, ScoreValue, Store};

/// 300 records over three days: languages, tenants, threads of 10, some failed attempts,
/// some scored, a trace, some JSON checks.
fn dataset() -> Vec<Value> {
    (0..300)
        .map(|n| {
            let mut r = record(&id(n), n as f64 * 877.0);
            let language = ["es", "en", "pt"][n % 3];
            r["metadata"] = json!({"language": language,
                                   "tenant": format!("t{}", n % 7)});
            r["thread_identifier"] = json!(format!("call_{}", n / 10));
            r["time_to_first_token"] = json!(0.05 + (n % 20) as f64 * 0.05);
            if n % 11 == 0 {
                r["attempts"] = json!([{"provider_id": "groq", "error_kind": "5xx"},
                                       {"provider_id": "openai", "error_kind": null}]);
                r["fallback_used"] = json!(true);
            }
            if n % 13 == 0 {
                r["json_valid"] = json!(false);
                r["status"] = json!("error");
            }
            if n < 5 {
                r["trace_unique_id"] = json!("trace-1");
                r["span_unique_id"] = json!(format!("s{n}"));
                r["span_parent_id"] = if n == 0 { Value::Null } else { json!("s0") };
            }
            r
        })
        .collect()
}

/// Everything a user can read for one filter: pages of 7 with their cursors, both exports
/// with their cursors, and the count.
fn answers(store: &mut Store, pairs: &[(&str, &str)]) -> Vec<String> {
    let filter = Filter::from_pairs(pairs.iter().copied()).expect("filter");
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let (page, next) = store.list(&filter, 7, cursor.as_deref()).expect("page");
        out.push(serde_json::to_string(&page).expect("json"));
        out.push(format!("{next:?}"));
        match next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    for order in [Order::OldestFirst, Order::NewestFirst] {
        store
            .for_each(&filter, order, None, &mut |record, cursor| {
                out.push(format!("{record} @ {cursor}"));
                Ok(())
            })
            .expect("export");
    }
    // Page-numbered reads, as Respan's list API does them.
    for order in [Order::OldestFirst, Order::NewestFirst] {
        for offset in [0, 10, 25] {
            let page = store.page_at(&filter, order, offset, 10).expect("page at");
            out.push(serde_json::to_string(&page).expect("json"));
        }
    }
    out.push(store.count(&filter).expect("count").to_string());
    out
}

/// A log as `get` gives it, without the scores' `created_at` (the time each store wrote it).
fn log(store: &mut Store, id: &str) -> Value {
    let mut record = store.get(id).expect("get").expect("stored");
    for score in record["scores"].as_array_mut().into_iter().flatten() {
        score.as_object_mut().map(|s| s.remove("created_at"));
    }
    record
}

#[test]
fn sqlite_and_postgres_answer_the_same_for_the_same_records() {
    let places = [
        Place::new(Backend::Sqlite, "same-sqlite"),
        Place::new(Backend::Postgres, "same-postgres"),
    ];
    let mut stores: Vec<Store> = places.iter().map(Place::open).collect();
    let records = dataset();
    for store in &mut stores {
        for chunk in records.chunks(64) {
            insert(store, chunk);
        }
        for (n, value) in [
            (3, ScoreValue::Numerical(1.0)),
            (40, ScoreValue::Boolean(true)),
            (
                41,
                ScoreValue::Categorical(vec!["rude".into(), "long".into()]),
            ),
            (250, ScoreValue::Numerical(0.5)),
        ] {
            let score = Score {
                evaluator_slug: "quality".into(),
                value,
            };
            store.put_score(&id(n), &score).expect("score");
        }
    }
    let filters: [&[(&str, &str)]; 16] = [
        &[],
        &[("metadata.language", "es")],
        &[("metadata.language", "es"), ("metadata.tenant", "t3")],
        &[("metadata.language", "xx")],
        &[
            ("from", "2025-01-01T12:00:00Z"),
            ("to", "2025-01-02T12:00:00Z"),
        ],
        &[
            ("metadata.language", "pt"),
            ("from", "2025-01-02T00:00:00Z"),
        ],
        &[("error_kind", "5xx")],
        &[("fallback_used", "true"), ("metadata.language", "en")],
        &[("json_valid", "false")],
        &[("status", "error"), ("thread_identifier", "call_13")],
        &[("score.quality", "1.0")],
        &[("score.quality", "rude")],
        &[("time_to_first_token.gt", "0.5")],
        &[
            ("metadata.tenant.in", "t1,t2"),
            ("time_to_first_token.lte", "0.3"),
        ],
        &[("metadata.language.not", "es"), ("error_kind.not", "5xx")],
        &[
            ("model.startswith", "voice"),
            ("metadata.tenant.endswith", "6"),
        ],
    ];
    for pairs in filters {
        let [sqlite, postgres] = &mut stores[..] else {
            unreachable!("two stores")
        };
        let (a, b) = (answers(sqlite, pairs), answers(postgres, pairs));
        assert_eq!(a.len(), b.len(), "{pairs:?}");
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y, "{pairs:?}");
        }
    }
    let [sqlite, postgres] = &mut stores[..] else {
        unreachable!("two stores")
    };
    assert_eq!(
        sqlite.thread("call_4").unwrap(),
        postgres.thread("call_4").unwrap()
    );
    assert_eq!(
        sqlite.trace("trace-1").unwrap(),
        postgres.trace("trace-1").unwrap()
    );
    for n in [0, 3, 41, 299] {
        assert_eq!(log(sqlite, &id(n)), log(postgres, &id(n)), "log {n}");
    }
}
