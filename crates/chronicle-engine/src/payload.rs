//! Temporal's payload size limit, shared by every command that carries
//! payloads and by the server's own request checks.

use prost::Message;

use crate::limits::PAYLOAD_BYTES_MAX;

/// Whether payloads exceed Temporal's blob limit.
pub fn too_big<M: Message>(payloads: &Option<M>) -> bool {
    payloads.as_ref().is_some_and(|p| p.encoded_len() > PAYLOAD_BYTES_MAX)
}
