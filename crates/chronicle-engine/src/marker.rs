//! RecordMarker: a marker event (side effects, local activities, versions)
//! that the engine only records; the SDK reads it back on replay.

use crate::api::{
    command::v1::RecordMarkerCommandAttributes, enums::v1::WorkflowTaskFailedCause as Cause,
    history::v1::MarkerRecordedEventAttributes,
};
use crate::events::Ctx;
use crate::limits::PAYLOAD_BYTES_MAX;
use crate::rejection::{Rejection, reject};

pub(crate) fn validate(a: &RecordMarkerCommandAttributes) -> Result<(), Rejection> {
    if a.marker_name.is_empty() {
        return reject(Cause::BadRecordMarkerAttributes, "MarkerName is not set on RecordMarkerCommand.");
    }
    // The details together, not each payload, are held to the blob limit.
    if a.details.values().map(prost::Message::encoded_len).sum::<usize>() > PAYLOAD_BYTES_MAX {
        return reject(Cause::BadRecordMarkerAttributes, "RecordMarkerCommand details exceed the 2 MiB size limit.");
    }
    Ok(())
}

pub(crate) fn record(ctx: &mut Ctx, a: RecordMarkerCommandAttributes, completed_id: i64) {
    ctx.add(MarkerRecordedEventAttributes {
        marker_name: a.marker_name,
        details: a.details,
        workflow_task_completed_event_id: completed_id,
        header: a.header,
        failure: a.failure,
    });
}
