//! `Shared<T>`: a message of the mutable state held behind an `Arc`, so a
//! copy of the state copies a pointer per entry and a change copies only
//! the entry it touches (copy on write). A run with a thousand pending
//! activities is copied on every transition; without this each copy
//! copied every activity's input, header and strings.
//!
//! Encodes exactly as `T` does: the stored bytes do not change.

use prost::bytes::{Buf, BufMut};
use prost::encoding::{DecodeContext, WireType};
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct Shared<T>(Arc<T>);

impl<T> Shared<T> {
    pub fn new(value: T) -> Self {
        Shared(Arc::new(value))
    }
}

impl<T: Clone> Shared<T> {
    /// The value, copied only if another state still shares it.
    pub fn into_inner(self) -> T {
        Arc::unwrap_or_clone(self.0)
    }
}

impl<T> From<T> for Shared<T> {
    fn from(value: T) -> Self {
        Shared::new(value)
    }
}

impl<T> std::ops::Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Clone> std::ops::DerefMut for Shared<T> {
    fn deref_mut(&mut self) -> &mut T {
        Arc::make_mut(&mut self.0)
    }
}

impl<T: PartialEq> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || *self.0 == *other.0
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl<T: prost::Message + Clone + Default> prost::Message for Shared<T> {
    fn encode_raw(&self, buf: &mut impl BufMut) {
        self.0.encode_raw(buf);
    }

    fn merge_field(
        &mut self,
        tag: u32,
        wire_type: WireType,
        buf: &mut impl Buf,
        ctx: DecodeContext,
    ) -> Result<(), prost::DecodeError> {
        Arc::make_mut(&mut self.0).merge_field(tag, wire_type, buf, ctx)
    }

    fn encoded_len(&self) -> usize {
        self.0.encoded_len()
    }

    fn clear(&mut self) {
        *self = Shared::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ActivityInfo;
    use prost::Message;

    #[test]
    fn encodes_as_the_value_itself_and_copies_on_write() {
        let info = ActivityInfo { scheduled_event_id: 5, activity_id: "a".into(), ..Default::default() };
        let shared = Shared::new(info.clone());
        assert_eq!(shared.encode_to_vec(), info.encode_to_vec());
        assert_eq!(Shared::<ActivityInfo>::decode(&*info.encode_to_vec()).unwrap(), shared);
        let mut copy = shared.clone();
        copy.attempt = 2;
        assert_eq!(shared.attempt, 0, "the original is untouched");
        assert_eq!(copy.attempt, 2);
    }
}
