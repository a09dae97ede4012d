//! Properties a run changes about itself: search attributes
//! (UpsertWorkflowSearchAttributes) and memo (ModifyWorkflowProperties).
//! The state holds the merged view visibility shows; the event holds only
//! what the command changed.

use crate::api::{
    command::v1::{ModifyWorkflowPropertiesCommandAttributes, UpsertWorkflowSearchAttributesCommandAttributes},
    enums::v1::WorkflowTaskFailedCause as Cause,
    history::v1::{UpsertWorkflowSearchAttributesEventAttributes, WorkflowPropertiesModifiedEventAttributes},
};
use crate::events::Ctx;
use crate::payload::too_big;
use crate::rejection::{Rejection, reject};

pub(crate) fn validate_upsert_search_attributes(
    a: &UpsertWorkflowSearchAttributesCommandAttributes,
) -> Result<(), Rejection> {
    if a.search_attributes.as_ref().is_none_or(|s| s.indexed_fields.is_empty()) {
        return reject(
            Cause::BadSearchAttributes,
            "SearchAttributes are not set on UpsertWorkflowSearchAttributesCommand.",
        );
    }
    if too_big(&a.search_attributes) {
        return reject(Cause::BadSearchAttributes, "Search attributes exceed the 2 MiB size limit.");
    }
    Ok(())
}

pub(crate) fn validate_modify(a: &ModifyWorkflowPropertiesCommandAttributes) -> Result<(), Rejection> {
    if a.upserted_memo.as_ref().is_none_or(|m| m.fields.is_empty()) {
        return reject(
            Cause::BadModifyWorkflowPropertiesAttributes,
            "UpsertedMemo is not set on ModifyWorkflowPropertiesCommand.",
        );
    }
    if too_big(&a.upserted_memo) {
        return reject(Cause::BadModifyWorkflowPropertiesAttributes, "Memo exceeds the 2 MiB size limit.");
    }
    Ok(())
}

pub(crate) fn upsert_search_attributes(
    ctx: &mut Ctx,
    a: UpsertWorkflowSearchAttributesCommandAttributes,
    completed_id: i64,
) {
    let upserted = a.search_attributes.unwrap_or_default();
    let current = ctx.state.search_attributes.take();
    let mut merged =
        current.or_else(|| ctx.state.started.as_ref().and_then(|s| s.search_attributes.clone())).unwrap_or_default();
    merge(&mut merged.indexed_fields, upserted.indexed_fields.clone());
    ctx.state.search_attributes = Some(merged);
    ctx.add(UpsertWorkflowSearchAttributesEventAttributes {
        workflow_task_completed_event_id: completed_id,
        search_attributes: Some(upserted),
    });
}

pub(crate) fn modify(ctx: &mut Ctx, a: ModifyWorkflowPropertiesCommandAttributes, completed_id: i64) {
    let upserted = a.upserted_memo.unwrap_or_default();
    let current = ctx.state.memo.take();
    let mut merged = current.or_else(|| ctx.state.started.as_ref().and_then(|s| s.memo.clone())).unwrap_or_default();
    merge(&mut merged.fields, upserted.fields.clone());
    ctx.state.memo = Some(merged);
    ctx.add(WorkflowPropertiesModifiedEventAttributes {
        workflow_task_completed_event_id: completed_id,
        upserted_memo: Some(upserted),
    });
}

/// Upserted values over current ones; an empty (or JSON null) value removes
/// its key, as on Temporal.
pub(crate) fn merge(
    current: &mut std::collections::HashMap<String, crate::api::common::v1::Payload>,
    upserted: std::collections::HashMap<String, crate::api::common::v1::Payload>,
) {
    for (k, v) in upserted {
        if v.data.is_empty() || v.data == b"null" {
            current.remove(&k);
        } else {
            current.insert(k, v);
        }
    }
}
