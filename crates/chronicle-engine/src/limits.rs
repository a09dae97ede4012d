//! Every limit Chronicle applies, in one table: names end with their unit,
//! each says Temporal's default and, where Temporal has one, its dynamic
//! config key. `Limits` holds the ones a server may configure
//! (`--dynamic-config-value KEY=VALUE`; tests use small ones to reach each
//! threshold quickly); the constants are fixed. Handlers name these, never
//! a literal number.

use std::time::Duration;

const MIB: i64 = 1024 * 1024;

/// The configurable limits (per execution, and the server's run cache).
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// WorkflowTaskStarted carries `suggest_continue_as_new` from this many
    /// events on (`limit.historyCount.suggestContinueAsNew`, 4,096).
    pub history_events_suggest_continue_as_new: i64,
    /// ... or this many bytes (`limit.historySize.suggestContinueAsNew`, 4 MiB).
    pub history_bytes_suggest_continue_as_new: i64,
    /// The server logs a warning past these (`limit.historyCount.warn`,
    /// 10,240; `limit.historySize.warn`, 10 MiB).
    pub history_events_warn: i64,
    pub history_bytes_warn: i64,
    /// A transition that would take the history past these terminates the
    /// run instead (`limit.historyCount.error`, 51,200;
    /// `limit.historySize.error`, 50 MiB).
    pub history_events_max: i64,
    pub history_bytes_max: i64,
    /// Children started and not yet closed, per run
    /// (`limit.numPendingChildExecutions.error`, 2,000).
    pub pending_children_max: usize,
    /// Events in a poll response's history; the worker pages the rest with
    /// the response's `next_page_token` (`frontend.historyMaxPageSize` sets
    /// this and the default read page; Chronicle's default is large, so
    /// most histories come in one response).
    pub poll_history_events_max: usize,
    /// Events per GetWorkflowExecutionHistory page when the caller names no
    /// size (1,000).
    pub history_page_events_default: usize,
    /// Runs per visibility list page: the default when the caller names no
    /// size, and the most it may ask for (`frontend.visibilityMaxPageSize`,
    /// 1,000; larger requests are capped, as Temporal caps them).
    pub list_page_runs_max: usize,
    /// Runs whose mutable state the server keeps in memory; idle ones past
    /// this are evicted and read again when needed
    /// (`history.hostLevelCacheMaxSize`; Chronicle's default 10,000).
    pub run_cache_runs_max: usize,
    /// ... and their encoded size in bytes
    /// (`history.hostLevelCacheMaxSizeBytes`; Chronicle's default 64 MiB).
    pub run_cache_bytes_max: usize,
    /// Requests per second per namespace, long polls included, with bursts
    /// of twice as many (`frontend.namespaceRPS`, burst ratio 2 as
    /// Temporal's); 0: no limit. Past it: ResourceExhausted (RPS_LIMIT).
    /// Chronicle's default is no limit: Temporal's 2,400 would hold one
    /// Chronicle node below what it serves (a hello workflow is about seven
    /// calls), so the limit is for operators sharing a server between teams.
    pub namespace_requests_per_second: usize,
    /// Long polls in flight per namespace (`frontend.namespaceCount`,
    /// 1,200); 0: no limit. Past it: ResourceExhausted (CONCURRENT_LIMIT).
    pub namespace_polls_max: usize,
    /// Whether a workflow task's ScheduleActivityTask commands that ask for
    /// `request_eager_execution` start their activities at once, returned
    /// to the completing worker (`system.enableActivityEagerExecution`;
    /// Temporal's default is off, Chronicle's on: it saves each activity a
    /// poll, and the SDKs ask only for activities they have a slot for).
    pub eager_activities: bool,
    /// Whether StartWorkflowExecution's `request_eager_execution` is
    /// honoured: the first workflow task is started with the run and
    /// returned in the start's response (`system.enableEagerWorkflowStart`,
    /// on by default as on Temporal).
    pub eager_workflow_start: bool,
    /// Worker deployments: a version that stopped being current or ramping
    /// is first checked for running workflows pinned to it this long after
    /// (`matching.wv.VersionDrainageStatusVisibilityGracePeriod`, 3 min)...
    pub version_drainage_grace_ms: i64,
    /// ... and then this often until none is left, when it is drained
    /// (`matching.wv.VersionDrainageStatusRefreshInterval`, 5 min).
    pub version_drainage_refresh_ms: i64,
    /// A version's workers count as polling this long after their last
    /// poll: such a version is not deleted (`matching.PollerHistoryTTL`,
    /// 5 min).
    pub poller_history_ttl_ms: i64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            history_events_suggest_continue_as_new: 4096,
            history_bytes_suggest_continue_as_new: 4 * MIB,
            history_events_warn: 10_240,
            history_bytes_warn: 10 * MIB,
            history_events_max: 51_200,
            history_bytes_max: 50 * MIB,
            pending_children_max: 2000,
            poll_history_events_max: 50_000,
            history_page_events_default: 1000,
            list_page_runs_max: 1000,
            run_cache_runs_max: 10_000,
            run_cache_bytes_max: 64 * MIB as usize,
            namespace_requests_per_second: 0,
            namespace_polls_max: 1200,
            eager_activities: true,
            eager_workflow_start: true,
            version_drainage_grace_ms: 180_000,
            version_drainage_refresh_ms: 300_000,
            poller_history_ttl_ms: 300_000,
        }
    }
}

/// Sets one configurable limit from a non-negative whole number.
type Setter = fn(&mut Limits, i64);

impl Limits {
    /// Temporal's dynamic config keys for the configurable durations (set
    /// in milliseconds).
    pub const DURATION_KEYS: &[(&str, Setter)] = &[
        ("matching.wv.VersionDrainageStatusVisibilityGracePeriod", |l, ms| l.version_drainage_grace_ms = ms),
        ("matching.wv.VersionDrainageStatusRefreshInterval", |l, ms| l.version_drainage_refresh_ms = ms),
        ("matching.PollerHistoryTTL", |l, ms| l.poller_history_ttl_ms = ms),
    ];

    /// Temporal's dynamic config keys for the configurable limits.
    pub const KEYS: &[(&str, Setter)] = &[
        ("limit.historyCount.suggestContinueAsNew", |l, n| l.history_events_suggest_continue_as_new = n),
        ("limit.historySize.suggestContinueAsNew", |l, n| l.history_bytes_suggest_continue_as_new = n),
        ("limit.historyCount.warn", |l, n| l.history_events_warn = n),
        ("limit.historySize.warn", |l, n| l.history_bytes_warn = n),
        ("limit.historyCount.error", |l, n| l.history_events_max = n),
        ("limit.historySize.error", |l, n| l.history_bytes_max = n),
        ("limit.numPendingChildExecutions.error", |l, n| {
            l.pending_children_max = usize::try_from(n).unwrap_or(usize::MAX);
        }),
        ("frontend.historyMaxPageSize", |l, n| {
            let n = usize::try_from(n).unwrap_or(usize::MAX).max(1);
            l.poll_history_events_max = n;
            l.history_page_events_default = n;
        }),
        ("frontend.visibilityMaxPageSize", |l, n| {
            l.list_page_runs_max = usize::try_from(n).unwrap_or(usize::MAX).max(1);
        }),
        ("history.hostLevelCacheMaxSize", |l, n| l.run_cache_runs_max = usize::try_from(n).unwrap_or(usize::MAX)),
        ("history.hostLevelCacheMaxSizeBytes", |l, n| {
            l.run_cache_bytes_max = usize::try_from(n).unwrap_or(usize::MAX);
        }),
        ("frontend.namespaceRPS", |l, n| l.namespace_requests_per_second = usize::try_from(n).unwrap_or(usize::MAX)),
        ("frontend.namespaceCount", |l, n| l.namespace_polls_max = usize::try_from(n).unwrap_or(usize::MAX)),
    ];

    /// Sets the limit Temporal names `key`; false if there is none.
    pub fn set(&mut self, key: &str, value: i64) -> bool {
        match Self::KEYS.iter().find(|(k, _)| *k == key) {
            Some((_, set)) => {
                set(self, value.max(0));
                true
            }
            None => false,
        }
    }
}

// --- Per execution (engine) ------------------------------------------------

/// One payload set (input, result, details, ...): Temporal's blob size
/// limit (`limit.blobSize.error`, 2 MiB).
pub const PAYLOAD_BYTES_MAX: usize = 2 * 1024 * 1024;
/// Ids and names: workflow, run, activity, timer, update, signal and type
/// names (`limit.maxIDLength`, 1,000).
pub const ID_BYTES_MAX: usize = 1000;
/// A namespace name (Temporal's namespace name rule, 255).
pub const NAMESPACE_NAME_BYTES_MAX: usize = 255;
/// Causes kept in a failure from outside, counting the failure itself
/// (Chronicle's own: stored state must stay under the protobuf decoders'
/// 100 levels of nesting).
pub const FAILURE_CAUSES_MAX: usize = 32;
/// Signals over a run's life (`limit.maxSignalsPerExecution`; Chronicle's
/// default, Temporal's is unlimited).
pub const SIGNALS_PER_RUN_MAX: i64 = 10_000;
/// Signals sent to other workflows and not yet delivered
/// (`limit.numPendingSignals.error`, 2,000).
pub const PENDING_SIGNALS_MAX: usize = 2000;
/// Updates admitted or accepted and not completed
/// (`limit.workflowExecution.maxInFlightUpdates`, 10).
pub const UPDATES_IN_FLIGHT_MAX: usize = 10;
/// Updates over a run's life (`limit.workflowExecution.maxTotalUpdates`, 2,000).
pub const UPDATES_PER_RUN_MAX: i64 = 2000;
/// Continue-as-new is suggested once this share of `UPDATES_PER_RUN_MAX`
/// has been admitted (`limit.workflowExecution.maxTotalUpdates.suggestContinueAsNewThreshold`, 0.9).
pub const UPDATES_SUGGEST_CONTINUE_AS_NEW_RATIO: f64 = 0.9;
/// Auto-reset points kept per run (Temporal keeps 20).
pub const RESET_POINTS_MAX: usize = 20;
/// A workflow task's start-to-close timeout: default and most allowed
/// (10 s and 120 s).
pub const WORKFLOW_TASK_TIMEOUT_SECS_DEFAULT: i64 = 10;
pub const WORKFLOW_TASK_TIMEOUT_SECS_MAX: i64 = 120;
/// A sticky queue's schedule-to-start timeout when the worker names none
/// (the SDKs' default, 10 s).
pub const STICKY_SCHEDULE_TO_START_SECS_DEFAULT: i64 = 10;

// --- Requests and pages (server) --------------------------------------------

/// Largest gRPC request accepted, by default (Temporal's frontend's
/// 4 MiB, after decompression; `--max-request-bytes` sets it). A larger
/// one is refused ResourceExhausted before it is read into memory whole.
pub const GRPC_REQUEST_BYTES_DEFAULT: usize = 4 * 1024 * 1024;
/// Largest gRPC response sent (history pages are bounded by event counts,
/// not bytes, so this is generous).
pub const GRPC_RESPONSE_BYTES_MAX: usize = 128 * 1024 * 1024;
/// Events in a legacy query task's history (it is answered from a replay
/// of the whole history in one response).
pub const QUERY_TASK_HISTORY_EVENTS_MAX: usize = 50_000;
/// Events per GetWorkflowExecutionHistory page, at most.
pub const HISTORY_PAGE_EVENTS_MAX: usize = 10_000;
/// Namespaces per ListNamespaces page when the caller names no size.
pub const NAMESPACE_PAGE_DEFAULT: usize = 100;
/// Schedules per ListSchedules page when the caller names no size.
pub const SCHEDULE_PAGE_DEFAULT: usize = 1000;
/// A visibility query's text (Chronicle's own bound; Temporal accepts up
/// to its message limit).
pub const QUERY_BYTES_MAX: usize = 1024 * 1024;
/// Parentheses and NOTs open around a query token: Temporal's SQL parser
/// refuses the 200th level ("max nesting level reached").
pub const QUERY_NESTING_MAX: usize = 199;
/// Depth of a query's syntax tree, counted as Temporal's parser builds it
/// (an AND / OR chain of n operands is n - 1 levels, a comparison 1,
/// parentheses and NOT 1 each): deeper is "max ast depth reached".
pub const QUERY_SYNTAX_DEPTH_MAX: usize = 995;

/// Commit requests one SQLite transaction takes at most (group commit).
pub const COMMIT_GROUP_WRITES_MAX: usize = 256;

// --- Durable queues --------------------------------------------------------

/// Tasks a task queue holds in memory; more wait on disk and are read in
/// pages of this size as the queue drains.
pub const TASK_QUEUE_MEMORY_TASKS_MAX: usize = 1000;
/// A queue with fewer tasks in memory than this reads its backlog.
pub const TASK_QUEUE_REFILL_BELOW: usize = 250;
/// A task handed to a poller is not offered again from disk for this long
/// (its start commit removes its row well before).
pub const TASK_HANDED_OUT_FOR: Duration = Duration::from_secs(30);
/// Timers due within this window are held in memory; later ones are read
/// from disk as the window moves on.
pub const TIMER_WINDOW: Duration = Duration::from_secs(60);
/// How often the timer window moves on.
pub const TIMER_READ_EVERY: Duration = Duration::from_secs(15);
/// Rows per read of the timer and transfer queues.
pub const TASK_READ_PAGE: usize = 1000;
/// Transfer tasks (work between runs) run at once when read at start.
pub const TRANSFER_STARTUP_CONCURRENCY: usize = 32;

// --- Waits -----------------------------------------------------------------

/// Longest a task-queue poll or history long poll is held.
pub const LONG_POLL_MAX: Duration = Duration::from_secs(60);
/// How early a task-queue poll answers before the caller's deadline.
pub const LONG_POLL_MARGIN: Duration = Duration::from_secs(1);
/// Longest an update call waits for its stage before answering with the
/// stage reached (`history.longPollExpirationInterval`, 20 s).
pub const UPDATE_WAIT_MAX: Duration = Duration::from_secs(20);
/// Longest a query waits for a worker's answer.
pub const QUERY_WAIT_MAX: Duration = Duration::from_secs(60);

// --- Schedules -------------------------------------------------------------

/// Action times taken per schedule per pass of the scheduler.
pub const SCHEDULE_ACTIONS_PER_PASS_MAX: usize = 1000;
/// Buffered actions per schedule (BUFFER_ALL), as Temporal's 1,000.
pub const SCHEDULE_BUFFERED_ACTIONS_MAX: usize = 1000;
/// Recent actions kept on a schedule's info (Temporal keeps 10).
pub const SCHEDULE_RECENT_ACTIONS_MAX: usize = 10;
/// Future action times in DescribeSchedule and ListSchedules (10 and 5).
pub const SCHEDULE_FUTURE_TIMES_DESCRIBE: usize = 10;
pub const SCHEDULE_FUTURE_TIMES_LIST: usize = 5;
/// Matching times answered by ListScheduleMatchingTimes.
pub const SCHEDULE_MATCHING_TIMES_MAX: usize = 1000;
/// Catch-up window when the schedule names none (1 year, as Temporal).
pub const SCHEDULE_CATCHUP_WINDOW_SECS_DEFAULT: i64 = 365 * 24 * 3600;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_sets_its_limit() {
        for (key, _) in Limits::KEYS {
            let mut limits = Limits::default();
            assert!(limits.set(key, 7), "{key}");
            assert_ne!(limits, Limits::default(), "{key} changed nothing");
        }
        assert!(!Limits::default().set("limit.nope", 1));
    }
}
