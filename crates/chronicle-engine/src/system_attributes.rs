//! Search attributes the server keeps itself (`TemporalPauseInfo`, the
//! worker versioning ones), written into the run's search attributes as
//! Temporal's visibility indexes them (a leaf, so that every transition
//! can keep them in step).

use crate::api::common::v1::Payload;
use crate::state::MutableState;

fn payload(value_type: &str, json: Vec<u8>) -> Payload {
    Payload {
        metadata: [
            ("encoding".to_string(), b"json/plain".to_vec()),
            ("type".to_string(), value_type.as_bytes().to_vec()),
        ]
        .into_iter()
        .collect(),
        data: json,
        ..Default::default()
    }
}

/// A Keyword value.
pub(crate) fn keyword(value: &str) -> Payload {
    payload("Keyword", serde_json::to_vec(value).unwrap_or_default())
}

/// A KeywordList value.
pub(crate) fn keyword_list(values: &[String]) -> Payload {
    payload("KeywordList", serde_json::to_vec(values).unwrap_or_default())
}

/// Sets (or, with None, removes) one attribute; nothing is written when
/// it is absent and stays so, or already holds the value.
pub(crate) fn set(state: &mut MutableState, name: &str, value: Option<Payload>) {
    let present = state.search_attributes.as_ref().and_then(|s| s.indexed_fields.get(name));
    if present == value.as_ref() {
        return;
    }
    let current = state.search_attributes.take();
    let mut attributes =
        current.or_else(|| state.started.as_ref().and_then(|s| s.search_attributes.clone())).unwrap_or_default();
    match value {
        Some(v) => attributes.indexed_fields.insert(name.to_string(), v),
        None => attributes.indexed_fields.remove(name),
    };
    state.search_attributes = Some(attributes);
}
