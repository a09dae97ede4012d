//! `--dynamic-config-value KEY=VALUE`, as the `temporal` dev server takes
//! it, for the limits Chronicle applies.

use anyhow::{Context, bail};
use chronicle_engine::Limits;

/// The keys Chronicle understands (Temporal's names).
const KEYS: &[&str] = &[
    "limit.historyCount.suggestContinueAsNew",
    "limit.historySize.suggestContinueAsNew",
    "limit.historyCount.warn",
    "limit.historySize.warn",
    "limit.historyCount.error",
    "limit.historySize.error",
    "limit.numPendingChildExecutions.error",
];

/// Applies each `KEY=VALUE` to Temporal's default limits.
pub fn limits(values: &[String]) -> anyhow::Result<Limits> {
    let mut limits = Limits::default();
    for entry in values {
        let (key, value) =
            entry.split_once('=').with_context(|| format!("--dynamic-config-value {entry}: expected KEY=VALUE"))?;
        let n: i64 = value
            .trim()
            .parse()
            .with_context(|| format!("--dynamic-config-value {key}: {value} is not a whole number"))?;
        if n < 0 {
            bail!("--dynamic-config-value {key}: must not be negative");
        }
        match key.trim() {
            "limit.historyCount.suggestContinueAsNew" => limits.history_count_suggest_continue_as_new = n,
            "limit.historySize.suggestContinueAsNew" => limits.history_size_suggest_continue_as_new = n,
            "limit.historyCount.warn" => limits.history_count_warn = n,
            "limit.historySize.warn" => limits.history_size_warn = n,
            "limit.historyCount.error" => limits.history_count_error = n,
            "limit.historySize.error" => limits.history_size_error = n,
            "limit.numPendingChildExecutions.error" => limits.max_pending_children = n as usize,
            other => bail!("--dynamic-config-value: unknown key {other}; known keys: {}", KEYS.join(", ")),
        }
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(limits(&[]).unwrap(), Limits::default());
        let l =
            limits(&["limit.historyCount.error=100".into(), "limit.numPendingChildExecutions.error=3".into()]).unwrap();
        assert_eq!(l.history_count_error, 100);
        assert_eq!(l.max_pending_children, 3);
        assert!(limits(&["nope=1".into()]).is_err());
        assert!(limits(&["limit.historyCount.error=x".into()]).is_err());
        assert!(limits(&["limit.historyCount.error".into()]).is_err());
    }
}
