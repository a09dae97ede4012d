//! Failures nest through `cause`. Protobuf decoders stop at 100 levels of
//! nesting (prost's default, and the SDKs'), and Chronicle stores failures
//! a few levels down inside its own messages (mutable state, events), so a
//! chain from outside is cut before it is recorded: one deep enough to
//! pass the request decoder must never make a stored run unreadable.

use crate::api::{command::v1::command::Attributes, failure::v1::Failure};
use crate::transition::Input;

pub use crate::limits::FAILURE_CAUSES_MAX;

/// Drops the causes beyond `FAILURE_CAUSES_MAX` levels.
pub fn bound_failure(failure: &mut Failure) {
    let mut depth = 1;
    let mut current = failure;
    loop {
        if depth >= FAILURE_CAUSES_MAX {
            current.cause = None;
            return;
        }
        let Some(next) = current.cause.as_deref_mut() else { return };
        current = next;
        depth += 1;
    }
}

/// Bounds every failure an input carries in from a worker or client.
/// (Protocol messages are bounded where their bodies are decoded.)
pub(crate) fn bound_input(input: &mut Input) {
    match input {
        Input::WorkflowTaskFailed { failure: Some(f), .. } | Input::ActivityTaskFailed { failure: Some(f), .. } => {
            bound_failure(f);
        }
        Input::WorkflowTaskCompleted(done) => {
            for command in &mut done.commands {
                match &mut command.attributes {
                    Some(Attributes::FailWorkflowExecutionCommandAttributes(a)) => {
                        if let Some(f) = a.failure.as_mut() {
                            bound_failure(f);
                        }
                    }
                    Some(Attributes::ContinueAsNewWorkflowExecutionCommandAttributes(a)) => {
                        if let Some(f) = a.failure.as_mut() {
                            bound_failure(f);
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(depth: usize) -> Failure {
        let mut f = Failure { message: format!("level {depth}"), ..Default::default() };
        for level in (1..depth).rev() {
            f = Failure { message: format!("level {level}"), cause: Some(Box::new(f)), ..Default::default() };
        }
        f
    }

    fn depth(f: &Failure) -> usize {
        1 + f.cause.as_deref().map_or(0, depth)
    }

    #[test]
    fn chains_are_cut_at_the_limit() {
        for n in [1, 2, FAILURE_CAUSES_MAX - 1, FAILURE_CAUSES_MAX, FAILURE_CAUSES_MAX + 1, 99] {
            let mut f = chain(n);
            bound_failure(&mut f);
            assert_eq!(depth(&f), n.min(FAILURE_CAUSES_MAX), "chain of {n}");
            assert_eq!(f.message, "level 1");
        }
    }
}
