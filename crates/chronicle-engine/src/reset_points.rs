//! Temporal's auto-reset points: where a run could be reset to (the first
//! workflow task each worker build completed), carried to the runs that
//! continue it. A leaf: starts, completions and rebuilds all keep them.

/// How long a reset point of a run that was continued stays usable: the
/// namespace retention, which is a day for namespaces Chronicle creates.
const RESET_POINT_TTL_SECS: i64 = 24 * 3600;

/// A run continues `run_id`: its points get their expiry, as on Temporal
/// (a point lives as long as its run's history).
pub(crate) fn expire(points: &mut crate::api::workflow::v1::ResetPoints, run_id: &str, now: &prost_types::Timestamp) {
    for p in points.points.iter_mut().filter(|p| p.run_id == run_id && p.expire_time.is_none()) {
        p.expire_time = Some(crate::time::add(now, &crate::time::dur_secs(RESET_POINT_TTL_SECS)));
    }
}

/// The points a continuing run keeps: the previous run's, less those
/// expired by its start.
pub(crate) fn rolled_over(
    points: Option<crate::api::workflow::v1::ResetPoints>,
    now: &prost_types::Timestamp,
) -> Option<crate::api::workflow::v1::ResetPoints> {
    let mut points = points?;
    points.points.retain(|p| p.expire_time.is_none_or(|e| crate::time::ts_nanos(&e) >= crate::time::ts_nanos(now)));
    Some(points)
}

/// Temporal's auto-reset points: the first workflow task completed by each
/// worker build (by build id, else binary checksum).
pub(crate) fn add(
    state: &mut crate::state::MutableState,
    build_id: &str,
    binary_checksum: &str,
    completed_id: i64,
    now: &prost_types::Timestamp,
) {
    use crate::api::workflow::v1::{ResetPointInfo, ResetPoints};
    let (build_id, binary_checksum) = if build_id.is_empty() { ("", binary_checksum) } else { (build_id, "") };
    if build_id.is_empty() && binary_checksum.is_empty() {
        return;
    }
    let points = state.auto_reset_points.get_or_insert_with(ResetPoints::default);
    let known = points
        .points
        .iter()
        .any(|p| if build_id.is_empty() { p.binary_checksum == binary_checksum } else { p.build_id == build_id });
    if known {
        return;
    }
    if points.points.len() >= crate::limits::RESET_POINTS_MAX {
        points.points.remove(0);
    }
    points.points.push(ResetPointInfo {
        build_id: build_id.to_string(),
        binary_checksum: binary_checksum.to_string(),
        run_id: state.run_id.clone(),
        first_workflow_task_completed_id: completed_id,
        create_time: Some(*now),
        // Set when a run continues this one (`expire`).
        expire_time: None,
        resettable: true,
    });
}
