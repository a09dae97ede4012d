//! Signals and cancel requests from one workflow to another: delivered to
//! the target, then recorded on the sender, until both took effect.

use super::*;

impl History {
    /// Delivers a run's external signal or cancel request to its target,
    /// then records the outcome on the sender. Retried until both are
    /// committed; the target dedupes a repeated signal by request id.
    pub(super) async fn deliver_external(&self, source: MatchTask, request: chronicle_engine::ExternalRequest) {
        use chronicle_engine::{SignalArgs, api::common::v1::WorkflowExecution};
        let sender = WorkflowExecution { workflow_id: source.workflow_id.clone(), run_id: source.run_id.clone() };
        loop {
            // The sender's shard moved: its new holder delivers.
            if !self.holds_run(&source.namespace, &source.workflow_id) {
                return;
            }
            let target = match self.load(&source.namespace, &request.workflow_id, &request.run_id).await {
                Ok(state) => Some(state),
                Err(HistoryError::NotFound(_)) => None,
                Err(e) => {
                    tracing::warn!(error = %e, "external request: target lookup failed; retrying in 1s");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            };
            let delivered = match target.filter(chronicle_engine::MutableState::is_running) {
                None => false,
                Some(t) => {
                    let input = if request.is_cancel {
                        Input::RequestCancel {
                            reason: request.reason.clone(),
                            identity: String::new(),
                            external: Some((sender.clone(), request.initiated_event_id)),
                        }
                    } else {
                        Input::Signal(SignalArgs {
                            signal_name: request.signal_name.clone(),
                            input: request.input.clone(),
                            identity: String::new(),
                            header: request.header.clone(),
                            request_id: format!("{}:{}", source.run_id, request.initiated_event_id),
                            external_workflow_execution: Some(sender.clone()),
                        })
                    };
                    match self.apply_anywhere(&t.namespace, &t.workflow_id, &t.run_id, input).await {
                        Ok(()) => true,
                        Err(HistoryError::Engine(EngineError::WorkflowClosed)) => false,
                        Err(e) => {
                            tracing::warn!(error = %e, "external request: delivery failed; retrying in 1s");
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                            continue;
                        }
                    }
                }
            };
            let done = Input::ExternalRequestDone { initiated_event_id: request.initiated_event_id, delivered };
            match self.execute(&source.namespace, &source.workflow_id, &source.run_id, done).await {
                Ok(_) | Err(HistoryError::Engine(_)) => return,
                Err(e) if e.moved() => return,
                Err(e) => {
                    tracing::warn!(error = %e, "external request: recording the outcome failed; retrying in 1s");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    }
}
