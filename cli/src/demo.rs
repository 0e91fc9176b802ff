//! `switchboard demo`: the whole product on a laptop with no provider key and no internet. The
//! project's mock provider runs in-process, the gateway serves it on the embedded store, and
//! scripted voice traffic plays through it: phone calls as threads of a dozen turns (greeting,
//! intent classification with JSON output, streamed responses, a scam detector in parallel
//! with some turns), with the faults the gateway recovers from (503s, slow first tokens,
//! stalls mid-stream, invalid JSON). Then open the console URL it prints.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use switchboard_config::Config;
use switchboard_loadtest::{MockHandle, MockProvider};

/// `switchboard demo` options.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where the gateway listens.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// Phone calls to play (0: until stopped).
    #[arg(long, default_value_t = 0)]
    pub calls: u64,
}

/// The demo's config: two mock "providers", voice models with fallbacks and timeouts.
fn config_text(listen: &str, mock: &str, store: &str) -> String {
    format!(
        r#"
[server]
listen = "{listen}"

[logging]
store = "sqlite://{store}"

[providers.fastlane]
kind = "openai"
base_url = "{mock}"
api_key = "demo"

[providers.steady]
kind = "openai"
base_url = "{mock}"
api_key = "demo"

# Streamed answers: 4 % of the first target's calls fail with 503, one in twelve has a slow
# first token (first_token_timeout), 3 % stall mid-stream: each falls back to `steady`.
[models.voice-fast]
targets = [
  {{ provider = "fastlane", model = "fast-1?fail=503&fail_rate=0.04&slow_every=12&slow_ms=900&stall_after=3&stall_rate=0.03&chunks=14&chunk_ms=18&ttft_ms=120" }},
  {{ provider = "steady", model = "steady-1?chunks=14&chunk_ms=22&ttft_ms=180" }},
]
retries = 0
first_token_timeout_ms = 600
stall_timeout_ms = 250

# Intent classification with JSON output; 6 % of the first target's calls fail with 503.
[models.intent]
targets = [
  {{ provider = "fastlane", model = "intent-1?json=valid&fail=503&fail_rate=0.06&ttft_ms=60" }},
  {{ provider = "steady", model = "intent-2?json=valid&ttft_ms=90" }},
]
validate_json = true

# An older intent model whose first target answers invalid JSON: the gateway falls back.
[models.intent-legacy]
targets = [
  {{ provider = "fastlane", model = "legacy-1?json=invalid&ttft_ms=60" }},
  {{ provider = "steady", model = "intent-2?json=valid&ttft_ms=90" }},
]
validate_json = true

[models.scam-detector]
targets = [{{ provider = "steady", model = "guard-1?ttft_ms=70&json=valid" }}]
validate_json = true
"#
    )
}

/// Runs the demo until Ctrl-C (or `--calls` calls).
pub fn run(args: &DemoArgs) -> anyhow::Result<()> {
    let mock_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .context("cannot start the demo's runtime")?;
    let mock: MockHandle = mock_runtime
        .block_on(MockProvider::start())
        .context("cannot start the mock provider")?;
    let dir = std::env::temp_dir().join(format!("switchboard-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let store = dir.join("demo.db");
    let text = config_text(&args.listen, &mock.base_url(), &store.display().to_string());
    let env = |name: &str| std::env::var(name).ok();
    let config = Config::from_toml_str(&text, "the demo's config", &env)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let base = format!("http://{}", args.listen);
    eprintln!(
        "switchboard demo: mock provider on {}, logs in {}\n\n  console: {base}/console\n  API:     {base}/v1 (any key)\n\nPlaying phone calls; Ctrl-C stops.",
        mock.base_url(),
        store.display()
    );
    let calls = args.calls;
    mock_runtime.spawn(async move {
        play(&base, calls).await;
    });
    let source_text = text.clone();
    let source = Arc::new(move || Config::from_toml_str(&source_text, "the demo's config", &env));
    let served = crate::serve::run(config, source);
    mock_runtime.shutdown_timeout(Duration::from_millis(200));
    let _ = std::fs::remove_dir_all(&dir);
    served
}

const LANGUAGES: [&str; 3] = ["es", "en", "pt"];
const AGENTS: [&str; 3] = ["clinic", "bank", "airline"];

/// Plays phone calls, a new one every second, at most three at a time.
async fn play(base: &str, calls: u64) {
    // reqwest is built without a default crypto provider (see providers/src/registry.rs); the
    // demo only speaks plain HTTP to itself, but the client wants one installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let up = format!("{base}/healthz");
    for _ in 0..100 {
        if http.get(&up).send().await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let running = Arc::new(tokio::sync::Semaphore::new(3));
    let mut n = 0u64;
    while calls == 0 || n < calls {
        let Ok(permit) = running.clone().acquire_owned().await else {
            return;
        };
        let (http, base) = (http.clone(), base.to_owned());
        tokio::spawn(async move {
            phone_call(&http, &base, n).await;
            drop(permit);
        });
        n += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
) -> reqwest::Result<reqwest::Response> {
    http.post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
}

/// One phone call: a greeting, then intent and response turns, a scam check beside every
/// third response.
async fn phone_call(http: &reqwest::Client, base: &str, n: u64) {
    let index = usize::try_from(n).unwrap_or(0);
    let language = LANGUAGES[index % LANGUAGES.len()];
    let agent = AGENTS[index / 2 % AGENTS.len()];
    let thread = format!("call_{n:05}");
    let url = format!("{base}/v1/chat/completions");
    for turn in 0..12 {
        let use_case = match turn {
            0 => "greeting",
            t if t % 2 == 1 => "intent",
            _ => "response",
        };
        let metadata = json!({"language": language, "use_case": use_case, "agent_id": agent});
        let body = match use_case {
            // One call in five still uses the legacy intent model once.
            "intent" => {
                json!({"model": if turn == 3 && n.is_multiple_of(5) { "intent-legacy" } else { "intent" },
                "response_format": {"type": "json_object"},
                "messages": [{"role": "user", "content": format!("caller turn {turn}: I need to change my booking")}],
                "thread_identifier": thread, "metadata": metadata})
            }
            _ => json!({"model": "voice-fast", "stream": true,
                "messages": [{"role": "system", "content": "You are a friendly voice agent."},
                             {"role": "user", "content": format!("caller turn {turn}")}],
                "thread_identifier": thread, "metadata": metadata}),
        };
        let main = async {
            if let Ok(response) = post(http, &url, &body).await {
                let _ = response.bytes().await;
            }
        };
        if use_case == "response" && turn % 3 == 0 {
            let check = json!({"model": "scam-detector", "response_format": {"type": "json_object"},
                "messages": [{"role": "user", "content": "Is the caller asking for card numbers?"}],
                "thread_identifier": thread,
                "metadata": {"language": language, "use_case": "scam_check", "agent_id": agent}});
            let scam = async {
                if let Ok(response) = post(http, &url, &check).await {
                    let _ = response.bytes().await;
                }
            };
            tokio::join!(main, scam);
        } else {
            main.await;
        }
        // The caller speaks.
        tokio::time::sleep(Duration::from_millis(150 + (n * 37 + turn * 53) % 250)).await;
    }
}
