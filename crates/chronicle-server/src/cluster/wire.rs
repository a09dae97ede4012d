//! What nodes say to each other (`chronicle_proto::cluster`), to and from
//! the engine's inputs and start requests and the history service's
//! errors.
//!
//! Only what crosses nodes has a wire form: inputs one run sends another
//! (work between runs) or a forwarded client call makes, and starts of
//! fresh runs (continuations and update-with-start stay on the run's own
//! node). Structs are destructured in full, without `..`, so a field added
//! to either side fails to compile here until it is carried or ruled out.

use crate::history::HistoryError;
use chronicle_engine::api::{
    common::v1::WorkflowExecution,
    enums::v1::{ContinueAsNewInitiator, StartChildWorkflowExecutionFailedCause},
};
use chronicle_engine::{ChildClose, Continued, EngineError, Input, ParentInfo, SignalArgs, StartArgs};
use chronicle_proto::cluster::{
    ErrorKind, RemoteChildClose, RemoteContinued, RemoteError, RemoteInput, RemoteParent, RemoteSignal,
    RemoteStartArgs, remote_child_close as close, remote_input as input,
};
use chronicle_store::StoreError;

/// The wire form of an input, or None for an input that is only ever
/// applied on the node holding the run (a worker's task calls, timers,
/// bookkeeping after work between runs).
pub fn input_to_wire(value: &Input) -> Option<RemoteInput> {
    use input::Kind;
    let kind = match value {
        Input::ChildStarted { initiated_event_id, run_id } => {
            Kind::ChildStarted(input::ChildStarted { initiated_event_id: *initiated_event_id, run_id: run_id.clone() })
        }
        Input::ChildStartFailed { initiated_event_id, cause } => Kind::ChildStartFailed(input::ChildStartFailed {
            initiated_event_id: *initiated_event_id,
            cause: *cause as i32,
        }),
        Input::ChildClosed { initiated_event_id, run_id, closed } => Kind::ChildClosed(input::ChildClosed {
            initiated_event_id: *initiated_event_id,
            run_id: run_id.clone(),
            closed: Some(child_close_to_wire(closed)),
        }),
        Input::Signal(args) => Kind::Signal(signal_to_wire(args)),
        Input::RequestCancel { reason, identity, external } => Kind::RequestCancel(input::RequestCancel {
            reason: reason.clone(),
            identity: identity.clone(),
            external: external.as_ref().map(|(execution, initiated_event_id)| input::ExternalCancel {
                execution: Some(execution.clone()),
                initiated_event_id: *initiated_event_id,
            }),
        }),
        Input::Terminate { reason, details, identity } => Kind::Terminate(input::Terminate {
            reason: reason.clone(),
            details: details.clone(),
            identity: identity.clone(),
        }),
        Input::StickyWorkerUnavailable { scheduled_event_id, attempt } => {
            Kind::StickyWorkerUnavailable(input::StickyWorkerUnavailable {
                scheduled_event_id: *scheduled_event_id,
                attempt: *attempt,
            })
        }
        // Listed rather than `_`, so a new input is a decision here.
        Input::WorkflowTaskStarted { .. }
        | Input::WorkflowTaskCompleted(_)
        | Input::WorkflowTaskFailed { .. }
        | Input::ActivityTaskStarted { .. }
        | Input::ActivityTaskCompleted { .. }
        | Input::ActivityTaskFailed { .. }
        | Input::ActivityTaskCanceled { .. }
        | Input::ActivityTaskHeartbeat { .. }
        | Input::TimerFired(_)
        | Input::UpdateAdmit(_)
        | Input::ExternalRequestDone { .. }
        | Input::ParentNotified
        | Input::ResetSticky
        | Input::UpdateOptions { .. }
        | Input::ActivityControl(_)
        | Input::ChildClosePolicyApplied { .. }
        | Input::Standalone(_) => return None,
    };
    Some(RemoteInput { kind: Some(kind) })
}

/// The input a peer sent; an error names what was missing or unknown (a
/// newer peer's input, say), for an INVALID_ARGUMENT answer.
pub fn input_from_wire(value: RemoteInput) -> Result<Input, String> {
    use input::Kind;
    let kind = value.kind.ok_or("an input of no kind this node knows")?;
    Ok(match kind {
        Kind::ChildStarted(input::ChildStarted { initiated_event_id, run_id }) => {
            Input::ChildStarted { initiated_event_id, run_id }
        }
        Kind::ChildStartFailed(input::ChildStartFailed { initiated_event_id, cause }) => Input::ChildStartFailed {
            initiated_event_id,
            cause: StartChildWorkflowExecutionFailedCause::try_from(cause)
                .map_err(|_| format!("unknown child start failure cause {cause}"))?,
        },
        Kind::ChildClosed(input::ChildClosed { initiated_event_id, run_id, closed }) => Input::ChildClosed {
            initiated_event_id,
            run_id,
            closed: child_close_from_wire(closed.ok_or("a child close without its outcome")?)?,
        },
        Kind::Signal(signal) => Input::Signal(signal_from_wire(signal)),
        Kind::RequestCancel(input::RequestCancel { reason, identity, external }) => Input::RequestCancel {
            reason,
            identity,
            external: external
                .map(|input::ExternalCancel { execution, initiated_event_id }| {
                    Ok::<_, String>((required(execution, "external cancel")?, initiated_event_id))
                })
                .transpose()?,
        },
        Kind::Terminate(input::Terminate { reason, details, identity }) => {
            Input::Terminate { reason, details, identity }
        }
        Kind::StickyWorkerUnavailable(input::StickyWorkerUnavailable { scheduled_event_id, attempt }) => {
            Input::StickyWorkerUnavailable { scheduled_event_id, attempt }
        }
    })
}

fn child_close_to_wire(value: &ChildClose) -> RemoteChildClose {
    use close::Kind;
    let kind = match value {
        ChildClose::Completed { execution, result } => {
            Kind::Completed(close::Completed { execution: Some(execution.clone()), result: result.clone() })
        }
        ChildClose::Failed { execution, failure, retry_state } => Kind::Failed(close::Failed {
            execution: Some(execution.clone()),
            failure: failure.clone(),
            retry_state: *retry_state,
        }),
        ChildClose::Canceled { execution, details } => {
            Kind::Canceled(close::Canceled { execution: Some(execution.clone()), details: details.clone() })
        }
        ChildClose::Terminated { execution } => {
            Kind::Terminated(close::Terminated { execution: Some(execution.clone()) })
        }
        ChildClose::TimedOut { execution, retry_state } => {
            Kind::TimedOut(close::TimedOut { execution: Some(execution.clone()), retry_state: *retry_state })
        }
    };
    RemoteChildClose { kind: Some(kind) }
}

fn child_close_from_wire(value: RemoteChildClose) -> Result<ChildClose, String> {
    use close::Kind;
    const WHAT: &str = "child close";
    Ok(match value.kind.ok_or("a child close of no kind this node knows")? {
        Kind::Completed(close::Completed { execution, result }) => {
            ChildClose::Completed { execution: required(execution, WHAT)?, result }
        }
        Kind::Failed(close::Failed { execution, failure, retry_state }) => {
            ChildClose::Failed { execution: required(execution, WHAT)?, failure, retry_state }
        }
        Kind::Canceled(close::Canceled { execution, details }) => {
            ChildClose::Canceled { execution: required(execution, WHAT)?, details }
        }
        Kind::Terminated(close::Terminated { execution }) => {
            ChildClose::Terminated { execution: required(execution, WHAT)? }
        }
        Kind::TimedOut(close::TimedOut { execution, retry_state }) => {
            ChildClose::TimedOut { execution: required(execution, WHAT)?, retry_state }
        }
    })
}

/// A workflow execution the engine holds as a plain value. Encoding always
/// sets it (an empty message is still present on the wire), so its absence
/// means a malformed message, not an empty execution.
fn required(execution: Option<WorkflowExecution>, what: &str) -> Result<WorkflowExecution, String> {
    execution.ok_or_else(|| format!("{what} without its workflow execution"))
}

fn signal_to_wire(value: &SignalArgs) -> RemoteSignal {
    let SignalArgs { signal_name, input, identity, header, request_id, external_workflow_execution } = value;
    RemoteSignal {
        signal_name: signal_name.clone(),
        input: input.clone(),
        identity: identity.clone(),
        header: header.clone(),
        request_id: request_id.clone(),
        external_workflow_execution: external_workflow_execution.clone(),
    }
}

fn signal_from_wire(value: RemoteSignal) -> SignalArgs {
    let RemoteSignal { signal_name, input, identity, header, request_id, external_workflow_execution } = value;
    SignalArgs { signal_name, input, identity, header, request_id, external_workflow_execution }
}

/// The wire form of a start, or None for an update-with-start, which is
/// only ever started on the workflow's own node.
pub fn start_args_to_wire(args: &StartArgs) -> Option<RemoteStartArgs> {
    let StartArgs {
        namespace,
        namespace_id,
        workflow_id,
        run_id,
        workflow_type,
        task_queue,
        input,
        execution_timeout,
        run_timeout,
        task_timeout,
        identity,
        request_id,
        retry_policy,
        memo,
        search_attributes,
        header,
        priority,
        cron_schedule,
        signal,
        parent,
        root_execution,
        continued,
        update,
        user_metadata,
        eager,
        activity,
        versioning_override,
    } = args;
    // Both are started only on the run's own node (their calls are
    // forwarded there whole).
    if update.is_some() || activity.is_some() {
        return None;
    }
    Some(RemoteStartArgs {
        namespace: namespace.clone(),
        namespace_id: namespace_id.clone(),
        workflow_id: workflow_id.clone(),
        run_id: run_id.clone(),
        workflow_type: workflow_type.clone(),
        task_queue: task_queue.clone(),
        input: input.clone(),
        execution_timeout: *execution_timeout,
        run_timeout: *run_timeout,
        task_timeout: *task_timeout,
        identity: identity.clone(),
        request_id: request_id.clone(),
        retry_policy: retry_policy.clone(),
        memo: memo.clone(),
        search_attributes: search_attributes.clone(),
        header: header.clone(),
        priority: priority.clone(),
        cron_schedule: cron_schedule.clone(),
        signal: signal.as_ref().map(signal_to_wire),
        parent: parent.as_ref().map(|p| {
            let ParentInfo { namespace, namespace_id, execution, initiated_event_id } = p;
            RemoteParent {
                namespace: namespace.clone(),
                namespace_id: namespace_id.clone(),
                execution: Some(execution.clone()),
                initiated_event_id: *initiated_event_id,
            }
        }),
        root_execution: root_execution.clone(),
        user_metadata: user_metadata.clone(),
        eager: *eager,
        continued: continued.as_ref().map(continued_to_wire),
        versioning_override: versioning_override.clone(),
    })
}

fn continued_to_wire(c: &Continued) -> RemoteContinued {
    let Continued {
        previous_run_id,
        first_execution_run_id,
        initiator,
        attempt,
        failure,
        last_completion_result,
        backoff,
        execution_expiration_time,
        reset_points,
    } = c;
    RemoteContinued {
        previous_run_id: previous_run_id.clone(),
        first_execution_run_id: first_execution_run_id.clone(),
        initiator: *initiator as i32,
        attempt: *attempt,
        failure: failure.clone(),
        last_completion_result: last_completion_result.clone(),
        backoff: *backoff,
        execution_expiration_time: *execution_expiration_time,
        reset_points: reset_points.clone(),
    }
}

fn continued_from_wire(c: RemoteContinued) -> Continued {
    let RemoteContinued {
        previous_run_id,
        first_execution_run_id,
        initiator,
        attempt,
        failure,
        last_completion_result,
        backoff,
        execution_expiration_time,
        reset_points,
    } = c;
    Continued {
        previous_run_id,
        first_execution_run_id,
        initiator: ContinueAsNewInitiator::try_from(initiator).unwrap_or_default(),
        attempt,
        failure,
        last_completion_result,
        backoff,
        execution_expiration_time,
        reset_points,
    }
}

/// The start a peer sent; an error names what was missing.
pub fn start_args_from_wire(args: RemoteStartArgs) -> Result<StartArgs, String> {
    let RemoteStartArgs {
        namespace,
        namespace_id,
        workflow_id,
        run_id,
        workflow_type,
        task_queue,
        input,
        execution_timeout,
        run_timeout,
        task_timeout,
        identity,
        request_id,
        retry_policy,
        memo,
        search_attributes,
        header,
        priority,
        cron_schedule,
        signal,
        parent,
        root_execution,
        user_metadata,
        eager,
        continued,
        versioning_override,
    } = args;
    let parent = parent
        .map(|RemoteParent { namespace, namespace_id, execution, initiated_event_id }| {
            Ok::<_, String>(ParentInfo {
                namespace,
                namespace_id,
                execution: required(execution, "parent")?,
                initiated_event_id,
            })
        })
        .transpose()?;
    Ok(StartArgs {
        namespace,
        namespace_id,
        workflow_id,
        run_id,
        workflow_type,
        task_queue,
        input,
        execution_timeout,
        run_timeout,
        task_timeout,
        identity,
        request_id,
        retry_policy,
        memo,
        search_attributes,
        header,
        priority,
        cron_schedule,
        signal: signal.map(signal_from_wire),
        parent,
        root_execution,
        continued: continued.map(continued_from_wire),
        update: None,
        user_metadata,
        eager,
        activity: None,
        versioning_override,
    })
}

/// A history error as the calling node should see it: the engine's and the
/// history service's one to one; of the store's, those a caller acts on
/// (retry, conflict, shard moved, not found) by kind, the rest as Internal
/// with their text (answered UNAVAILABLE, as locally).
pub fn error_to_wire(e: &HistoryError) -> RemoteError {
    let (kind, message) = match e {
        HistoryError::Engine(engine) => (engine_kind(engine), engine.to_string()),
        // The inner text, not the error's Display, so a round trip does
        // not prefix it twice.
        HistoryError::Store(StoreError::Unavailable(m)) => (ErrorKind::Unavailable, m.clone()),
        HistoryError::Store(StoreError::Conflict(m)) => (ErrorKind::Conflict, m.clone()),
        HistoryError::Store(StoreError::Internal(m)) => (ErrorKind::Internal, m.clone()),
        HistoryError::Store(lost @ StoreError::ShardOwnershipLost { .. }) => (ErrorKind::NotOwner, lost.to_string()),
        // As the history service reports a missing run itself.
        HistoryError::Store(StoreError::NotFound(missing)) => {
            (ErrorKind::NotFound, crate::errors::missing_message(missing))
        }
        HistoryError::Store(other) => (ErrorKind::Internal, other.to_string()),
        HistoryError::NotFound(m) => (ErrorKind::NotFound, m.clone()),
        HistoryError::InvalidArgument(m) => (ErrorKind::InvalidArgument, m.clone()),
        HistoryError::NotOwner(m) => (ErrorKind::NotOwner, m.clone()),
        HistoryError::AlreadyStarted { message, start_request_id, run_id } => {
            return RemoteError {
                kind: ErrorKind::AlreadyStarted as i32,
                message: message.clone(),
                start_request_id: start_request_id.clone(),
                run_id: run_id.clone(),
            };
        }
    };
    RemoteError { kind: kind as i32, message, start_request_id: String::new(), run_id: String::new() }
}

fn engine_kind(e: &EngineError) -> ErrorKind {
    match e {
        EngineError::WorkflowClosed => ErrorKind::WorkflowClosed,
        EngineError::WorkflowTaskNotFound => ErrorKind::WorkflowTaskNotFound,
        EngineError::ActivityTaskNotFound => ErrorKind::ActivityTaskNotFound,
        EngineError::StaleTimer => ErrorKind::StaleTimer,
        EngineError::InvalidArgument(_) => ErrorKind::EngineInvalidArgument,
        EngineError::FailedPrecondition(_) => ErrorKind::EngineFailedPrecondition,
        EngineError::LimitExceeded(_) => ErrorKind::EngineLimitExceeded,
        EngineError::NotFound(_) => ErrorKind::NotFound,
    }
}

/// A peer's error as if the work had failed here. A kind this build does
/// not know (a newer peer's) is taken as worth retrying.
pub fn error_from_wire(e: RemoteError) -> HistoryError {
    let RemoteError { kind, message, start_request_id, run_id } = e;
    match ErrorKind::try_from(kind).unwrap_or(ErrorKind::Unspecified) {
        ErrorKind::WorkflowClosed => EngineError::WorkflowClosed.into(),
        ErrorKind::WorkflowTaskNotFound => EngineError::WorkflowTaskNotFound.into(),
        ErrorKind::ActivityTaskNotFound => EngineError::ActivityTaskNotFound.into(),
        ErrorKind::StaleTimer => EngineError::StaleTimer.into(),
        ErrorKind::EngineInvalidArgument => EngineError::InvalidArgument(message).into(),
        ErrorKind::EngineFailedPrecondition => EngineError::FailedPrecondition(message).into(),
        ErrorKind::EngineLimitExceeded => EngineError::LimitExceeded(message).into(),
        ErrorKind::NotFound => HistoryError::NotFound(message),
        ErrorKind::AlreadyStarted => HistoryError::AlreadyStarted { message, start_request_id, run_id },
        ErrorKind::InvalidArgument => HistoryError::InvalidArgument(message),
        ErrorKind::Unavailable | ErrorKind::Unspecified => StoreError::Unavailable(message).into(),
        ErrorKind::Internal => StoreError::Internal(message).into(),
        ErrorKind::Conflict => StoreError::Conflict(message).into(),
        ErrorKind::NotOwner => HistoryError::NotOwner(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chronicle_engine::TimerKind;
    use chronicle_engine::api::{
        common::v1::{Header, Memo, Payload, Payloads, Priority, RetryPolicy, SearchAttributes, WorkflowExecution},
        failure::v1::Failure,
        sdk::v1::UserMetadata,
        update::v1::Request as UpdateRequest,
        workflow::v1::ResetPoints,
    };
    use chronicle_store::Missing;
    use prost::Message;
    use prost_types::Duration;

    fn payload(data: &str) -> Payload {
        Payload {
            metadata: [("encoding".to_string(), b"json/plain".to_vec())].into(),
            data: data.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    fn payloads(data: &str) -> Option<Payloads> {
        Some(Payloads { payloads: vec![payload(data)] })
    }

    fn execution(n: u32) -> WorkflowExecution {
        WorkflowExecution { workflow_id: format!("wf-{n}"), run_id: format!("run-{n}") }
    }

    fn failure() -> Option<Box<Failure>> {
        let cause = Failure { message: "cause".into(), ..Default::default() };
        Some(Box::new(Failure {
            message: "boom".into(),
            source: "test".into(),
            stack_trace: "at here".into(),
            cause: Some(Box::new(cause)),
            ..Default::default()
        }))
    }

    fn signal() -> SignalArgs {
        SignalArgs {
            signal_name: "poke".into(),
            input: payloads("1"),
            identity: "sender".into(),
            header: Some(Header { fields: [("h".to_string(), payload("v"))].into() }),
            request_id: "req-1".into(),
            external_workflow_execution: Some(execution(9)),
        }
    }

    /// Through the wire form and its bytes, as a peer receives it.
    fn input_round_trip(value: &Input) -> Input {
        let wire = input_to_wire(value).expect("sent between nodes");
        let decoded = RemoteInput::decode(wire.encode_to_vec().as_slice()).expect("decodes");
        assert_eq!(decoded, wire);
        input_from_wire(decoded).expect("a known input")
    }

    #[test]
    fn every_input_sent_between_nodes_round_trips() {
        use chronicle_engine::api::enums::v1::StartChildWorkflowExecutionFailedCause as Cause;
        let closes = [
            ChildClose::Completed { execution: execution(1), result: payloads("done") },
            ChildClose::Completed { execution: WorkflowExecution::default(), result: None },
            ChildClose::Failed { execution: execution(2), failure: failure(), retry_state: 3 },
            ChildClose::Failed { execution: execution(2), failure: None, retry_state: 0 },
            ChildClose::Canceled { execution: execution(3), details: payloads("why") },
            ChildClose::Terminated { execution: execution(4) },
            ChildClose::TimedOut { execution: execution(5), retry_state: 2 },
        ];
        let mut inputs = vec![
            Input::ChildStarted { initiated_event_id: 5, run_id: "child-run".into() },
            Input::ChildStartFailed { initiated_event_id: 6, cause: Cause::WorkflowAlreadyExists },
            Input::ChildStartFailed { initiated_event_id: 6, cause: Cause::NamespaceNotFound },
            Input::Signal(signal()),
            Input::Signal(SignalArgs::default()),
            Input::RequestCancel { reason: "stop".into(), identity: "me".into(), external: None },
            Input::RequestCancel { reason: "stop".into(), identity: "me".into(), external: Some((execution(7), 12)) },
            Input::Terminate { reason: "bye".into(), details: payloads("d"), identity: "op".into() },
            Input::Terminate { reason: String::new(), details: None, identity: String::new() },
            Input::StickyWorkerUnavailable { scheduled_event_id: 8, attempt: 2 },
        ];
        inputs.extend(closes.into_iter().enumerate().map(|(i, closed)| Input::ChildClosed {
            initiated_event_id: 10 + i as i64,
            run_id: format!("first-{i}"),
            closed,
        }));
        for value in &inputs {
            assert_eq!(&input_round_trip(value), value);
        }
    }

    #[test]
    fn inputs_applied_only_on_the_runs_node_have_no_wire_form() {
        let local = [
            Input::ResetSticky,
            Input::ParentNotified,
            Input::ChildClosePolicyApplied { initiated_event_id: 3 },
            Input::ExternalRequestDone { initiated_event_id: 3, delivered: true },
            Input::TimerFired(TimerKind::WorkflowTaskTimeout { scheduled_event_id: 2, attempt: 1 }),
            Input::UpdateAdmit(Box::default()),
            Input::ActivityTaskHeartbeat { scheduled_event_id: 5, attempt: 1, details: None },
        ];
        for value in &local {
            assert_eq!(input_to_wire(value), None, "{value:?}");
        }
    }

    #[test]
    fn malformed_inputs_are_refused() {
        assert!(input_from_wire(RemoteInput::default()).is_err());
        let no_outcome = RemoteInput {
            kind: Some(input::Kind::ChildClosed(input::ChildClosed {
                initiated_event_id: 1,
                run_id: "r".into(),
                closed: None,
            })),
        };
        assert!(input_from_wire(no_outcome).is_err());
        let no_execution = RemoteInput {
            kind: Some(input::Kind::ChildClosed(input::ChildClosed {
                initiated_event_id: 1,
                run_id: "r".into(),
                closed: Some(RemoteChildClose {
                    kind: Some(close::Kind::Terminated(close::Terminated { execution: None })),
                }),
            })),
        };
        assert!(input_from_wire(no_execution).is_err());
        let unknown_cause = RemoteInput {
            kind: Some(input::Kind::ChildStartFailed(input::ChildStartFailed { initiated_event_id: 1, cause: 999 })),
        };
        assert!(input_from_wire(unknown_cause).is_err());
    }

    fn full_start_args() -> StartArgs {
        let secs = |seconds| Some(Duration { seconds, nanos: 250_000_000 });
        StartArgs {
            namespace: "ns".into(),
            namespace_id: "ns-id".into(),
            workflow_id: "wf".into(),
            run_id: "run".into(),
            workflow_type: "Type".into(),
            task_queue: "tq".into(),
            input: payloads("in"),
            execution_timeout: secs(300),
            run_timeout: secs(60),
            task_timeout: secs(10),
            identity: "client".into(),
            request_id: "req".into(),
            retry_policy: Some(RetryPolicy {
                initial_interval: secs(1),
                backoff_coefficient: 2.0,
                maximum_interval: secs(100),
                maximum_attempts: 5,
                non_retryable_error_types: vec!["Fatal".into()],
            }),
            memo: Some(Memo { fields: [("m".to_string(), payload("memo"))].into() }),
            search_attributes: Some(SearchAttributes {
                indexed_fields: [("CustomKeywordField".to_string(), payload("\"k\""))].into(),
            }),
            header: Some(Header { fields: [("h".to_string(), payload("hv"))].into() }),
            priority: Some(Priority { priority_key: 3, ..Default::default() }),
            cron_schedule: "*/5 * * * *".into(),
            signal: Some(signal()),
            parent: Some(ParentInfo {
                namespace: "parent-ns".into(),
                namespace_id: "parent-ns-id".into(),
                execution: execution(1),
                initiated_event_id: 7,
            }),
            root_execution: Some(execution(0)),
            // A schedule's next run inherits the last one's result or failure.
            continued: Some(Continued {
                previous_run_id: "prev".into(),
                first_execution_run_id: "first".into(),
                initiator: ContinueAsNewInitiator::CronSchedule,
                attempt: 2,
                failure: Some(Failure { message: "last".into(), ..Default::default() }),
                last_completion_result: payloads("last"),
                backoff: secs(3),
                execution_expiration_time: Some(prost_types::Timestamp { seconds: 1_700_000_000, nanos: 5 }),
                reset_points: Some(ResetPoints::default()),
            }),
            update: None,
            user_metadata: Some(UserMetadata { summary: Some(payload("sum")), details: Some(payload("det")) }),
            eager: true,
            activity: None,
            versioning_override: Some(chronicle_engine::api::workflow::v1::VersioningOverride {
                r#override: Some(chronicle_engine::api::workflow::v1::versioning_override::Override::AutoUpgrade(true)),
                ..Default::default()
            }),
        }
    }

    fn start_round_trip(args: &StartArgs) -> StartArgs {
        let wire = start_args_to_wire(args).expect("sent between nodes");
        let decoded = RemoteStartArgs::decode(wire.encode_to_vec().as_slice()).expect("decodes");
        assert_eq!(decoded, wire);
        start_args_from_wire(decoded).expect("well formed")
    }

    #[test]
    fn start_args_round_trip() {
        let full = full_start_args();
        assert_eq!(start_round_trip(&full), full);
        let plain = StartArgs::default();
        assert_eq!(start_round_trip(&plain), plain);
        // A parent with an empty execution is still a parent.
        let empty_parent = StartArgs { parent: Some(ParentInfo::default()), ..Default::default() };
        assert_eq!(start_round_trip(&empty_parent), empty_parent);
    }

    #[test]
    fn update_with_start_stays_on_its_node() {
        let mut update = full_start_args();
        update.update = Some(Box::new(UpdateRequest::default()));
        assert_eq!(start_args_to_wire(&update), None);

        let mut orphan = start_args_to_wire(&full_start_args()).expect("sent");
        if let Some(parent) = orphan.parent.as_mut() {
            parent.execution = None;
        }
        assert!(start_args_from_wire(orphan).is_err());
    }

    fn error_round_trip(e: &HistoryError) -> (ErrorKind, HistoryError) {
        let wire = error_to_wire(e);
        let decoded = RemoteError::decode(wire.encode_to_vec().as_slice()).expect("decodes");
        (decoded.kind(), error_from_wire(decoded))
    }

    #[test]
    fn every_error_kind_round_trips() {
        let errors: Vec<HistoryError> = vec![
            EngineError::WorkflowClosed.into(),
            EngineError::WorkflowTaskNotFound.into(),
            EngineError::ActivityTaskNotFound.into(),
            EngineError::StaleTimer.into(),
            EngineError::InvalidArgument("bad command".into()).into(),
            EngineError::FailedPrecondition("not now".into()).into(),
            EngineError::LimitExceeded("too many updates".into()).into(),
            HistoryError::NotFound("workflow not found for ID: wf".into()),
            HistoryError::AlreadyStarted {
                message: "already started".into(),
                start_request_id: "req".into(),
                run_id: "run".into(),
            },
            HistoryError::InvalidArgument("bad request".into()),
            StoreError::Unavailable("connection reset".into()).into(),
            StoreError::Internal("disk full".into()).into(),
            HistoryError::NotOwner("shard 3 is moving between cluster nodes; retry".into()),
            StoreError::Conflict("run r moved".into()).into(),
        ];
        let mut kinds = Vec::new();
        for e in &errors {
            let (kind, back) = error_round_trip(e);
            assert_eq!(format!("{back:?}"), format!("{e:?}"));
            kinds.push(kind);
        }
        // Every kind but Unspecified is some error's.
        let all: Vec<ErrorKind> = (1..).map_while(|k| ErrorKind::try_from(k).ok()).collect();
        kinds.sort();
        assert_eq!(kinds, all);
    }

    #[test]
    fn store_errors_travel_as_what_a_caller_acts_on() {
        let lost: HistoryError = StoreError::ShardOwnershipLost { shard_id: 4 }.into();
        let (kind, back) = error_round_trip(&lost);
        assert_eq!(kind, ErrorKind::NotOwner);
        assert!(matches!(back, HistoryError::NotOwner(m) if m == "shard 4 is owned by another node now"));

        let missing = Missing::Execution { workflow_id: "wf".into(), run_id: "r".into() };
        let (kind, back) = error_round_trip(&StoreError::NotFound(missing.clone()).into());
        assert_eq!(kind, ErrorKind::NotFound);
        assert!(matches!(back, HistoryError::NotFound(m) if m == crate::errors::missing_message(&missing)));

        let other: HistoryError = StoreError::NamespaceNotFound { name: "ns".into() }.into();
        let (kind, back) = error_round_trip(&other);
        assert_eq!(kind, ErrorKind::Internal);
        assert!(matches!(back, HistoryError::Store(StoreError::Internal(m)) if m == "namespace ns not found"));
    }

    #[test]
    fn unknown_error_kinds_are_retryable() {
        for kind in [ErrorKind::Unspecified as i32, 999] {
            let e = RemoteError { kind, message: "what".into(), ..Default::default() };
            assert!(matches!(error_from_wire(e), HistoryError::Store(StoreError::Unavailable(m)) if m == "what"));
        }
    }
}
