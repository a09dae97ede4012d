//! Updates: admission, delivery on a speculative workflow task, acceptance
//! and completion events, rejection without events, limits.

use crate::support::*;
use chronicle_engine::{
    EngineError, Input, Outcome,
    api::{
        command::v1::{Command, ProtocolMessageCommandAttributes, command::Attributes as C},
        enums::v1::{CommandType, EventType as E, UpdateWorkflowExecutionLifecycleStage as Stage},
        protocol::v1::Message,
        update::v1::{
            Acceptance, Input as UpdateInput, Meta, Outcome as UpdateOutcome, Rejection, Request, Response, outcome,
        },
    },
};

fn request(id: &str) -> Request {
    Request {
        meta: Some(Meta { update_id: id.into(), identity: "client".into() }),
        input: Some(UpdateInput { name: "add".into(), args: Some(payloads("1")), header: None }),
        ..Default::default()
    }
}

fn admit(id: &str) -> Input {
    Input::UpdateAdmit(Box::new(request(id)))
}

fn message<M: prost::Message>(id: &str, update_id: &str, kind: &str, body: M) -> Message {
    Message {
        id: id.into(),
        protocol_instance_id: update_id.into(),
        body: Some(prost_types::Any {
            type_url: format!("type.googleapis.com/temporal.api.update.v1.{kind}"),
            value: body.encode_to_vec(),
        }),
        ..Default::default()
    }
}

fn protocol_command(message_id: &str) -> Command {
    command(
        CommandType::ProtocolMessage,
        C::ProtocolMessageCommandAttributes(ProtocolMessageCommandAttributes { message_id: message_id.into() }),
    )
}

fn accept_and_complete(update_id: &str, sequencing: i64) -> (Vec<Message>, Vec<Command>) {
    let accept = message(
        &format!("{update_id}/accept"),
        update_id,
        "Acceptance",
        Acceptance {
            accepted_request_message_id: format!("{update_id}/request"),
            accepted_request_sequencing_event_id: sequencing,
            accepted_request: Some(request(update_id)),
        },
    );
    let complete = message(
        &format!("{update_id}/complete"),
        update_id,
        "Response",
        Response {
            meta: Some(Meta { update_id: update_id.into(), identity: "worker".into() }),
            outcome: Some(UpdateOutcome { value: Some(outcome::Value::Success(payloads("done"))) }),
        },
    );
    let commands = vec![protocol_command(&accept.id), protocol_command(&complete.id)];
    (vec![accept, complete], commands)
}

/// A run whose first workflow task completed, so updates get their own task.
fn idle_run() -> Run {
    let mut run = Run::new();
    run.first_wft(vec![]);
    run
}

#[test]
fn an_accepted_and_completed_update_writes_its_events() {
    let mut run = idle_run();
    let t = run.apply(admit("u1")).unwrap();
    assert!(t.events.is_empty(), "admission writes nothing");
    assert!(run.wft().speculative);
    let t = run.poll_wft();
    let Outcome::WorkflowTaskStarted { started_event_id, transient_events } = t.outcome else { panic!() };
    assert_eq!(started_event_id, 6);
    assert_eq!(types(&transient_events), vec![E::WorkflowTaskScheduled, E::WorkflowTaskStarted]);
    let (messages, commands) = accept_and_complete("u1", 5);
    let mut done = run.completion(commands);
    done.messages = messages;
    let t = run.apply(Input::WorkflowTaskCompleted(Box::new(done))).unwrap();
    assert_eq!(
        types(&t.events),
        vec![
            E::WorkflowTaskScheduled,
            E::WorkflowTaskStarted,
            E::WorkflowTaskCompleted,
            E::WorkflowExecutionUpdateAccepted,
            E::WorkflowExecutionUpdateCompleted
        ]
    );
    let accepted = attrs!(t.events[3], WorkflowExecutionUpdateAcceptedEventAttributes);
    assert_eq!(accepted.protocol_instance_id, "u1");
    assert_eq!(accepted.accepted_request_sequencing_event_id, 5);
    let completed = attrs!(t.events[4], WorkflowExecutionUpdateCompletedEventAttributes);
    assert_eq!(completed.accepted_event_id, t.events[3].event_id);
    let u = &run.state.updates["u1"];
    assert_eq!(u.stage, Stage::Completed as i32);
    assert!(matches!(u.outcome.as_ref().and_then(|o| o.value.as_ref()), Some(outcome::Value::Success(_))));
}

#[test]
fn a_rejected_update_leaves_no_trace_in_the_history() {
    let mut run = idle_run();
    let before = run.state.next_event_id;
    run.apply(admit("u1")).unwrap();
    run.poll_wft();
    let mut done = run.completion(vec![]);
    done.messages = vec![message(
        "u1/reject",
        "u1",
        "Rejection",
        Rejection {
            rejected_request_message_id: "u1/request".into(),
            failure: Some(app_failure("no", "Invalid", true)),
            ..Default::default()
        },
    )];
    let t = run.apply(Input::WorkflowTaskCompleted(Box::new(done))).unwrap();
    assert!(t.events.is_empty());
    assert_eq!(t.outcome, Outcome::WorkflowTaskDiscarded { reset_history_event_id: 3 });
    assert_eq!(run.state.next_event_id, before);
    assert!(run.state.workflow_task.is_none());
    let u = &run.state.updates["u1"];
    assert_eq!(u.stage, Stage::Completed as i32);
    assert!(matches!(u.outcome.as_ref().and_then(|o| o.value.as_ref()), Some(outcome::Value::Failure(_))));
}

#[test]
fn the_same_update_id_is_one_update_and_in_flight_updates_are_limited() {
    let mut run = idle_run();
    run.apply(admit("dup")).unwrap();
    let t = run.apply(admit("dup")).unwrap();
    assert_eq!(t.state.updates.len(), 1);
    for i in 1..10 {
        run.apply(admit(&format!("u{i}"))).unwrap();
    }
    assert!(matches!(run.apply_err(admit("u10")), EngineError::LimitExceeded(_)));
}

#[test]
fn closing_drops_an_update_the_worker_has_not_seen() {
    let mut run = Run::new();
    run.poll_wft();
    run.apply(admit("late")).unwrap(); // arrives while the task is in flight
    let t = run.complete_wft(vec![complete_workflow("done")]);
    assert_eq!(ty(t.events.last().unwrap()), E::WorkflowExecutionCompleted);
    assert!(!run.state.is_running());
    assert!(run.state.updates.is_empty(), "admitted updates are not durable past the close");
}

#[test]
fn closing_completes_accepted_updates_with_temporals_failure() {
    let mut run = idle_run();
    run.apply(admit("u1")).unwrap();
    run.poll_wft();
    // Accepted, never completed; the workflow completes in the same task.
    let accept = message(
        "u1/accept",
        "u1",
        "Acceptance",
        Acceptance {
            accepted_request_message_id: "u1/request".into(),
            accepted_request_sequencing_event_id: 5,
            accepted_request: Some(request("u1")),
        },
    );
    let mut done = run.completion(vec![protocol_command(&accept.id), complete_workflow("done")]);
    done.messages = vec![accept];
    let t = run.apply(Input::WorkflowTaskCompleted(Box::new(done))).unwrap();
    assert_eq!(
        types(&t.events)[2..],
        [E::WorkflowTaskCompleted, E::WorkflowExecutionUpdateAccepted, E::WorkflowExecutionCompleted],
        "no event for the update's end"
    );
    let u = &run.state.updates["u1"];
    assert_eq!(u.stage, Stage::Completed as i32);
    let Some(outcome::Value::Failure(f)) = u.outcome.as_ref().and_then(|o| o.value.as_ref()) else { panic!("{u:?}") };
    assert_eq!(f.message, "Workflow Update failed because the Workflow completed before the Update completed.");
    assert_eq!(f.source, "Server");
    let Some(chronicle_engine::api::failure::v1::failure::FailureInfo::ApplicationFailureInfo(info)) = &f.failure_info
    else {
        panic!("{f:?}")
    };
    assert_eq!(info.r#type, "AcceptedUpdateCompletedWorkflow");
    assert!(info.non_retryable);
}
