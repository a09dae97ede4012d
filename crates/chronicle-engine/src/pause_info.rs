//! `TemporalPauseInfo`: the search attribute of a run's paused activities
//! (a leaf, so that every transition can keep it in step).

use crate::state::MutableState;

/// The search attribute Temporal keeps of a run's paused activities.
pub const PAUSE_INFO_ATTRIBUTE: &str = "TemporalPauseInfo";

/// Keeps `TemporalPauseInfo` (a KeywordList: `property:activityType=T` of
/// each paused activity's type) in step with the paused activities, so
/// visibility queries find runs with paused activities, as on Temporal.
pub(crate) fn sync_pause_info(state: &mut MutableState) {
    let mut types: Vec<String> = state
        .activities
        .values()
        .filter(|a| a.paused)
        .map(|a| format!("property:activityType={}", a.activity_type.as_ref().map(|t| t.name.as_str()).unwrap_or("")))
        .collect();
    types.sort();
    types.dedup();
    let value = (!types.is_empty()).then(|| crate::system_attributes::keyword_list(&types));
    crate::system_attributes::set(state, PAUSE_INFO_ATTRIBUTE, value);
}
