//! From the `model` a client names to a fallback chain: a configured model, or `provider/model`
//! straight to a configured provider with the `[defaults]` policy.
//!
//! Each route carries the metric handles of its targets, labelled with a bounded `model`
//! (SPEC section 8): a configured name, or a `provider/model` string for the first
//! `[metrics] max_passthrough_models` distinct ones, `<provider>/other` after.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use switchboard_config::{Config, Policy, Prefill, Target};
use switchboard_providers::{Provider, Providers};

use crate::targets::{TargetState, TargetStates};
use crate::telemetry::target_metrics::TargetMetrics;

/// One entry of a chain, with its adapter.
#[derive(Clone)]
pub struct RouteTarget {
    /// The adapter.
    pub provider: Arc<dyn Provider>,
    /// Provider name, model and prices.
    pub target: Target,
    /// Its series under the route's `model` label.
    pub metrics: Arc<TargetMetrics>,
    /// Its overrides, breaker and recent health (shared with every chain that uses it).
    pub state: Arc<TargetState>,
    /// How it continues another target's text (`mid_stream = "continue"`).
    pub prefill: Prefill,
}

/// A model's chain and policy.
#[derive(Clone)]
pub struct Route {
    /// Tried in order.
    pub targets: Vec<RouteTarget>,
    /// Retries, timeouts, checks.
    pub policy: Arc<Policy>,
    /// The series of a request of this route that no target got to (provider label empty).
    pub unserved: Arc<TargetMetrics>,
}

/// Every route, built at start-up; `provider/model` routes as they are first asked for.
pub struct Routes {
    models: HashMap<String, Arc<Route>>,
    providers: Providers,
    defaults: Arc<Policy>,
    names: Vec<String>,
    passthrough: Mutex<HashMap<String, Arc<Route>>>,
    max_passthrough: usize,
    states: Arc<TargetStates>,
    /// Each provider's own `prefill` (for `provider/model` routes).
    provider_prefill: HashMap<String, Prefill>,
}

impl Routes {
    /// Builds the routes of `config` over `providers`, with their targets' `states`.
    pub fn new(config: &Config, providers: Providers, states: Arc<TargetStates>) -> Routes {
        let mut models = HashMap::new();
        for (name, model) in &config.models {
            let label: Arc<str> = Arc::from(name.as_str());
            let targets = model
                .targets
                .iter()
                .filter_map(|t| {
                    // Validation guarantees every target names a configured provider.
                    providers.get(&t.provider).map(|p| {
                        let state = states.target(&t.provider, &t.model);
                        let prefill = config.prefill_of(&t.provider, t.prefill);
                        route_target(p, t.clone(), &label, state, prefill)
                    })
                })
                .collect();
            let route = Route {
                targets,
                policy: Arc::new(model.policy.clone()),
                unserved: Arc::new(TargetMetrics::new(label, Arc::from(""))),
            };
            models.insert(name.clone(), Arc::new(route));
        }
        Routes {
            names: config.models.keys().cloned().collect(),
            models,
            providers,
            defaults: Arc::new(config.defaults.clone()),
            passthrough: Mutex::new(HashMap::new()),
            max_passthrough: config.metrics.max_passthrough_models,
            states,
            provider_prefill: config
                .providers
                .keys()
                .map(|name| (name.clone(), config.prefill_of(name, None)))
                .collect(),
        }
    }

    /// The route for `model`, if it names one.
    pub fn resolve(&self, model: &str) -> Option<Arc<Route>> {
        if let Some(route) = self.models.get(model) {
            return Some(route.clone());
        }
        let (provider_name, provider_model) = model.split_once('/')?;
        if provider_model.is_empty() {
            return None;
        }
        let provider = self.providers.get(provider_name)?;
        let mut known = self.passthrough.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(route) = known.get(model) {
            return Some(route.clone());
        }
        let own_label = known.len() < self.max_passthrough;
        let label = if own_label {
            Arc::from(model)
        } else {
            Arc::from(format!("{provider_name}/other"))
        };
        let target = Target {
            provider: provider_name.to_owned(),
            model: provider_model.to_owned(),
            input_cost_per_mtok: None,
            output_cost_per_mtok: None,
            weight: None,
            prefill: None,
        };
        let prefill = self
            .provider_prefill
            .get(provider_name)
            .copied()
            .unwrap_or(Prefill::Off);
        // Past the cap a target keeps no state of its own (its provider's override applies).
        let state = if own_label {
            self.states.target(provider_name, provider_model)
        } else {
            self.states.transient(provider_name, provider_model)
        };
        let route = Arc::new(Route {
            targets: vec![route_target(provider, target, &label, state, prefill)],
            policy: self.defaults.clone(),
            unserved: Arc::new(TargetMetrics::new(label, Arc::from(""))),
        });
        // Past the cap the route is rebuilt per request: its series are the shared
        // `<provider>/other` ones (the recorder hands back the same series for the same labels),
        // and the cache stays bounded.
        if own_label {
            known.insert(model.to_owned(), route.clone());
        }
        Some(route)
    }

    /// The providers the routes use.
    pub fn providers(&self) -> &Providers {
        &self.providers
    }

    /// The configured model names, for `GET /v1/models`.
    pub fn model_names(&self) -> &[String] {
        &self.names
    }
}

fn route_target(
    provider: &Arc<dyn Provider>,
    target: Target,
    label: &Arc<str>,
    state: Arc<TargetState>,
    prefill: Prefill,
) -> RouteTarget {
    RouteTarget {
        provider: provider.clone(),
        state,
        prefill,
        metrics: Arc::new(TargetMetrics::new(
            label.clone(),
            Arc::from(target.provider.as_str()),
        )),
        target,
    }
}
