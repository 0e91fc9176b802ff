//! Times filtered first pages and filtered export starts on a generated store.
//!
//! ```text
//! cargo run --release -p switchboard-store --example filter_bench -- [--db PATH] [--rows N]
//! ```
//!
//! The store at `PATH` (default `target/bench/filter_bench.db`) is filled to `N` rows (default
//! 300 000) if it holds fewer, in batches of 5 000 records that arrive in time order over 30 days:
//! ~40 % have `metadata.language=es`, 1 % `fr`, the rest `en`; threads are 12 consecutive rows;
//! 3 % of the logs had a `5xx` attempt and 0.5 % have a `quality` score. An existing store of an
//! older schema is upgraded on open, and the time that took is printed. Each query then runs on
//! a fresh connection (the first run includes preparing the statement) and again 7 times; the
//! first time and the median of the repeats are printed.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_store::{Filter, Order, Score, ScoreValue, Store, StoreError};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// 2025-01-01T00:00:00Z.
const BASE: i64 = 1_735_689_600;
const DAYS: i64 = 30;
const BATCH: usize = 5_000;
const REPEATS: usize = 7;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut db = PathBuf::from("target/bench/filter_bench.db");
    let mut rows = 300_000usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--db", Some(path)) => db = PathBuf::from(path),
            ("--rows", Some(n)) => rows = n.parse()?,
            _ => {
                return Err(
                    format!("usage: filter_bench [--db PATH] [--rows N], not {arg:?}").into(),
                );
            }
        }
    }
    let url = format!("sqlite://{}", db.display());

    let started = Instant::now();
    let mut store = Store::open(&url)?;
    println!("open (with any schema upgrade): {}", ms(started.elapsed()));
    let have = usize::try_from(store.count(&Filter::default())?)?;
    if have < rows {
        fill(&mut store, have, rows)?;
    }
    println!(
        "store: {} rows in {}",
        store.count(&Filter::default())?,
        db.display()
    );

    let day = |d: i64| at((d * 86_400) as f64);
    let mid = DAYS / 2;
    let (from, to) = (day(mid), day(mid + 1));
    let thread = format!("call_{}", rows / 24);
    let pages: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("no filter", vec![]),
        (
            "metadata.language=es (common, ~40%)",
            vec![("metadata.language", "es")],
        ),
        (
            "metadata.language=fr (rare, 1%)",
            vec![("metadata.language", "fr")],
        ),
        (
            "metadata.language=xx (absent)",
            vec![("metadata.language", "xx")],
        ),
        (
            "metadata.language=es + 1-day range",
            vec![("metadata.language", "es"), ("from", &from), ("to", &to)],
        ),
        ("1-day range only", vec![("from", &from), ("to", &to)]),
        (
            "thread_identifier (12 rows)",
            vec![("thread_identifier", &thread)],
        ),
        (
            "thread + metadata.language=es",
            vec![("thread_identifier", &thread), ("metadata.language", "es")],
        ),
        (
            "metadata.language=es + metadata.tenant=t7 (2%)",
            vec![("metadata.language", "es"), ("metadata.tenant", "t7")],
        ),
        (
            "metadata.language=es + metadata.tenant=none (absent)",
            vec![("metadata.language", "es"), ("metadata.tenant", "none")],
        ),
        (
            "metadata.language=es + model=typo (absent)",
            vec![("metadata.language", "es"), ("model", "typo")],
        ),
        (
            "metadata.language=es + status=error (2%)",
            vec![("metadata.language", "es"), ("status", "error")],
        ),
        ("error_kind=5xx (3%)", vec![("error_kind", "5xx")]),
        ("score.quality=1 (0.5%)", vec![("score.quality", "1")]),
        (
            "time_to_first_token.gt=1.0 (5%, no index: bounded scan)",
            vec![("time_to_first_token.gt", "1.0")],
        ),
        (
            "time_to_first_token.gt=0.55 (50%, no index: bounded scan)",
            vec![("time_to_first_token.gt", "0.55")],
        ),
        (
            "metadata.language.in=es,fr + time_to_first_token.gt=1.0",
            vec![
                ("metadata.language.in", "es,fr"),
                ("time_to_first_token.gt", "1.0"),
            ],
        ),
    ];

    println!("\nfirst page, limit 50: first run / median of {REPEATS}");
    for (name, pairs) in &pages {
        let filter = Filter::from_pairs(pairs.iter().copied())?;
        let (first, median) = timed(&url, |store| {
            let (page, _) = store.list(&filter, 50, None)?;
            Ok(page.len())
        })?;
        println!(
            "  {name:<55} {:>10} {:>10}  ({} rows)",
            ms(first.0),
            ms(median),
            first.1
        );
    }

    println!("\nsecond page (with the first page's cursor), limit 50");
    for (name, pairs) in &pages[1..3] {
        let filter = Filter::from_pairs(pairs.iter().copied())?;
        let (_, cursor) = store.list(&filter, 50, None)?;
        let (first, median) = timed(&url, |store| {
            let (page, _) = store.list(&filter, 50, cursor.as_deref())?;
            Ok(page.len())
        })?;
        println!("  {name:<55} {:>10} {:>10}", ms(first.0), ms(median));
    }

    println!("\nfiltered export (for_each): time to the first row");
    for (name, pairs) in &pages[1..5] {
        let filter = Filter::from_pairs(pairs.iter().copied())?;
        for order in [Order::OldestFirst, Order::NewestFirst] {
            let (first, median) = timed(&url, |store| first_row(store, &filter, order))?;
            println!(
                "  {:<55} {:>10} {:>10}",
                format!("{name}, {order:?}"),
                ms(first.0),
                ms(median)
            );
        }
    }

    println!("\nwhole export of a range filter (conditions checked row by row)");
    for (name, pairs) in [
        (
            "time_to_first_token.gt=1.0 (5%)",
            [("time_to_first_token.gt", "1.0")],
        ),
        (
            "time_to_first_token.gt=0.55 (50%)",
            [("time_to_first_token.gt", "0.55")],
        ),
    ] {
        let filter = Filter::from_pairs(pairs)?;
        let started = Instant::now();
        let mut exported = 0usize;
        let mut bytes = 0usize;
        Store::open(&url)?.for_each(&filter, Order::OldestFirst, None, &mut |text, _| {
            exported += 1;
            bytes += text.len();
            Ok(())
        })?;
        let took = started.elapsed();
        println!(
            "  {name:<40} {exported} rows in {} ({:.0} rows/s, {:.0} MB/s of records)",
            ms(took),
            exported as f64 / took.as_secs_f64(),
            bytes as f64 / 1e6 / took.as_secs_f64()
        );
    }

    println!("\nwhole filtered export and count of metadata.language=es");
    let spanish = Filter::from_pairs([("metadata.language", "es")])?;
    let started = Instant::now();
    let mut exported = 0usize;
    Store::open(&url)?.for_each(&spanish, Order::OldestFirst, None, &mut |_, _| {
        exported += 1;
        Ok(())
    })?;
    println!("  export: {exported} rows in {}", ms(started.elapsed()));
    let started = Instant::now();
    let counted = Store::open(&url)?.count(&spanish)?;
    println!("  count: {counted} in {}", ms(started.elapsed()));
    Ok(())
}

/// Runs `query` once on a fresh connection, then `REPEATS` times; the first run (with its
/// result) and the median of the repeats.
fn timed<T>(
    url: &str,
    mut query: impl FnMut(&Store) -> Result<T, StoreError>,
) -> Result<((Duration, T), Duration), StoreError> {
    let store = Store::open(url)?;
    let started = Instant::now();
    let result = query(&store)?;
    let first = (started.elapsed(), result);
    let mut runs = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        let started = Instant::now();
        query(&store)?;
        runs.push(started.elapsed());
    }
    runs.sort();
    Ok((first, runs[REPEATS / 2]))
}

/// Starts an export and stops it at its first row.
fn first_row(store: &Store, filter: &Filter, order: Order) -> Result<(), StoreError> {
    let result = store.for_each(filter, order, None, &mut |_, _| {
        Err(StoreError::Aborted("first row".into()))
    });
    match result {
        Err(StoreError::Aborted(_)) | Ok(()) => Ok(()),
        Err(other) => Err(other),
    }
}

fn fill(store: &mut Store, have: usize, rows: usize) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let spacing = (DAYS * 86_400) as f64 / rows as f64;
    let mut n = have;
    while n < rows {
        let end = (n + BATCH).min(rows);
        let texts: Vec<String> = (n..end)
            .map(|i| generated(i, i as f64 * spacing).to_string())
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        store.insert_batch(&refs)?;
        n = end;
    }
    let inserted = started.elapsed();
    let scored = Instant::now();
    let quality = Score {
        evaluator_slug: "quality".into(),
        value: ScoreValue::Numerical(1.0),
    };
    for i in (have..rows).filter(|i| mix(*i as u64 ^ 0x5c0e).is_multiple_of(200)) {
        store.put_score(&id(i), &quality)?;
    }
    println!(
        "filled {} rows in {} ({:.0} rows/s), scores in {}",
        rows - have,
        ms(inserted),
        (rows - have) as f64 / inserted.as_secs_f64(),
        ms(scored.elapsed())
    );
    Ok(())
}

/// A record shaped like the gateway's, `seconds` after `BASE`.
fn generated(i: usize, seconds: f64) -> Value {
    let h = mix(i as u64);
    let language = match h % 100 {
        0 => "fr",
        1..=40 => "es",
        _ => "en",
    };
    let failed = (h >> 8) % 100 < 2;
    let retried = (h >> 16) % 100 < 3;
    let attempts = if retried {
        json!([{"provider_id": "groq", "status_code": 503, "error_kind": "5xx", "latency": 0.2},
               {"provider_id": "openai", "status_code": 200, "error_kind": null, "latency": 0.41}])
    } else {
        json!([{"provider_id": "openai", "status_code": 200, "error_kind": null, "latency": 0.41}])
    };
    json!({
        "id": id(i), "timestamp": at(seconds + 0.412), "start_time": at(seconds),
        "log_type": "chat", "model": if h.is_multiple_of(2) { "voice-fast" } else { "voice-smart" },
        "provider_id": "openai", "provider_model": "gpt-4o-mini", "stream": true,
        "status_code": if failed { 502 } else { 200 },
        "status": if failed { "error" } else { "success" },
        "error_message": null, "latency": 0.412, "max_stall": 0.02,
        // Uniform over [0.05, 1.05) s: `> 1.0` is 5 % of the rows, `> 0.55` half of them.
        "time_to_first_token": 0.05 + ((h >> 40) % 1_000) as f64 / 1_000.0,
        "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160},
        "cost": 0.0000123,
        "input": [{"role": "system", "content": "You are a helpful voice agent for a clinic."},
                  {"role": "user", "content": format!("hola, necesito una cita {i}")}],
        "output": {"role": "assistant", "content": "¡Claro! ¿Para qué día le gustaría la cita?"},
        "tools": [], "response_format": null,
        "customer_identifier": format!("acct_{}", (h >> 24) % 200),
        "thread_identifier": format!("call_{}", i / 12),
        "metadata": {"language": language, "use_case": "intent",
                     "tenant": format!("t{}", (h >> 32) % 50)},
        "trace_unique_id": null, "span_unique_id": null, "span_parent_id": null,
        "retries": u8::from(retried), "fallback_used": retried, "json_valid": true,
        "attempts": attempts, "warnings": []
    })
}

/// A well-mixed hash of `n` (splitmix64), so that the attributes do not follow the row order.
fn mix(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn id(i: usize) -> String {
    format!("log-{i:08}")
}

fn at(seconds: f64) -> String {
    let nanos = i128::from(BASE) * 1_000_000_000 + (seconds * 1e9).round() as i128;
    OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}
