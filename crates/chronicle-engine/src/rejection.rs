//! Why a workflow task's commands are refused. A leaf so that every
//! feature module can validate its own command without importing the
//! command dispatcher.

use crate::api::enums::v1::WorkflowTaskFailedCause as Cause;

/// A bad command or message: the workflow task fails with this cause and
/// message, and nothing else is written.
pub(crate) struct Rejection {
    pub cause: Cause,
    pub message: String,
}

pub(crate) fn reject(cause: Cause, message: impl Into<String>) -> Result<(), Rejection> {
    Err(Rejection { cause, message: message.into() })
}
