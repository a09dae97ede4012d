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
    let present = state.search_attributes.as_ref().is_some_and(|s| s.indexed_fields.contains_key(PAUSE_INFO_ATTRIBUTE));
    if types.is_empty() && !present {
        return;
    }
    types.sort();
    types.dedup();
    let current = state.search_attributes.take();
    let mut attributes =
        current.or_else(|| state.started.as_ref().and_then(|s| s.search_attributes.clone())).unwrap_or_default();
    if types.is_empty() {
        attributes.indexed_fields.remove(PAUSE_INFO_ATTRIBUTE);
    } else {
        let payload = crate::api::common::v1::Payload {
            metadata: [("encoding".to_string(), b"json/plain".to_vec()), ("type".to_string(), b"KeywordList".to_vec())]
                .into_iter()
                .collect(),
            data: serde_json::to_vec(&types).unwrap_or_default(),
            ..Default::default()
        };
        attributes.indexed_fields.insert(PAUSE_INFO_ATTRIBUTE.to_string(), payload);
    }
    state.search_attributes = Some(attributes);
}
