//! `[metrics] metadata_labels` (SPEC section 9.4): request metadata keys that label the
//! per-target series, so a dashboard can break requests down by `use_case` or `language`.
//!
//! Clients choose the values, so each key admits at most `max_label_values` distinct ones for
//! the life of the process (later ones count as `other`, a missing key as `""`); the series a
//! gateway exposes stay bounded whatever its clients send.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use switchboard_config::MetricsConfig;

/// A value longer than this counts as `other`: it is surely not a category.
const MAX_VALUE_LEN: usize = 64;

/// The configured keys and the values each has admitted so far.
pub struct MetadataLabels {
    names: Arc<[Arc<str>]>,
    admitted: Vec<RwLock<HashMap<Box<str>, Arc<str>>>>,
    max_values: usize,
    missing: Arc<str>,
    other: Arc<str>,
}

/// One request's metadata label values, in the order of `metadata_labels` (none configured:
/// empty, and the series carry only their own labels).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct SeriesLabels(Option<LabelSet>);

#[derive(Clone, PartialEq, Eq, Hash)]
struct LabelSet {
    names: Arc<[Arc<str>]>,
    values: Arc<[Arc<str>]>,
}

impl MetadataLabels {
    /// The labels `[metrics]` asks for.
    pub fn from_config(config: &MetricsConfig) -> MetadataLabels {
        MetadataLabels {
            names: config
                .metadata_labels
                .iter()
                .map(|n| Arc::from(n.as_str()))
                .collect(),
            admitted: config
                .metadata_labels
                .iter()
                .map(|_| RwLock::default())
                .collect(),
            max_values: config.max_label_values,
            missing: Arc::from(""),
            other: Arc::from("other"),
        }
    }

    /// The label values of a request with `metadata`.
    pub fn values(&self, metadata: &BTreeMap<String, String>) -> SeriesLabels {
        if self.names.is_empty() {
            return SeriesLabels(None);
        }
        let values = self
            .names
            .iter()
            .zip(&self.admitted)
            .map(|(name, admitted)| match metadata.get(&**name) {
                None => self.missing.clone(),
                Some(value) => self.admit(admitted, value),
            })
            .collect();
        SeriesLabels(Some(LabelSet {
            names: self.names.clone(),
            values,
        }))
    }

    fn admit(&self, admitted: &RwLock<HashMap<Box<str>, Arc<str>>>, value: &str) -> Arc<str> {
        if value.len() > MAX_VALUE_LEN {
            return self.other.clone();
        }
        if let Some(known) = admitted
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(value)
        {
            return known.clone();
        }
        let mut admitted = admitted.write().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = admitted.get(value) {
            return known.clone();
        }
        if admitted.len() >= self.max_values {
            return self.other.clone();
        }
        let label: Arc<str> = Arc::from(value);
        admitted.insert(Box::from(value), label.clone());
        label
    }
}

impl SeriesLabels {
    /// `(name, value)` pairs to add to a series' own labels.
    pub fn pairs(&self) -> impl Iterator<Item = (Arc<str>, Arc<str>)> + '_ {
        self.0
            .iter()
            .flat_map(|set| set.names.iter().cloned().zip(set.values.iter().cloned()))
    }

    /// True when no metadata label is configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(keys: &[&str], max: usize) -> MetadataLabels {
        MetadataLabels::from_config(&MetricsConfig {
            metadata_labels: keys.iter().map(|k| k.to_string()).collect(),
            max_label_values: max,
            ..MetricsConfig::default()
        })
    }

    fn meta(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn values(set: &SeriesLabels) -> Vec<String> {
        set.pairs().map(|(k, v)| format!("{k}={v}")).collect()
    }

    #[test]
    fn none_configured_adds_nothing() {
        let set = labels(&[], 50).values(&meta(&[("use_case", "intent")]));
        assert!(set.is_empty());
        assert_eq!(set.pairs().count(), 0);
    }

    #[test]
    fn values_follow_the_configured_order_and_a_missing_key_is_empty() {
        let l = labels(&["use_case", "language"], 50);
        let set = l.values(&meta(&[("language", "es"), ("use_case", "intent")]));
        assert_eq!(values(&set), ["use_case=intent", "language=es"]);
        let set = l.values(&meta(&[("use_case", "scam")]));
        assert_eq!(values(&set), ["use_case=scam", "language="]);
    }

    #[test]
    fn past_the_cap_values_are_other_per_key_and_known_values_stay() {
        let l = labels(&["agent", "language"], 2);
        for agent in ["a1", "a2", "a3", "a4"] {
            l.values(&meta(&[("agent", agent), ("language", "en")]));
        }
        let set = l.values(&meta(&[("agent", "a9"), ("language", "de")]));
        assert_eq!(values(&set), ["agent=other", "language=de"]);
        let set = l.values(&meta(&[("agent", "a2"), ("language", "fr")]));
        assert_eq!(values(&set), ["agent=a2", "language=other"]);
        let long = "x".repeat(MAX_VALUE_LEN + 1);
        let set = labels(&["agent"], 50).values(&meta(&[("agent", &long)]));
        assert_eq!(values(&set), ["agent=other"]);
    }
}
