//! The newest events of a cached run: those after its last completed
//! workflow task. A sticky workflow task carries exactly these (the worker
//! holds the rest), so it is answered from memory instead of a store read.
//! Committed events only: the tail is extended after a commit, never
//! before.

use chronicle_engine::api::history::v1::HistoryEvent;
use prost::Message;
use std::collections::VecDeque;

/// At most this many bytes of events per run (a run whose workflow task
/// brought more reads them from the store).
const TAIL_BYTES_MAX: usize = 16 * 1024;

#[derive(Default)]
pub(super) struct EventTail {
    events: VecDeque<HistoryEvent>,
    bytes: usize,
}

impl EventTail {
    /// Adds a commit's events; keeps only those after `completed_started`
    /// (the started event of the run's last completed workflow task), and
    /// within the byte bound. Events that do not follow the tail (a commit
    /// this copy of the run did not see) start it again.
    pub(super) fn extend(&mut self, events: &[HistoryEvent], completed_started: i64) {
        let Some(first) = events.first() else { return };
        if self.events.back().is_some_and(|last| last.event_id + 1 != first.event_id) {
            self.clear();
        }
        for event in events {
            self.bytes += event.encoded_len();
            self.events.push_back(event.clone());
        }
        while let Some(front) = self.events.front()
            && (front.event_id <= completed_started || self.bytes > TAIL_BYTES_MAX)
        {
            self.bytes -= front.encoded_len();
            self.events.pop_front();
        }
    }

    pub(super) fn clear(&mut self) {
        self.events.clear();
        self.bytes = 0;
    }

    /// Events `from..=to`, if the tail holds every one of them.
    pub(super) fn range(&self, from: i64, to: i64) -> Option<Vec<HistoryEvent>> {
        let first = self.events.front()?.event_id;
        let last = self.events.back()?.event_id;
        if from < first || to > last || to < from {
            return None;
        }
        let skip = usize::try_from(from - first).ok()?;
        let take = usize::try_from(to - from + 1).ok()?;
        Some(self.events.iter().skip(skip).take(take).cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn events(ids: std::ops::RangeInclusive<i64>) -> Vec<HistoryEvent> {
        ids.map(|event_id| HistoryEvent { event_id, ..Default::default() }).collect()
    }

    fn ids(events: Option<Vec<HistoryEvent>>) -> Option<Vec<i64>> {
        events.map(|e| e.iter().map(|e| e.event_id).collect())
    }

    #[test]
    fn holds_what_follows_the_last_completed_task_and_nothing_it_has_not_seen() {
        let mut tail = EventTail::default();
        assert_eq!(ids(tail.range(1, 3)), None, "empty");
        tail.extend(&events(1..=3), 0);
        assert_eq!(ids(tail.range(1, 3)), Some(vec![1, 2, 3]));
        assert_eq!(ids(tail.range(2, 4)), None, "4 is not committed yet");
        tail.extend(&events(4..=7), 3);
        assert_eq!(ids(tail.range(4, 7)), Some(vec![4, 5, 6, 7]));
        assert_eq!(ids(tail.range(3, 7)), None, "3 is behind the last completed task");
        tail.extend(&events(10..=11), 3);
        assert_eq!(ids(tail.range(10, 11)), Some(vec![10, 11]), "a gap starts the tail again");
        assert_eq!(ids(tail.range(4, 11)), None);
    }

    #[test]
    fn big_events_push_the_oldest_out() {
        let mut tail = EventTail::default();
        let big = |event_id| HistoryEvent { event_id, task_id: 1, event_type: 1, version: 0, ..Default::default() };
        let mut many: Vec<_> = (1..=10).map(big).collect();
        for e in &mut many {
            e.attributes =
                Some(chronicle_engine::api::history::v1::history_event::Attributes::MarkerRecordedEventAttributes(
                    chronicle_engine::api::history::v1::MarkerRecordedEventAttributes {
                        marker_name: "x".repeat(4000),
                        ..Default::default()
                    },
                ));
        }
        tail.extend(&many, 0);
        assert!(tail.bytes <= TAIL_BYTES_MAX);
        assert_eq!(ids(tail.range(1, 10)), None);
        assert_eq!(ids(tail.range(8, 10)), Some(vec![8, 9, 10]));
    }
}
