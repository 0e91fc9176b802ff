//! Loading configs as users write them.

use switchboard_config::{Config, ConfigError, ErrorKind, ProviderKind, StreamJson};

/// Every line of `expect` begins one of the reported `lines`.
fn assert_reported(lines: &[String], expect: &[&str]) {
    for want in expect {
        assert!(
            lines.iter().any(|l| l.starts_with(want)),
            "missing {want:?} in:\n{}",
            lines.join("\n")
        );
    }
}

fn env(name: &str) -> Option<String> {
    match name {
        "OPENAI_API_KEY" => Some("sk-openai-secret".into()),
        "ANTHROPIC_API_KEY" => Some("sk-ant-secret".into()),
        "SWITCHBOARD_API_KEY" => Some("client-key".into()),
        _ => None,
    }
}

const SPEC_EXAMPLE: &str = r#"
[server]
listen = "127.0.0.1:8080"
api_keys = ["${SWITCHBOARD_API_KEY}"]
max_body_bytes = 4194304

[logging]
redis_url = "redis://127.0.0.1:6379"
stream = "switchboard:logs"
max_stream_len = 10000000
spool_dir = "data/spool"
spool_max_bytes = 1073741824
store = "sqlite://data/switchboard.db"
capture_bodies = true

[providers.openai]
kind = "openai"
base_url = "https://api.openai.com/v1"
api_key = "${OPENAI_API_KEY}"

[providers.anthropic]
kind = "anthropic"
base_url = "https://api.anthropic.com"
api_key = "${ANTHROPIC_API_KEY}"

[defaults]
retries = 1
first_token_timeout_ms = 2000
timeout_ms = 60000

[models."voice-fast"]
targets = [
  { provider = "openai", model = "gpt-4o-mini", input_cost_per_mtok = 0.15, output_cost_per_mtok = 0.60 },
  { provider = "anthropic", model = "claude-3-5-haiku-latest" },
]
retries = 1
backoff_ms = 50
retry_on = ["connect", "5xx", "429", "timeout", "first_token_timeout", "stall", "invalid_json"]
first_token_timeout_ms = 800
stall_timeout_ms = 1500
timeout_ms = 20000
budget_ms = 30000
validate_json = true
stream_json = "validate_at_end"

[models.classifier]
targets = [{ provider = "openai", model = "gpt-4o-mini" }]
stream_json = "buffer"
"#;

#[test]
fn the_spec_example_loads_with_policies_resolved() {
    let config = Config::from_toml_str(SPEC_EXAMPLE, "switchboard.toml", &env).unwrap();
    assert_eq!(config.server.api_keys, vec!["client-key".to_owned()]);
    assert_eq!(
        config.providers["openai"].api_key.as_deref(),
        Some("sk-openai-secret")
    );
    assert_eq!(config.providers["anthropic"].kind, ProviderKind::Anthropic);

    let fast = &config.models["voice-fast"];
    assert_eq!(fast.targets.len(), 2);
    assert_eq!(fast.targets[0].input_cost_per_mtok, Some(0.15));
    assert_eq!(fast.policy.first_token_timeout_ms, 800);
    assert!(!fast.policy.retries_on(ErrorKind::ClientError));
    assert!(fast.policy.retries_on(ErrorKind::InvalidJson));

    // A model that sets little inherits [defaults], then the built-in policy.
    let classifier = &config.models["classifier"];
    assert_eq!(classifier.policy.first_token_timeout_ms, 2000);
    assert_eq!(classifier.policy.timeout_ms, 60000);
    assert_eq!(classifier.policy.stall_timeout_ms, 10_000);
    assert_eq!(classifier.policy.stream_json, StreamJson::Buffer);
}

#[test]
fn an_unknown_key_names_the_key_and_the_line() {
    let text = "[server]\nlisten = \"127.0.0.1:8080\"\nlisten_port = 9\n";
    let err = Config::from_toml_str(text, "sb.toml", &env).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ConfigError::Invalid { .. }));
    assert!(msg.starts_with("sb.toml: server.listen_port: "), "{msg}");
    assert!(msg.contains("line 3"), "{msg}");
}

#[test]
fn every_unknown_key_and_every_bad_value_is_reported_in_one_run_with_a_did_you_mean() {
    let text = r#"
[server]
max_body_byte = 10
listen = "nowhere"

[logging]
redis_ulr = "redis://127.0.0.1:6379"

[providers.openai]
kind = "openai"
base_url = "https://api.openai.com/v1"
api_kee = "sk"
headers = { "anything-goes" = "here" }

[models.fast]
targets = [{ provider = "openai", model = "m", weigth = 2 }, { provider = "opneai", model = "m" }]
retires = 2
"#;
    let err = Config::from_toml_str(text, "sb.toml", &env).unwrap_err();
    let lines = err.lines();
    let find = |key: &str| {
        lines
            .iter()
            .find(|l| l.starts_with(&format!("sb.toml: {key}:")))
            .unwrap_or_else(|| panic!("no line for {key}: {lines:#?}"))
            .clone()
    };
    assert!(find("server.max_body_byte").contains("did you mean `max_body_bytes`?"));
    assert!(find("server.max_body_byte").contains("line 3"));
    assert!(find("logging.redis_ulr").contains("did you mean `redis_url`?"));
    assert!(find("providers.openai.api_kee").contains("did you mean `api_key`?"));
    assert!(find("models.fast.retires").contains("did you mean `retries`?"));
    assert!(find("models.fast.targets[0].weigth").contains("line 16"));
    // Bad values in the same run, next to the unknown keys.
    assert!(find("server.listen").contains("not an IP address"));
    assert!(find("models.fast.targets[1].provider").contains("opneai"));
    assert!(
        !lines.iter().any(|l| l.contains("anything-goes")),
        "a provider's headers are free-form: {lines:#?}"
    );
}

#[test]
fn an_unknown_retry_kind_lists_the_valid_ones() {
    let text = "[defaults]\nretry_on = [\"5xx\", \"oops\"]\n";
    let msg = Config::from_toml_str(text, "sb.toml", &env)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("oops"), "{msg}");
    assert!(msg.contains("first_token_timeout"), "{msg}");
}

#[test]
fn every_problem_is_reported_with_file_key_and_fix() {
    let text = r#"
[server]
listen = "localhost"

[providers.openai]
kind = "openai"
base_url = "api.openai.com"

[providers.az]
kind = "azure"
base_url = "https://x.openai.azure.com"

[models.fast]
targets = [{ provider = "opneai", model = "gpt-4o-mini" }]
timeout_ms = 0

[models.empty]
targets = []
"#;
    let err = Config::from_toml_str(text, "sb.toml", &env).unwrap_err();
    let lines = err.lines();
    let expect = [
        "sb.toml: server.listen:",
        "sb.toml: providers.openai.base_url:",
        "sb.toml: providers.az.api_version: is required",
        "sb.toml: models.fast.timeout_ms: must be greater than 0",
        "sb.toml: models.fast.targets[0].provider: unknown provider \"opneai\"; fix: define [providers.opneai] or use one of: az, openai",
        "sb.toml: models.empty.targets: is empty",
    ];
    assert_reported(&lines, &expect);
    assert!(lines.iter().all(|l| l.contains("; fix: ")));
}

#[test]
fn an_unset_environment_variable_is_an_error_naming_it() {
    let text = "[providers.groq]\nkind = \"openai\"\nbase_url = \"https://api.groq.com/openai/v1\"\napi_key = \"${GROQ_API_KEY}\"\n";
    let msg = Config::from_toml_str(text, "sb.toml", &env)
        .unwrap_err()
        .to_string();
    assert!(
        msg.starts_with(
            "sb.toml: providers.groq.api_key: environment variable GROQ_API_KEY is not set"
        ),
        "{msg}"
    );
}

#[test]
fn the_embedded_default_offers_openai_and_anthropic_passthrough() {
    let config = Config::embedded_default(&|_| None).unwrap();
    assert_eq!(config.server.listen, "127.0.0.1:8080");
    assert!(config.models.is_empty());
    assert_eq!(config.providers["openai"].api_key.as_deref(), Some(""));
    assert_eq!(
        config.providers["anthropic"].base_url,
        "https://api.anthropic.com"
    );

    let config = Config::embedded_default(&|name| {
        (name == "OPENAI_BASE_URL").then(|| "http://127.0.0.1:9/v1".to_owned())
    })
    .unwrap();
    assert_eq!(config.providers["openai"].base_url, "http://127.0.0.1:9/v1");
}

#[test]
fn provider_keys_never_show_in_debug_output() {
    let config = Config::from_toml_str(SPEC_EXAMPLE, "switchboard.toml", &env).unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("sk-openai-secret"));
    assert!(!debug.contains("sk-ant-secret"));
}

#[test]
fn metadata_labels_must_be_label_names_that_do_not_shadow_the_gateways_own() {
    let text = r#"
[metrics]
metadata_labels = ["use_case", "2fast", "provider", "use_case"]
max_label_values = 0
"#;
    let err = Config::from_toml_str(text, "sb.toml", &env).unwrap_err();
    let lines = err.lines();
    let expect = [
        "sb.toml: metrics.metadata_labels[1]: \"2fast\" is not a Prometheus label name",
        "sb.toml: metrics.metadata_labels[2]: \"provider\" is a label the gateway's series already carry",
        "sb.toml: metrics.metadata_labels[3]: \"use_case\" is listed twice",
        "sb.toml: metrics.max_label_values: is 0",
    ];
    assert_reported(&lines, &expect);
    assert_eq!(lines.len(), expect.len(), "{}", lines.join("\n"));
    let good = Config::from_toml_str(
        "[metrics]\nmetadata_labels = [\"use_case\", \"language\"]\n",
        "sb.toml",
        &env,
    )
    .unwrap();
    assert_eq!(good.metrics.metadata_labels, ["use_case", "language"]);
    assert_eq!(good.metrics.max_label_values, 50);
}

#[test]
fn hedge_after_ms_takes_milliseconds_or_auto_and_says_what_else_it_wants() {
    use switchboard_config::HedgeAfter;
    let text = r#"
[providers.openai]
kind = "openai"
base_url = "https://api.openai.com/v1"

[defaults]
hedge_after_ms = "auto"

[models.fixed]
targets = [{ provider = "openai", model = "a" }]
hedge_after_ms = 120
hedge_min_ms = 30

[models.inherits]
targets = [{ provider = "openai", model = "a" }]
"#;
    let config = Config::from_toml_str(text, "sb.toml", &env).unwrap();
    assert_eq!(
        config.models["fixed"].policy.hedge_after,
        Some(HedgeAfter::Fixed(120))
    );
    assert_eq!(config.models["fixed"].policy.hedge_min_ms, 30);
    assert_eq!(
        config.models["inherits"].policy.hedge_after,
        Some(HedgeAfter::Auto)
    );
    assert_eq!(config.models["inherits"].policy.hedge_min_ms, 50);
    assert_eq!(config.defaults.hedge_after, Some(HedgeAfter::Auto));

    let bad = text.replace("hedge_after_ms = 120", "hedge_after_ms = \"soon\"");
    let err = Config::from_toml_str(&bad, "sb.toml", &env)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("hedge_after_ms")
            && err.contains("\"soon\" is neither a number of milliseconds nor \"auto\""),
        "{err}"
    );
}

#[test]
fn prefill_defaults_by_provider_kind_and_is_overridden_per_provider_and_per_target() {
    use switchboard_config::{MidStream, Prefill};
    let text = r#"
[providers.openai]
kind = "openai"
base_url = "https://api.openai.com/v1"

[providers.anthropic]
kind = "anthropic"
base_url = "https://api.anthropic.com"

[providers.deepseek]
kind = "openai"
base_url = "https://api.deepseek.com/beta"
prefill = "prefix"

[models.voice]
targets = [{ provider = "openai", model = "a" }, { provider = "anthropic", model = "claude-new", prefill = false }]
mid_stream = "continue"
"#;
    let config = Config::from_toml_str(text, "sb.toml", &env).unwrap();
    assert_eq!(
        config.models["voice"].policy.mid_stream,
        MidStream::Continue
    );
    assert_eq!(config.defaults.mid_stream, MidStream::Error);
    assert_eq!(config.prefill_of("openai", None), Prefill::Off);
    assert_eq!(config.prefill_of("anthropic", None), Prefill::Message);
    assert_eq!(config.prefill_of("deepseek", None), Prefill::PrefixFlag);
    let claude_new = &config.models["voice"].targets[1];
    assert_eq!(
        config.prefill_of(&claude_new.provider, claude_new.prefill),
        Prefill::Off
    );
    let bad = text.replace("prefill = \"prefix\"", "prefill = \"yes\"");
    let err = Config::from_toml_str(&bad, "sb.toml", &env)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("providers.deepseek.prefill") || err.contains("prefill"),
        "{err}"
    );
    assert!(
        err.contains("use true, false, \"vllm\" or \"prefix\""),
        "{err}"
    );
}

#[test]
fn retention_days_must_keep_at_least_a_day() {
    let err = Config::from_toml_str("[logging]\nretention_days = 0\n", "sb.toml", &env)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sb.toml: logging.retention_days: is 0"),
        "{err}"
    );
    let config =
        Config::from_toml_str("[logging]\nretention_days = 14\n", "sb.toml", &env).unwrap();
    assert_eq!(config.logging.retention_days, Some(14));
}

#[test]
fn every_value_of_the_wrong_kind_is_named_in_one_run_beside_the_unknown_keys() {
    let text = r#"
[providers.openai]
kind = "openai"
base_url = "https://api.openai.com/v1"
prefil = true

[models.voice]
targets = [{ provider = "openai", model = "gpt-4o-mini", prefill = "vlm" }]
mid_stream = "continu"
fallback_on = ["stall", "silence"]
retries = "two"
"#;
    let err = Config::from_toml_str(text, "sb.toml", &env).unwrap_err();
    let lines = err.lines();
    let expect = [
        "sb.toml: providers.openai.prefil: unknown key (line 5)",
        "sb.toml: models.voice.targets[0].prefill: \"vlm\" is not a prefill style",
        "sb.toml: models.voice.mid_stream: unknown variant `continu`, expected `error` or `continue` (line 9)",
        "sb.toml: models.voice.fallback_on: unknown error kind \"silence\"",
        "sb.toml: models.voice.retries: invalid type: string \"two\"",
    ];
    assert_reported(&lines, &expect);
    assert_eq!(lines.len(), expect.len(), "{}", lines.join("\n"));
}

#[test]
fn otel_is_off_by_default_and_its_section_is_checked_key_by_key() {
    let config = Config::from_toml_str("", "sb.toml", &env).unwrap();
    assert_eq!(config.otel.endpoint, None);
    assert_eq!(config.otel.service_name, "switchboard");
    assert!(!config.otel.capture_bodies);

    let text = r#"
[otel]
endpoint = "collector:4318"
service_name = " "
export_interval_ms = 0
headers = { "bad header" = "x" }
sample = 0.5
"#;
    let err = Config::from_toml_str(text, "sb.toml", &env).unwrap_err();
    let lines = err.lines();
    let expect = [
        "sb.toml: otel.endpoint: is not an http:// or https:// URL",
        "sb.toml: otel.service_name: is empty",
        "sb.toml: otel.headers.\"bad header\": is not a valid HTTP header",
        "sb.toml: otel.export_interval_ms: must be greater than 0",
        "sb.toml: otel.sample: unknown key (line 7)",
    ];
    assert_reported(&lines, &expect);

    let err = Config::from_toml_str(
        "[otel]\nendpoint = \"https://user:pass@otlp.example.com\"\n",
        "sb.toml",
        &env,
    )
    .unwrap_err();
    let text = err.lines().join("\n");
    assert!(
        text.contains("otel.endpoint: carries credentials"),
        "{text}"
    );
    assert!(!text.contains("pass@"), "{text}");

    let good = Config::from_toml_str(
        "[otel]\nendpoint = \"http://127.0.0.1:4318\"\nheaders = { authorization = \"Bearer otel-secret-1\" }\n",
        "sb.toml",
        &env,
    )
    .unwrap();
    assert_eq!(good.otel.endpoint.as_deref(), Some("http://127.0.0.1:4318"));
    assert!(!format!("{good:?}").contains("otel-secret-1"));
}
