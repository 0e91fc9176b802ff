//! From the `model` a client names to a fallback chain: a configured model, or `provider/model`
//! straight to a configured provider with the `[defaults]` policy.

use std::collections::HashMap;
use std::sync::Arc;

use switchboard_config::{Config, Policy, Target};
use switchboard_providers::{Provider, Providers};

/// One entry of a chain, with its adapter.
#[derive(Clone)]
pub struct RouteTarget {
    /// The adapter.
    pub provider: Arc<dyn Provider>,
    /// Provider name, model and prices.
    pub target: Target,
}

/// A model's chain and policy.
#[derive(Clone)]
pub struct Route {
    /// Tried in order.
    pub targets: Vec<RouteTarget>,
    /// Retries, timeouts, checks.
    pub policy: Arc<Policy>,
}

/// Every route, built at start-up.
pub struct Routes {
    models: HashMap<String, Arc<Route>>,
    providers: Providers,
    defaults: Arc<Policy>,
    names: Vec<String>,
}

impl Routes {
    /// Builds the routes of `config` over `providers`.
    pub fn new(config: &Config, providers: Providers) -> Routes {
        let mut models = HashMap::new();
        for (name, model) in &config.models {
            let targets = model
                .targets
                .iter()
                .filter_map(|t| {
                    // Validation guarantees every target names a configured provider.
                    providers.get(&t.provider).map(|p| RouteTarget {
                        provider: p.clone(),
                        target: t.clone(),
                    })
                })
                .collect();
            let route = Route {
                targets,
                policy: Arc::new(model.policy.clone()),
            };
            models.insert(name.clone(), Arc::new(route));
        }
        Routes {
            names: config.models.keys().cloned().collect(),
            models,
            providers,
            defaults: Arc::new(config.defaults.clone()),
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
        Some(Arc::new(Route {
            targets: vec![RouteTarget {
                provider: provider.clone(),
                target: Target {
                    provider: provider_name.to_owned(),
                    model: provider_model.to_owned(),
                    input_cost_per_mtok: None,
                    output_cost_per_mtok: None,
                },
            }],
            policy: self.defaults.clone(),
        }))
    }

    /// The configured model names, for `GET /v1/models`.
    pub fn model_names(&self) -> &[String] {
        &self.names
    }
}
