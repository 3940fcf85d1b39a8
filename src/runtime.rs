//! Per-group runtime state: what changes without advancing the epoch.
//!
//! A snapshot records *ownership* (which partitions, at which generation), and
//! every change to it is an event that advances the tracker's epoch. Some
//! per-group state changes far more often than ownership, or is not about
//! ownership at all: the time of the consumer's last poll, configuration read
//! from the consumer, counters of what the glue did. Publishing a snapshot
//! for each of those would make every poll a write event; keeping them in
//! the snapshot would make them stale. They live here instead.
//!
//! # What belongs here
//! - state written often (per poll, per batch) or by threads other than the
//!   rebalance thread, and read rarely (monitoring, a timer);
//! - counters and settings that never change what a reader of a snapshot or
//!   a handle sees;
//! - only fields that are atomics (or other lock-free cells), so that any
//!   thread may update or read them without a lock, at the cost of one
//!   atomic operation.
//!
//! What does **not** belong here: anything a snapshot reader must see
//! consistently with the assignments (generations, statuses): that goes
//! through an event.
//!
//! # Lifetime
//! One [`GroupRuntime`] exists per (tracker, group name). It is created the
//! first time the tracker hands out a [`Group`](crate::Group) of that name,
//! is shared by every `Group` value of that name, and lives as long as the
//! tracker or any of those values. `Tracker::clear` does not reset it: it
//! describes the consumer, not its assignments.
//!
//! # Adding a field
//! Add an atomic field with a doc comment (what it counts or holds, its unit,
//! who writes it), give it a `Default` of "nothing happened yet" (the derive
//! does this for atomics), and read or write it through a method on
//! [`Group`](crate::Group).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

/// Per-group state outside snapshots (see the module documentation).
/// Every field is an atomic: `Send + Sync`, never locked.
#[derive(Debug, Default)]
pub(crate) struct GroupRuntime {
    /// Time of the consumer's last poll mark, in [`mono_ns`] units plus one
    /// (0: never marked). Written by the polling thread.
    pub(crate) last_poll: AtomicU64,
    /// Poll marks so far. Written by the polling thread.
    pub(crate) polls: AtomicU64,
    /// Rebalances the librdkafka glue failed to handle for this group (an
    /// assign call librdkafka refused, a list kat rejected, a missing
    /// argument). A failure changes no assignment, so it is counted here and
    /// never advances the epoch. Written by the polling thread.
    pub(crate) glue_failures: AtomicU64,
    /// Health reports `stalled` once the last poll mark is older than this,
    /// in nanoseconds (0: never). Set by `Group::set_stall_after`.
    pub(crate) stall_after_ns: AtomicU64,
}

impl GroupRuntime {
    /// Records a poll now: two atomic stores and one monotonic clock read.
    #[inline]
    pub(crate) fn mark_poll(&self) {
        self.last_poll.store(mono_ns() + 1, Ordering::Release);
        self.polls.fetch_add(1, Ordering::Relaxed);
    }

    /// The monotonic time of the last poll mark, if any.
    #[inline]
    pub(crate) fn last_poll_ns(&self) -> Option<u64> {
        match self.last_poll.load(Ordering::Acquire) {
            0 => None,
            t => Some(t - 1),
        }
    }
}

/// Nanoseconds on the process's monotonic clock (since kat first read it).
/// One `clock_gettime(CLOCK_MONOTONIC)` (a vDSO call on Linux).
#[inline]
pub(crate) fn mono_ns() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    Instant::now().saturating_duration_since(base).as_nanos() as u64
}

#[cfg(test)]
mod tests {
    use crate::Tracker;

    #[test]
    fn every_group_value_of_a_name_shares_one_runtime() {
        let t = Tracker::new();
        let a = t.group("g").unwrap();
        let b = t.group("g").unwrap();
        let c = a.clone();
        assert!(std::sync::Arc::ptr_eq(a.runtime(), b.runtime()));
        assert!(std::sync::Arc::ptr_eq(a.runtime(), c.runtime()));
        let other = t.group("h").unwrap();
        assert!(!std::sync::Arc::ptr_eq(a.runtime(), other.runtime()));
        let elsewhere = Tracker::new().group("g").unwrap();
        assert!(!std::sync::Arc::ptr_eq(a.runtime(), elsewhere.runtime()));
    }

    #[test]
    fn poll_marks_change_runtime_state_without_advancing_the_epoch() {
        let t = Tracker::new();
        let a = t.group("g").unwrap();
        assert_eq!(a.since_last_poll(), None);
        assert_eq!(a.poll_count(), 0);
        a.assigned([("x", 0)]).unwrap();
        let epoch = t.epoch();
        a.mark_poll();
        t.group("g").unwrap().mark_poll();
        assert_eq!(t.epoch(), epoch);
        assert_eq!(a.poll_count(), 2);
        assert!(a.since_last_poll().is_some());
        assert_eq!(t.group("h").unwrap().poll_count(), 0);
    }

    #[test]
    fn glue_failures_are_counted_per_group_without_advancing_the_epoch() {
        let t = Tracker::new();
        let a = t.group("g").unwrap();
        a.assigned([("x", 0)]).unwrap();
        let epoch = t.epoch();
        assert_eq!(a.glue_failures(), 0);
        a.record_glue_failure();
        t.group("g").unwrap().record_glue_failure();
        assert_eq!(t.epoch(), epoch);
        assert_eq!(a.glue_failures(), 2);
        assert_eq!(t.group("h").unwrap().glue_failures(), 0);
        assert!(t.clear());
        assert_eq!(a.glue_failures(), 2, "clear() keeps runtime state");
    }

    #[test]
    fn clear_keeps_runtime_state() {
        let t = Tracker::new();
        let a = t.group("g").unwrap();
        a.assigned([("x", 0)]).unwrap();
        a.mark_poll();
        assert!(t.clear());
        assert_eq!(t.group("g").unwrap().poll_count(), 1);
    }
}
