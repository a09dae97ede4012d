//! Temporal's payload size limit, shared by every command that carries
//! payloads and by the server's own request checks.

use prost::Message;

/// Temporal's per-payload blob limit (BlobSizeLimitError).
pub const MAX_PAYLOAD_BYTES: usize = 2 * 1024 * 1024;

/// Whether payloads exceed Temporal's blob limit.
pub fn too_big<M: Message>(payloads: &Option<M>) -> bool {
    payloads.as_ref().is_some_and(|p| p.encoded_len() > MAX_PAYLOAD_BYTES)
}
