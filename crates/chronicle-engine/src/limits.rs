//! Per-execution limits, with Temporal's defaults. The server may configure
//! them (tests use small ones to reach each threshold quickly).

/// History and fan-out limits applied by the engine.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// WorkflowTaskStarted carries `suggest_continue_as_new` from here on.
    pub history_count_suggest_continue_as_new: i64,
    pub history_size_suggest_continue_as_new: i64,
    /// The server logs a warning past these.
    pub history_count_warn: i64,
    pub history_size_warn: i64,
    /// A transition that would take the history past these terminates the
    /// run instead.
    pub history_count_error: i64,
    pub history_size_error: i64,
    /// Children started and not yet closed, per run.
    pub max_pending_children: usize,
}

impl Default for Limits {
    fn default() -> Self {
        const MIB: i64 = 1024 * 1024;
        Limits {
            history_count_suggest_continue_as_new: 4096,
            history_size_suggest_continue_as_new: 4 * MIB,
            history_count_warn: 10_240,
            history_size_warn: 10 * MIB,
            history_count_error: 51_200,
            history_size_error: 50 * MIB,
            max_pending_children: 2000,
        }
    }
}

/// Temporal suggests continue-as-new once this share of the per-run update
/// limit has been admitted.
pub(crate) const UPDATES_SUGGEST_CONTINUE_AS_NEW_RATIO: f64 = 0.9;
