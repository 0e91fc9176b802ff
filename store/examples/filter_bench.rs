//! Seeds a store with generated records and times what its users do with it: inserts, filtered
//! first pages, threads, exports, a retention pass. Either store, side by side:
//!
//! ```text
//! cargo run --release -p switchboard-store --example filter_bench -- \
//!     [--db PATH | --url URL | --postgres] [--rows N] [--writers W] [--retention]
//! ```
//!
//! `--db PATH` is a SQLite file (default `target/bench/filter_bench.db`), `--url` any store URL,
//! `--postgres` a private PostgreSQL started for the run (durable settings:
//! `SWITCHBOARD_PG_DURABLE=1` is set; its data is removed at the end). The store is filled to
//! `N` rows (default 300 000) if it holds fewer, by `W` writers (default 1) in batches of `B`
//! (`--batch`, default 500), records arriving in time order over `D` days (`--days`, default 30):
//! ~40 % have `metadata.language=es`, 1 % `fr`, the rest `en`; threads are 50 consecutive rows;
//! 3 % of the logs had a `5xx` attempt and 0.5 % have a `quality` score. An existing store of an
//! older schema is upgraded on open, and the time that took is printed. Each query then runs on
//! a fresh connection (the first run includes preparing the statement) and again 7 times; the
//! first time and the median of the repeats are printed. `--retention` ends with a retention
//! pass that removes the oldest day.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_store::{Filter, Order, Score, ScoreValue, Store, StoreError};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// 2025-01-01T00:00:00Z.
const BASE: i64 = 1_735_689_600;
/// Days the records are spread over, unless `--days` says.
const DAYS: i64 = 30;
/// Records per insert, unless `--batch` says (500 is what `switchboard consume` reads at once).
const BATCH: usize = 500;
/// Turns per thread (a phone call).
const TURNS: usize = 50;
const REPEATS: usize = 7;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut url = format!(
        "sqlite://{}",
        PathBuf::from("target/bench/filter_bench.db").display()
    );
    let mut rows = 300_000usize;
    let mut writers = 1usize;
    let mut batch = BATCH;
    let mut days = DAYS;
    let mut retention = false;
    let mut _postgres = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--postgres" => {
                // SAFETY: set before any other thread exists.
                unsafe { std::env::set_var("SWITCHBOARD_PG_DURABLE", "1") };
                let server = switchboard_test_services::PostgresServer::start();
                url = server.create_database();
                _postgres = Some(server);
                continue;
            }
            "--retention" => {
                retention = true;
                continue;
            }
            _ => {}
        }
        match (arg.as_str(), args.next()) {
            ("--db", Some(path)) => url = format!("sqlite://{}", PathBuf::from(path).display()),
            ("--url", Some(given)) => url = given,
            ("--rows", Some(n)) => rows = n.parse()?,
            ("--writers", Some(n)) => writers = n.parse::<usize>()?.max(1),
            ("--batch", Some(n)) => batch = n.parse::<usize>()?.max(1),
            ("--days", Some(n)) => days = n.parse::<i64>()?.max(1),
            _ => {
                return Err(format!(
                    "usage: filter_bench [--db PATH | --url URL | --postgres] [--rows N] \
                     [--writers W] [--batch B] [--days D] [--retention], not {arg:?}"
                )
                .into());
            }
        }
    }
    let db = switchboard_store::redacted_url(&url);

    let started = Instant::now();
    let mut store = switchboard_store::open(&url)?;
    println!("open (with any schema upgrade): {}", ms(started.elapsed()));
    let have = usize::try_from(store.count(&Filter::default())?)?;
    if have < rows {
        fill(&url, &mut store, have, rows, writers, batch, days)?;
    }
    store.optimize()?;
    println!("store: {} rows in {}", store.count(&Filter::default())?, db);

    let day = |d: i64| at((d * 86_400) as f64);
    let mid = days / 2;
    let (from, to) = (day(mid), day(mid + 1));
    let thread = format!("call_{}", rows / TURNS / 2);
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
            "thread_identifier (50 rows)",
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
        switchboard_store::open(&url)?.for_each(
            &filter,
            Order::OldestFirst,
            None,
            &mut |text, _| {
                exported += 1;
                bytes += text.len();
                Ok(())
            },
        )?;
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
    switchboard_store::open(&url)?.for_each(&spanish, Order::OldestFirst, None, &mut |_, _| {
        exported += 1;
        Ok(())
    })?;
    println!("  export: {exported} rows in {}", ms(started.elapsed()));
    let started = Instant::now();
    let counted = switchboard_store::open(&url)?.count(&spanish)?;
    println!("  count: {counted} in {}", ms(started.elapsed()));

    println!("\na whole thread ({TURNS} turns), oldest first");
    let (first, median) = timed(&url, |store| Ok(store.thread(&thread)?.len()))?;
    println!(
        "  {thread:<55} {:>10} {:>10}  ({} rows)",
        ms(first.0),
        ms(median),
        first.1
    );

    println!("\nwhole export, no filter (records read and parsed as the export writes them)");
    let rss_before = rss_kib("VmRSS");
    let started = Instant::now();
    let (mut exported, mut bytes) = (0usize, 0usize);
    switchboard_store::open(&url)?.for_each(
        &Filter::default(),
        Order::OldestFirst,
        None,
        &mut |text, _| {
            exported += 1;
            bytes += text.len();
            Ok(())
        },
    )?;
    let took = started.elapsed();
    println!(
        "  {exported} rows in {} ({:.0} rows/s, {:.0} MB/s); RSS {} MiB before, {} MiB peak",
        ms(took),
        exported as f64 / took.as_secs_f64(),
        bytes as f64 / 1e6 / took.as_secs_f64(),
        rss_before / 1024,
        rss_kib("VmHWM") / 1024
    );

    if retention {
        // `now` such that exactly the first day is older than one day of retention.
        let now = OffsetDateTime::from_unix_timestamp(BASE + 2 * 86_400)?;
        let started = Instant::now();
        let removed = store.expire_older_than(1, now, &mut |_| true)?;
        println!(
            "\nretention pass removing the oldest day: {removed} logs in {}",
            ms(started.elapsed())
        );
    }
    Ok(())
}

/// A memory figure of this process from /proc/self/status, in KiB (0 if unreadable).
fn rss_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// Runs `query` once on a fresh connection, then `REPEATS` times; the first run (with its
/// result) and the median of the repeats.
fn timed<T>(
    url: &str,
    mut query: impl FnMut(&mut Store) -> Result<T, StoreError>,
) -> Result<((Duration, T), Duration), StoreError> {
    let mut store = switchboard_store::open(url)?;
    let started = Instant::now();
    let result = query(&mut store)?;
    let first = (started.elapsed(), result);
    let mut runs = Vec::with_capacity(REPEATS);
    for _ in 0..REPEATS {
        let started = Instant::now();
        query(&mut store)?;
        runs.push(started.elapsed());
    }
    runs.sort();
    Ok((first, runs[REPEATS / 2]))
}

/// Starts an export and stops it at its first row.
fn first_row(store: &mut Store, filter: &Filter, order: Order) -> Result<(), StoreError> {
    let result = store.for_each(filter, order, None, &mut |_, _| {
        Err(StoreError::Aborted("first row".into()))
    });
    match result {
        Err(StoreError::Aborted(_)) | Ok(()) => Ok(()),
        Err(other) => Err(other),
    }
}

/// Fills the store to `rows` with `writers` connections, each inserting every `writers`th
/// batch (as consumers share a stream).
fn fill(
    url: &str,
    store: &mut Store,
    have: usize,
    rows: usize,
    writers: usize,
    batch: usize,
    days: i64,
) -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let spacing = (days * 86_400) as f64 / rows as f64;
    let bytes = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| -> Result<(), String> {
        let handles: Vec<_> = (0..writers)
            .map(|w| {
                let bytes = &bytes;
                scope.spawn(move || -> Result<(), String> {
                    let mut store = switchboard_store::open(url).map_err(|e| e.to_string())?;
                    let mut n = have + w * batch;
                    while n < rows {
                        let end = (n + batch).min(rows);
                        let texts: Vec<String> = (n..end)
                            .map(|i| generated(i, i as f64 * spacing).to_string())
                            .collect();
                        let size: usize = texts.iter().map(String::len).sum();
                        bytes.fetch_add(size, std::sync::atomic::Ordering::Relaxed);
                        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
                        store.insert_batch(&refs).map_err(|e| e.to_string())?;
                        n += writers * batch;
                    }
                    Ok(())
                })
            })
            .collect();
        for handle in handles {
            handle
                .join()
                .map_err(|_| "a writer panicked".to_owned())??;
        }
        Ok(())
    })?;
    let inserted = started.elapsed();
    println!(
        "  {writers} writer(s), batches of {batch}: {:.0} records/s, {:.0} bytes per record",
        (rows - have) as f64 / inserted.as_secs_f64(),
        bytes.into_inner() as f64 / (rows - have) as f64
    );
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
        "thread_identifier": format!("call_{}", i / TURNS),
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
