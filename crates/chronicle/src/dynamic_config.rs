//! `--dynamic-config-value KEY=VALUE`, as the `temporal` dev server takes
//! it (VALUE is JSON: `100`, `true`, `"text"`, `[...]`), so the flag lists
//! SDK test suites pass to `temporal server start-dev` work unchanged:
//! the limits Chronicle applies are applied, switches for features Chronicle
//! always has are accepted silently, and any other key is accepted and
//! reported once as ignored.

use anyhow::{Context, bail};
use chronicle_engine::Limits;

/// Feature switches for what Chronicle always does (or for caches it does
/// not have): accepted and nothing to apply.
const ALWAYS_ON: &[&str] = &[
    "frontend.enableExecuteMultiOperation",
    "frontend.enableUpdateWorkflowExecution",
    "frontend.enableUpdateWorkflowExecutionAsyncAccepted",
    "frontend.enableBatcher",
    "frontend.enableSchedules",
    "frontend.enableTokenNamespaceEnforcement",
    "system.forceSearchAttributesCacheRefreshOnRead",
    "worker.enableScheduler",
    "history.enableRequestIdRefLinks",
];

/// Eager activity dispatch (`Limits::eager_activities`: on unless false).
const EAGER_ACTIVITIES: &str = "system.enableActivityEagerExecution";
/// Eager workflow start (`Limits::eager_workflow_start`: on unless false).
const EAGER_WORKFLOW_START: &str = "system.enableEagerWorkflowStart";

/// What the flags set: the limits, and the keys accepted but not applied.
#[derive(Debug, Default, PartialEq)]
pub struct DynamicConfig {
    pub limits: Limits,
    pub ignored: Vec<String>,
}

impl DynamicConfig {
    /// The one line telling which keys have no effect, if any.
    pub fn ignored_warning(&self) -> Option<String> {
        (!self.ignored.is_empty()).then(|| {
            format!(
                "--dynamic-config-value: Chronicle does not apply these keys (ignored): {}",
                self.ignored.join(", ")
            )
        })
    }
}

/// Reads every `KEY=VALUE` flag over Temporal's default limits.
pub fn parse(values: &[String]) -> anyhow::Result<DynamicConfig> {
    let mut config = DynamicConfig::default();
    for entry in values {
        let (key, value) =
            entry.split_once('=').with_context(|| format!("--dynamic-config-value {entry}: expected KEY=VALUE"))?;
        let (key, value) = (key.trim(), value.trim());
        if key.is_empty() {
            bail!("--dynamic-config-value {entry}: the key is empty");
        }
        // Temporal reads the value as YAML; JSON covers what its flags use.
        // A bare word that is not JSON is a string.
        let json: serde_json::Value =
            serde_json::from_str(value).unwrap_or_else(|_| serde_json::Value::String(value.to_string()));
        let switch =
            || json.as_bool().with_context(|| format!("--dynamic-config-value {key}: {value} is not true or false"));
        if key == EAGER_ACTIVITIES {
            config.limits.eager_activities = switch()?;
        } else if key == EAGER_WORKFLOW_START {
            config.limits.eager_workflow_start = switch()?;
        } else if let Some((_, set)) = Limits::DURATION_KEYS.iter().find(|(k, _)| *k == key) {
            let ms = duration_ms(&json).with_context(|| {
                format!("--dynamic-config-value {key}: {value} is not a duration (\"1s\", \"500ms\", \"5m\")")
            })?;
            set(&mut config.limits, ms);
        } else if Limits::KEYS.iter().any(|(k, _)| *k == key) {
            let n = json
                .as_i64()
                .with_context(|| format!("--dynamic-config-value {key}: {value} is not a whole number"))?;
            if n < 0 {
                bail!("--dynamic-config-value {key}: must not be negative");
            }
            config.limits.set(key, n);
        } else if !ALWAYS_ON.contains(&key) && !config.ignored.iter().any(|k| k == key) {
            config.ignored.push(key.to_string());
        }
    }
    Ok(config)
}

/// A duration as Temporal's dynamic config writes one: a string with a
/// unit ("1s", "500ms", "5m", "1h"), or a number of seconds.
fn duration_ms(json: &serde_json::Value) -> Option<i64> {
    if let Some(secs) = json.as_f64() {
        return (secs >= 0.0).then_some((secs * 1000.0) as i64);
    }
    let s = json.as_str()?.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (number, unit) = s.split_at(split);
    let n: f64 = number.parse().ok()?;
    let ms = match unit {
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        "h" => n * 3_600_000.0,
        _ => return None,
    };
    (ms >= 0.0).then_some(ms as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_all(flags: &[&str]) -> anyhow::Result<DynamicConfig> {
        parse(&flags.iter().map(std::string::ToString::to_string).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(parse_all(&[]).unwrap(), DynamicConfig::default());
        let c = parse_all(&["limit.historyCount.error=100", "limit.numPendingChildExecutions.error=3"]).unwrap();
        assert_eq!(c.limits.history_events_max, 100);
        assert_eq!(c.limits.pending_children_max, 3);
        assert!(c.ignored.is_empty());
        assert!(parse_all(&["limit.historyCount.error=x"]).is_err());
        assert!(parse_all(&["limit.historyCount.error=-1"]).is_err());
        assert!(parse_all(&["limit.historyCount.error"]).is_err());
        assert!(parse_all(&["=1"]).is_err());
    }

    #[test]
    fn durations_take_temporals_forms() {
        let c = parse_all(&[
            "matching.wv.VersionDrainageStatusVisibilityGracePeriod=\"1s\"",
            "matching.wv.VersionDrainageStatusRefreshInterval=\"500ms\"",
            "matching.PollerHistoryTTL=2",
        ])
        .unwrap();
        assert_eq!(
            (c.limits.version_drainage_grace_ms, c.limits.version_drainage_refresh_ms, c.limits.poller_history_ttl_ms),
            (1000, 500, 2000)
        );
        assert!(c.ignored.is_empty());
        assert!(parse_all(&["matching.PollerHistoryTTL=\"soon\""]).is_err());
    }

    #[test]
    fn eager_switches_are_booleans() {
        let defaults = Limits::default();
        assert!(defaults.eager_activities && defaults.eager_workflow_start);
        let c =
            parse_all(&["system.enableEagerWorkflowStart=false", "system.enableActivityEagerExecution=false"]).unwrap();
        assert!(!c.limits.eager_workflow_start && !c.limits.eager_activities);
        assert!(c.ignored.is_empty());
        assert!(parse_all(&["system.enableEagerWorkflowStart=1"]).is_err());
    }

    #[test]
    fn sdk_suite_flags_are_accepted() {
        let c = parse_all(&[
            "system.forceSearchAttributesCacheRefreshOnRead=true",
            "system.enableEagerWorkflowStart=true",
            "frontend.enableExecuteMultiOperation=true",
            "limit.historyCount.suggestContinueAsNew=50",
            "frontend.enableVersioningWorkflowAPIs=true",
            r#"component.callbacks.allowedAddresses=[{"Pattern":"*","AllowInsecure":true}]"#,
            "frontend.enableVersioningWorkflowAPIs=false",
            "matching.queryWorkflowTaskTimeoutLogRate=0.5",
        ])
        .unwrap();
        assert_eq!(c.limits.history_events_suggest_continue_as_new, 50);
        assert_eq!(
            c.ignored,
            [
                "frontend.enableVersioningWorkflowAPIs",
                "component.callbacks.allowedAddresses",
                "matching.queryWorkflowTaskTimeoutLogRate"
            ]
        );
        assert!(c.ignored_warning().unwrap().contains("component.callbacks.allowedAddresses"));
    }
}
