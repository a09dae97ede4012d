//! Protobuf JSON (the canonical mapping `protojson` writes: camelCase
//! names, enums by name, 64-bit integers as strings, bytes as base64) for
//! Temporal's messages, through their descriptors. This is the form
//! `temporal workflow show -o json` prints and the SDKs' replayers read.

use prost::Message as _;
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};
use std::sync::OnceLock;

static DESCRIPTORS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/temporal_descriptors.bin"));

/// Every Temporal message and service descriptor (for reflection: JSON,
/// and tests that build requests of any type).
pub fn pool() -> &'static DescriptorPool {
    static POOL: OnceLock<DescriptorPool> = OnceLock::new();
    // The bytes are the descriptor set the protos crate was compiled from.
    POOL.get_or_init(|| DescriptorPool::decode(DESCRIPTORS).unwrap_or_default())
}

/// `message` (whose protobuf full name is `full_name`, e.g.
/// `temporal.api.history.v1.History`) as protobuf JSON.
pub fn to_json<M: prost::Message>(full_name: &str, message: &M) -> Result<serde_json::Value, String> {
    let descriptor =
        pool().get_message_by_name(full_name).ok_or_else(|| format!("no descriptor for message {full_name}"))?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice()).map_err(|e| e.to_string())?;
    let options = SerializeOptions::new().skip_default_fields(true);
    dynamic.serialize_with_options(serde_json::value::Serializer, &options).map_err(|e| e.to_string())
}

/// The message of type `full_name` read from protobuf JSON.
pub fn from_json<M: prost::Message + Default>(full_name: &str, json: &str) -> Result<M, String> {
    let descriptor =
        pool().get_message_by_name(full_name).ok_or_else(|| format!("no descriptor for message {full_name}"))?;
    let mut de = serde_json::Deserializer::from_str(json);
    let dynamic = DynamicMessage::deserialize(descriptor, &mut de).map_err(|e| e.to_string())?;
    M::decode(dynamic.encode_to_vec().as_slice()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use temporalio_protos::temporal::api::{
        common::v1::{Payload, Payloads},
        enums::v1::EventType,
        history::v1::{History, HistoryEvent, WorkflowExecutionStartedEventAttributes, history_event::Attributes},
    };

    #[test]
    fn history_round_trips_as_protojson() {
        let history = History {
            events: vec![HistoryEvent {
                event_id: 1,
                event_time: Some(prost_types::Timestamp { seconds: 1_700_000_000, nanos: 5_000_000 }),
                event_type: EventType::WorkflowExecutionStarted as i32,
                task_id: 1048576,
                attributes: Some(Attributes::WorkflowExecutionStartedEventAttributes(
                    WorkflowExecutionStartedEventAttributes {
                        input: Some(Payloads {
                            payloads: vec![Payload {
                                metadata: Default::default(),
                                data: b"\"hi\"".to_vec(),
                                ..Default::default()
                            }],
                        }),
                        attempt: 1,
                        ..Default::default()
                    },
                )),
                ..Default::default()
            }],
        };
        let json = to_json("temporal.api.history.v1.History", &history).unwrap();
        let event = &json["events"][0];
        assert_eq!(event["eventId"], "1");
        assert_eq!(event["eventType"], "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED");
        assert_eq!(event["eventTime"], "2023-11-14T22:13:20.005Z");
        assert_eq!(event["workflowExecutionStartedEventAttributes"]["input"]["payloads"][0]["data"], "ImhpIg==");
        let back: History = from_json("temporal.api.history.v1.History", &json.to_string()).unwrap();
        assert_eq!(back, history);
    }
}
