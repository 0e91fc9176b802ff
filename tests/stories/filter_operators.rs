//! An engineer reviewing an incident, and an analyst building an eval set, slice the logs with
//! operators (SPEC section 14) — "every call whose first token took over 500 ms", "every
//! Spanish or Portuguese call that cost more than a cent" — and get the same rows from the logs
//! API, from `GET /api/export` and from `switchboard export`, and as an OpenAI dataset.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_tests::binary::{Process, temp_dir};
use switchboard_tests::{Client, Gateway};

/// Six calls logged from elsewhere through `POST /api/logs`.
fn calls() -> Vec<Value> {
    let call = |id: &str, ttft: Value, latency: f64, cost: Value, language: Value, status: u16| {
        let mut metadata = json!({"use_case": "response"});
        if !language.is_null() {
            metadata["language"] = language;
        }
        json!({
            "id": id, "model": "voice-fast", "provider_id": "openai", "stream": true,
            "ttft": ttft, "latency": latency, "cost": cost, "status_code": status,
            "thread_identifier": "call_77", "metadata": metadata,
            "prompt_messages": [{"role": "user", "content": "¿saldo?"}],
            "completion_message": {"role": "assistant", "content": "Su saldo es 10 €."},
        })
    };
    let mut calls = vec![
        call("op-1", json!(0.12), 0.4, json!(0.002), json!("es"), 200),
        call("op-2", json!(0.65), 1.2, json!(0.020), json!("pt"), 200),
        call("op-3", json!(0.51), 0.9, json!(0.015), json!("en"), 200),
        call("op-4", Value::Null, 2.5, Value::Null, Value::Null, 502),
        call("op-5", json!(0.50), 1.0, json!(0.011), json!("es"), 200),
        call("op-6", json!(0.80), 1.6, json!(0.004), json!("es"), 429),
    ];
    calls[3]["error_message"] = json!("All 2 upstream attempts failed: prompt is too long");
    calls[5]["error_message"] = json!("rate limited");
    calls
}

async fn listed(client: &Client, query: &str) -> BTreeSet<String> {
    let reply = client.get(&format!("/api/logs?{query}&limit=100")).await;
    assert_eq!(reply.status, 200, "{query}: {}", reply.text);
    let body = reply.json();
    assert_eq!(body["next_cursor"], Value::Null, "{query}");
    ids(body["data"].as_array().unwrap())
}

async fn exported(client: &Client, query: &str) -> BTreeSet<String> {
    let reply = client
        .get(&format!("/api/export?format=jsonl&{query}"))
        .await;
    assert_eq!(reply.status, 200, "{query}: {}", reply.text);
    let rows: Vec<Value> = reply
        .text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    ids(&rows)
}

fn ids(records: &[Value]) -> BTreeSet<String> {
    records
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_slice_the_same_rows_in_the_api_the_export_and_the_cli() {
    let dir = temp_dir("operators");
    let store = dir.join("logs.db");
    let config = format!(
        "[logging]\nstore = \"sqlite://{}\"\nspool_dir = \"{}\"\n",
        store.display(),
        dir.join("spool").display()
    );
    let gateway = Gateway::start_logging(&config).await;
    let client = gateway.client();
    let reply = client
        .post_raw("/api/logs", json!(calls()).to_string())
        .await;
    assert_eq!(reply.status, 202, "{}", reply.text);
    let deadline = Instant::now() + Duration::from_secs(15);
    while listed(&client, "thread_identifier=call_77").await.len() < 6 {
        assert!(Instant::now() < deadline, "the six calls were not stored");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let cases: &[(&str, &[&str])] = &[
        ("time_to_first_token.gt=0.5", &["op-2", "op-3", "op-6"]),
        (
            "time_to_first_token.gte=0.5",
            &["op-2", "op-3", "op-5", "op-6"],
        ),
        ("latency.lte=1", &["op-1", "op-3", "op-5"]),
        (
            "metadata.language.in=es,pt",
            &["op-1", "op-2", "op-5", "op-6"],
        ),
        // A call without the key is never matched by a metadata condition.
        ("metadata.language.not_in=es,pt", &["op-3"]),
        ("metadata.language.in=es,pt&cost.gt=0.01", &["op-2", "op-5"]),
        ("status_code.not=200", &["op-4", "op-6"]),
        ("error_message.icontains=TOO%20LONG", &["op-4"]),
        ("error_message.empty=", &["op-1", "op-2", "op-3", "op-5"]),
        ("cost.empty=&status=error", &["op-4"]),
        ("model=voice-fast&time_to_first_token.lt=0.2", &["op-1"]),
    ];
    let config_file = dir.join("export.toml");
    std::fs::write(&config_file, &config).unwrap();
    for (query, expected) in cases {
        let expected = set(expected);
        assert_eq!(
            listed(&client, query).await,
            expected,
            "GET /api/logs?{query}"
        );
        assert_eq!(
            exported(&client, query).await,
            expected,
            "GET /api/export?{query}"
        );

        let mut args = vec![
            "export".to_owned(),
            "--config".to_owned(),
            config_file.display().to_string(),
            "--format".to_owned(),
            "jsonl".to_owned(),
        ];
        for pair in query.split('&') {
            args.push("--filter".to_owned());
            args.push(pair.replace("%20", " "));
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let stdout = switchboard_export(&dir, &args).await;
        let rows: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect();
        assert_eq!(ids(&rows), expected, "switchboard export {query}");
    }

    // The same slice as a dataset: one OpenAI chat example per successful call.
    let reply = client
        .get("/api/export?format=openai&metadata.language=es")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let examples: Vec<Value> = reply
        .text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(
        ids(&examples),
        set(&["op-1", "op-5"]),
        "op-6 failed: not an example"
    );
    for example in &examples {
        assert_eq!(
            example["messages"],
            json!([{"role": "user", "content": "¿saldo?"}, {"role": "assistant", "content": "Su saldo es 10 €."}])
        );
        assert_eq!(example["metadata"]["language"], "es");
    }
    let config_path = config_file.to_str().unwrap();
    let stdout = switchboard_export(
        &dir,
        &[
            "export",
            "--config",
            config_path,
            "--format",
            "openai",
            "--filter",
            "metadata.language=es",
        ],
    )
    .await;
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        reply.text.lines().collect::<Vec<_>>(),
        "the CLI writes the same dataset"
    );

    // And as a typed Parquet file, for the data team.
    let parquet_file = dir.join("slice.parquet");
    switchboard_export(
        &dir,
        &[
            "export",
            "--config",
            config_path,
            "--format",
            "parquet",
            "--out",
            parquet_file.to_str().unwrap(),
            "--filter",
            "metadata.language.in=es,pt",
        ],
    )
    .await;
    let (ids_in_file, ttfts) = read_parquet(&parquet_file);
    assert_eq!(ids_in_file, set(&["op-1", "op-2", "op-5", "op-6"]));
    let mut ttfts = ttfts;
    ttfts.sort_by(f64::total_cmp);
    assert_eq!(ttfts, [0.12, 0.5, 0.65, 0.8], "a typed number column");

    // A query that reads as a filter but is not one is refused, never answered with no rows.
    for (query, named) in [
        ("metadata.language.lt=es", "metadata.language.lt"),
        ("time_to_first_token.gt=slow", "time_to_first_token.gt"),
        ("colour.in=red", "colour"),
    ] {
        let reply = client.get(&format!("/api/logs?{query}")).await;
        assert_eq!(reply.status, 400, "{query}: {}", reply.text);
        let message = reply.json()["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains(named), "{query}: {message}");
    }
}

/// The `id` and `time_to_first_token` columns of a Parquet export.
fn read_parquet(path: &std::path::Path) -> (BTreeSet<String>, Vec<f64>) {
    use arrow_array::{Array, Float64Array, StringArray};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let file = std::fs::File::open(path).expect("the parquet file");
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .expect("a parquet file")
        .build()
        .expect("a reader");
    let (mut ids, mut ttfts) = (BTreeSet::new(), Vec::new());
    for batch in reader {
        let batch = batch.expect("a record batch");
        let id = batch.column_by_name("id").expect("id column");
        let id = id.as_any().downcast_ref::<StringArray>().expect("text ids");
        let ttft = batch
            .column_by_name("time_to_first_token")
            .expect("ttft column");
        let ttft = ttft
            .as_any()
            .downcast_ref::<Float64Array>()
            .expect("a Float64 column");
        for row in 0..batch.num_rows() {
            ids.insert(id.value(row).to_owned());
            if !ttft.is_null(row) {
                ttfts.push(ttft.value(row));
            }
        }
    }
    (ids, ttfts)
}

/// Runs `switchboard <args>` in `dir` to its end; what it wrote to stdout.
async fn switchboard_export(dir: &std::path::Path, args: &[&str]) -> String {
    use std::io::Read;
    let mut export = Process::spawn(args, &[], dir);
    let status = export.wait_exit(Duration::from_secs(20)).await;
    assert!(
        status.success(),
        "switchboard {args:?}: {}",
        export.stderr()
    );
    let mut stdout = String::new();
    if let Some(mut out) = export.child.stdout.take() {
        out.read_to_string(&mut stdout).expect("stdout");
    }
    stdout
}
