//! `/api/admin/*`: the on-call engineer's calls (SPEC section 9), behind the same admin guard
//! as the rest of `/api/*`.

use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::{Value, json};
use switchboard_record::{json_type, rfc3339};

use crate::http::body::ResponseBody;
use crate::http::error::GatewayError;
use crate::http::json::{error_body, json_response};
use crate::http::read_body::read_limited;
use crate::live::ReloadError;
use crate::state::AppState;
use crate::targets::overrides::Disabled;

/// `POST /api/admin/reload`: re-reads the config file. 200 `{"reloaded": true,
/// "config_version", "warnings"}`; 400 with every problem when the file is refused (the
/// running config stays).
pub async fn reload(state: &AppState) -> Response<ResponseBody> {
    match state.reload().await {
        Ok(done) => json_response(
            StatusCode::OK,
            &json!({"reloaded": true, "config_version": done.version, "warnings": done.warnings}),
        ),
        Err(ReloadError::Config(e)) => {
            let mut body = error_body(
                &e.to_string(),
                "invalid_request_error",
                Some("invalid_config"),
            );
            body["problems"] = json!(e.lines());
            json_response(StatusCode::BAD_REQUEST, &body)
        }
        Err(e @ ReloadError::Providers(_)) => json_response(
            StatusCode::BAD_REQUEST,
            &error_body(
                &e.to_string(),
                "invalid_request_error",
                Some("invalid_config"),
            ),
        ),
        Err(e @ ReloadError::NoSource) => json_response(
            StatusCode::CONFLICT,
            &error_body(
                &e.to_string(),
                "invalid_request_error",
                Some("no_config_source"),
            ),
        ),
    }
}

/// `GET /api/admin/targets`: every target with its `state` (`up`, `disabled`, `circuit_open`,
/// `half_open`), the operator's `reason`, `until`, and its recent error rate and TTFT p95.
pub fn targets(state: &AppState) -> Response<ResponseBody> {
    let live = state.live();
    let data: Vec<_> = state
        .targets
        .all()
        .iter()
        .map(|target| {
            let snapshot = target.snapshot();
            let models: Vec<&String> = live
                .config
                .models
                .iter()
                .filter(|(_, route)| {
                    route
                        .targets
                        .iter()
                        .any(|t| t.provider == target.provider && t.model == target.model)
                })
                .map(|(name, _)| name)
                .collect();
            json!({
                "provider": target.provider,
                "model": target.model,
                "state": snapshot.state,
                "reason": snapshot.reason,
                "until": snapshot.until.map(|t| rfc3339(time::OffsetDateTime::from(t))),
                "error_rate": snapshot.error_rate,
                "ttft_p95": snapshot.ttft_p95,
                "recent_attempts": snapshot.recent_attempts,
                "used_by": models,
            })
        })
        .collect();
    json_response(StatusCode::OK, &json!({"data": data}))
}

/// `POST /api/admin/targets/disable` (`{"provider", "model"?, "for_s"?, "reason"?}`) and
/// `.../enable` (`{"provider", "model"?}`): `model` absent means every model of the provider.
pub async fn set_target(
    state: &AppState,
    request: Request<Incoming>,
    disable: bool,
) -> Response<ResponseBody> {
    let order = match read_order(state, request).await {
        Ok(order) => order,
        Err(e) => return e.response(),
    };
    let disabled = disable.then(|| Disabled::new(order.reason.clone(), order.for_s));
    if let Some(shared) = &state.shared_overrides
        && let Err(e) = shared
            .publish(&order.provider, order.model.as_deref(), disabled.as_ref())
            .await
    {
        // Not applied anywhere rather than on this gateway alone: the fleet must agree.
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &error_body(
                &e.to_string(),
                "server_error",
                Some("overrides_unavailable"),
            ),
        );
    }
    state
        .targets
        .set(&order.provider, order.model.as_deref(), disabled);
    tracing::warn!(
        "{} {}/{}{}",
        if disable { "disabled" } else { "enabled" },
        order.provider,
        order.model.as_deref().unwrap_or("*"),
        order
            .reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    targets(state)
}

struct TargetOrder {
    provider: String,
    model: Option<String>,
    for_s: Option<u64>,
    reason: Option<String>,
}

async fn read_order(
    state: &AppState,
    request: Request<Incoming>,
) -> Result<TargetOrder, GatewayError> {
    let live = state.live();
    let bytes = read_limited(request.into_body(), live.config.server.max_body_bytes).await?;
    let bad = |m: String| GatewayError::InvalidRequest(m);
    let body: Value = serde_json::from_slice(&bytes)
        .map_err(|e| bad(format!("the body is not valid JSON: {e}")))?;
    let text = |field: &str| -> Result<Option<String>, GatewayError> {
        match body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(bad(format!(
                "`{field}` must be a string, not {}",
                json_type(other)
            ))),
        }
    };
    let provider = text("provider")?.ok_or_else(|| bad("`provider` is required".to_owned()))?;
    if !live.config.providers.contains_key(&provider) {
        let known: Vec<&String> = live.config.providers.keys().collect();
        return Err(bad(format!(
            "no provider `{provider}` is configured (providers: {known:?})"
        )));
    }
    let for_s = match body.get("for_s") {
        None | Some(Value::Null) => None,
        Some(value) => Some(value.as_u64().filter(|s| *s > 0).ok_or_else(|| {
            bad("`for_s` must be a whole number of seconds greater than 0".to_owned())
        })?),
    };
    Ok(TargetOrder {
        provider,
        model: text("model")?,
        for_s,
        reason: text("reason")?,
    })
}
