use super::*;
use serde_json::json;

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_767_225_600).unwrap() // 2026-01-01T00:00:00Z
}

fn read(body: Value) -> Result<Value, String> {
    record_from_json(body, now()).map(|r| serde_json::to_value(r).unwrap())
}

#[test]
fn respan_aliases_land_in_the_record_fields() {
    let record = read(json!({
        "model": "gpt-4o", "prompt_messages": [{"role": "user", "content": "hi"}],
        "completion_message": {"role": "assistant", "content": "hello"},
        "ttft": 0.2, "generation_time": 1.5, "prompt_tokens": 10, "completion_tokens": 5,
        "cost": 0.001, "customer_params": {"customer_identifier": "acct_1"},
        "thread_identifier": "call_1", "metadata": {"lang": "es", "turn": 3},
        "timestamp": "2026-01-01T00:00:10Z", "temperature": 0.3
    }))
    .unwrap();
    assert_eq!(record["input"][0]["content"], "hi");
    assert_eq!(record["output"]["content"], "hello");
    assert_eq!(record["time_to_first_token"], 0.2);
    assert_eq!(record["latency"], 1.5);
    assert_eq!(record["start_time"], "2026-01-01T00:00:08.5Z");
    assert_eq!(record["usage"]["total_tokens"], 15);
    assert_eq!(record["customer_identifier"], "acct_1");
    assert_eq!(record["metadata"]["turn"], "3");
    assert_eq!(record["status"], "success");
    assert_eq!(record["status_code"], 200);
    assert_eq!(record["log_type"], "chat");
    assert_eq!(record["warnings"][0], "ignored fields: temperature");
    assert!(uuid::Uuid::parse_str(record["id"].as_str().unwrap()).is_ok());
}

#[test]
fn missing_times_come_from_now_and_errors_imply_a_status() {
    let record = read(json!({"error_message": "boom", "latency": 2})).unwrap();
    assert_eq!(record["timestamp"], "2026-01-01T00:00:00Z");
    assert_eq!(record["start_time"], "2025-12-31T23:59:58Z");
    assert_eq!(record["status_code"], 500);
    assert_eq!(record["status"], "error");
    let record = read(
        json!({"start_time": 1_767_225_600.0, "timestamp": "2026-01-01T00:00:03Z",
                              "status_code": 499}),
    )
    .unwrap();
    assert_eq!(record["latency"], 3.0);
    assert_eq!(record["status"], "client_disconnected");
}

#[test]
fn bad_fields_are_named() {
    for (body, field) in [
        (json!({"ttft": "fast"}), "`ttft` must be a number"),
        (json!({"latency": -1}), "`latency` must not be negative"),
        (json!({"metadata": [1]}), "`metadata` must be an object"),
        (json!({"start_time": "yesterday"}), "`start_time` must be"),
        (
            json!({"status_code": 42}),
            "`status_code` must be an HTTP status",
        ),
        (
            json!({"usage": {"prompt_tokens": -3}}),
            "`usage.prompt_tokens`",
        ),
        (json!({"log_type": "banana"}), "`log_type` must be one of"),
        (
            json!({"ttft": 1, "time_to_first_token": 2}),
            "give only one of",
        ),
        (
            json!({"attempts": [{"error_kind": "meh"}]}),
            "attempts[0].`error_kind`",
        ),
        (
            json!({"thread_identifier": {"a": 1}}),
            "`thread_identifier`",
        ),
        (json!("text"), "must be a JSON object"),
    ] {
        let error = read(body.clone()).unwrap_err();
        assert!(error.contains(field), "{body}: {error}");
    }
}

#[test]
fn an_array_names_the_record_at_fault() {
    let error = records_from_json(json!([{}, {"ttft": "x"}]), now()).unwrap_err();
    assert!(error.starts_with("records[1]: `ttft`"), "{error}");
    assert_eq!(records_from_json(json!([{}, {}]), now()).unwrap().len(), 2);
    assert!(records_from_json(json!([]), now()).is_err());
}

#[test]
fn a_latency_past_what_a_time_can_hold_is_an_error_not_a_panic() {
    // Found by fuzz/ingest: `now - latency` overflowed the time type.
    for body in [
        json!({"generation_time": 5.7823e30}),
        json!({"latency": 1e300, "start_time": "2026-01-01T00:00:00Z"}),
        json!({"latency": 1e18, "timestamp": "2026-01-01T00:00:00Z"}),
    ] {
        let error = read(body.clone()).unwrap_err();
        assert!(error.contains("out of range"), "{body}: {error}");
    }
}
