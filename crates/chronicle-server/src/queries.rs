//! Queries in flight. QueryWorkflow registers one and waits for its answer.
//!
//! Consistency as on Temporal: a query must see every event acknowledged
//! before it. So while a run has a workflow task pending, its queries wait
//! here and ride on the next workflow task that starts (the poll response's
//! `queries`, answered in RespondWorkflowTaskCompleted.query_results); when
//! the run has no pending workflow task (or is closed), they go to a worker
//! at once as legacy query tasks (answered by RespondQueryTaskCompleted).
//! Nothing is persisted: a query lives only as long as the call that asked.

use chronicle_engine::api::{common::v1::Payloads, failure::v1::Failure, query::v1::WorkflowQuery};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

pub enum QueryAnswer {
    Answered(Option<Payloads>),
    Failed { message: String, failure: Option<Box<Failure>> },
}

struct Pending {
    query: WorkflowQuery,
    reply: oneshot::Sender<QueryAnswer>,
}

/// A query waiting on a run, and the workflow task it rides on (0: none yet).
#[derive(Clone, Copy)]
struct Waiting {
    id: u64,
    attached_to: i64,
}

#[derive(Default)]
pub struct Queries {
    next: AtomicU64,
    pending: Mutex<HashMap<u64, Pending>>,
    by_run: Mutex<HashMap<String, Vec<Waiting>>>,
}

/// Unregisters its query when dropped (answered, timed out, or the caller
/// went away).
pub struct Registration {
    pub id: u64,
    pub answer: oneshot::Receiver<QueryAnswer>,
    queries: Arc<Queries>,
}

impl Drop for Registration {
    fn drop(&mut self) {
        crate::sync::lock(&self.queries.pending).remove(&self.id);
    }
}

impl Queries {
    pub fn register(self: &Arc<Self>, query: WorkflowQuery) -> Registration {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let (reply, answer) = oneshot::channel();
        crate::sync::lock(&self.pending).insert(id, Pending { query, reply });
        Registration { id, answer, queries: self.clone() }
    }

    /// The query, if its caller still waits.
    pub fn get(&self, id: u64) -> Option<WorkflowQuery> {
        crate::sync::lock(&self.pending).get(&id).map(|p| p.query.clone())
    }

    /// Delivers an answer; false if nobody waits for it any more.
    pub fn answer(&self, id: u64, answer: QueryAnswer) -> bool {
        match crate::sync::lock(&self.pending).remove(&id) {
            Some(p) => p.reply.send(answer).is_ok(),
            None => false,
        }
    }

    /// Parks a query until the run's pending workflow task starts.
    pub fn park(&self, run_id: &str, id: u64) {
        crate::sync::lock(&self.by_run).entry(run_id.to_string()).or_default().push(Waiting { id, attached_to: 0 });
    }

    /// A workflow task started: every parked query rides on it.
    pub fn attach(&self, run_id: &str, started_event_id: i64) {
        if let Some(waiting) = crate::sync::lock(&self.by_run).get_mut(run_id) {
            for w in waiting.iter_mut().filter(|w| w.attached_to == 0) {
                w.attached_to = started_event_id;
            }
        }
    }

    /// The queries riding on a workflow task, for its poll response.
    pub fn attached(&self, run_id: &str, started_event_id: i64) -> Vec<(u64, WorkflowQuery)> {
        let ids: Vec<u64> = crate::sync::lock(&self.by_run)
            .get(run_id)
            .map(|w| w.iter().filter(|w| w.attached_to == started_event_id).map(|w| w.id).collect())
            .unwrap_or_default();
        ids.into_iter().filter_map(|id| self.get(id).map(|q| (id, q))).collect()
    }

    /// After a commit: queries riding on a workflow task that is no longer
    /// in flight are parked again; if the run has no pending workflow task,
    /// every parked query is returned for dispatch as a legacy query task.
    pub fn settle(&self, run_id: &str, started_event_id: Option<i64>, has_pending_task: bool) -> Vec<u64> {
        let mut by_run = crate::sync::lock(&self.by_run);
        let Some(waiting) = by_run.get_mut(run_id) else { return Vec::new() };
        for w in waiting.iter_mut() {
            if w.attached_to != 0 && Some(w.attached_to) != started_event_id {
                w.attached_to = 0;
            }
        }
        let pending = crate::sync::lock(&self.pending);
        waiting.retain(|w| pending.contains_key(&w.id));
        drop(pending);
        if has_pending_task {
            return Vec::new();
        }
        let (dispatch, keep): (Vec<Waiting>, Vec<Waiting>) = waiting.iter().partition(|w| w.attached_to == 0);
        *waiting = keep;
        if waiting.is_empty() {
            by_run.remove(run_id);
        }
        dispatch.into_iter().map(|w| w.id).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query() -> WorkflowQuery {
        WorkflowQuery { query_type: "q".into(), ..Default::default() }
    }

    #[test]
    fn parked_queries_ride_on_the_next_task_and_fall_back_to_direct_dispatch() {
        let queries = Arc::new(Queries::default());
        let a = queries.register(query());
        queries.park("run", a.id);
        // A workflow task is pending: nothing to dispatch yet.
        assert!(queries.settle("run", None, true).is_empty());
        // It starts: the query rides on it.
        queries.attach("run", 7);
        assert_eq!(queries.attached("run", 7).len(), 1);
        // A query arriving while that task runs waits for the next one.
        let b = queries.register(query());
        queries.park("run", b.id);
        assert_eq!(queries.attached("run", 7).len(), 1);
        // The task ended unanswered and nothing is pending: both go direct.
        let mut direct = queries.settle("run", None, false);
        direct.sort();
        assert_eq!(direct, vec![a.id, b.id]);
        assert!(queries.settle("run", None, false).is_empty());
    }

    #[test]
    fn answered_or_abandoned_queries_are_dropped() {
        let queries = Arc::new(Queries::default());
        let a = queries.register(query());
        let b = queries.register(query());
        queries.park("run", a.id);
        queries.park("run", b.id);
        assert!(queries.answer(a.id, QueryAnswer::Answered(None)));
        assert!(!queries.answer(a.id, QueryAnswer::Answered(None)), "answered once");
        drop(b);
        assert!(queries.settle("run", None, false).is_empty());
    }
}
