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

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Per-group state outside snapshots (see the module documentation).
/// Every field is an atomic: `Send + Sync`, never locked.
#[derive(Debug, Default)]
pub(crate) struct GroupRuntime {
    /// Time of the consumer's last poll mark, in [`mono_ns`] units plus one
    /// (0: never marked). Written by the polling thread.
    pub(crate) last_poll: AtomicU64,
    /// Poll marks so far. Written by the polling thread (see `mark_poll`).
    pub(crate) polls: AtomicU64,
    /// Rebalances the librdkafka glue failed to handle for this group (an
    /// assign call librdkafka refused, a list kat rejected, a missing
    /// argument). A failure changes no assignment, so it is counted here and
    /// never advances the epoch. Written by the polling thread.
    pub(crate) glue_failures: AtomicU64,
    /// Health reports `stalled` once the last poll mark is older than this,
    /// in nanoseconds (0: never). Set by `Group::set_stall_after`.
    pub(crate) stall_after_ns: AtomicU64,
    /// With no `stall_after_ns` and a poll deadline armed, health reports
    /// `stalled` after this fraction of the deadline, in parts per million
    /// (0: the default, `history::DEFAULT_STALL_FRACTION`; `u64::MAX`: off).
    /// Set by `Group::set_stall_fraction`.
    pub(crate) stall_fraction_ppm: AtomicU64,
    /// The poll deadline in nanoseconds (`max.poll.interval.ms` minus the
    /// margin); 0: no deadline armed. Written by `Group::set_poll_deadline`.
    pub(crate) deadline_ns: AtomicU64,
    /// The poll mark (raw `last_poll` value) the deadline timer last expired
    /// the group at: the deadline runs again from the next mark. Written by
    /// the timer only.
    pub(crate) expired_mark: AtomicU64,
    /// Expiries that took partitions away. Written by the deadline timer.
    pub(crate) expirations: AtomicU64,
    /// How late after the deadline the last expiry was recorded, in ns
    /// (the timer's wake-up delay plus the event). Written by the timer.
    pub(crate) last_expiry_late_ns: AtomicU64,
    /// The broker's generation of this membership at the last rebalance the
    /// glue handled: the group generation id under the classic protocol,
    /// the member epoch under KIP-848; 0: unknown. Written by the glue
    /// before it records the rebalance.
    pub(crate) broker_generation: AtomicI64,
    /// The poll mark (raw `last_poll`) at which the glue last refreshed the
    /// broker generation outside a rebalance. Claimed by the polling thread.
    pub(crate) broker_checked: AtomicU64,
    /// How long an orderly revoke waits for leases to be released, in ns;
    /// 0: no drain (the default). Written by `Group::set_drain_timeout`.
    pub(crate) drain_timeout_ns: AtomicU64,
    /// An orderly revoke is draining: leases taken before it stay valid
    /// until it ends. Written by the rebalance thread.
    pub(crate) draining: AtomicBool,
    /// Drains run (orderly revokes with a drain timeout).
    pub(crate) drains: AtomicU64,
    /// Drains that reached their timeout with leases still held.
    pub(crate) drain_timeouts: AtomicU64,
    /// Leases still held when the last drain ended (0 if it completed).
    pub(crate) last_drain_held: AtomicU64,
    /// Leases held at the deadline, summed over every drain.
    pub(crate) drain_held_total: AtomicU64,
    /// Called after every event that took partitions away from the group
    /// (revoke, loss, reset, expiry, the start of a drain), on the thread
    /// that applied it, after the writers' lock is released.
    pub(crate) on_loss: OnLoss,
    /// The eventfd kat made for loss notifications, plus one (0: none).
    /// Owned by kat; written by the C ABI.
    pub(crate) loss_fd: AtomicI32,
    /// The member id at the last rebalance the glue handled. Written by the
    /// glue (lock-free swap of an `Arc`).
    pub(crate) member_id: ArcSwapOption<String>,
}

/// A callback told that a group lost partitions (see
/// [`Group::set_loss_notifier`](crate::Group::set_loss_notifier)); its
/// argument is the group name.
pub type LossNotifier = Box<dyn Fn(&str) + Send + Sync>;

/// The loss callback slot (lock-free to swap and to load).
#[derive(Default)]
pub(crate) struct OnLoss(pub(crate) ArcSwapOption<LossNotifier>);

impl std::fmt::Debug for OnLoss {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.load().is_some() {
            "OnLoss(set)"
        } else {
            "OnLoss(none)"
        })
    }
}

/// A group's drain barrier: its timeout and what its drains found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DrainStats {
    /// The drain timeout (`None`: orderly revokes do not wait for leases).
    pub timeout: Option<Duration>,
    /// Drains run.
    pub drains: u64,
    /// Drains that reached the timeout with leases still held.
    pub timeouts: u64,
    /// Leases still held when the last drain ended.
    pub last_held: u64,
    /// Leases held at the timeout, over every drain.
    pub held_total: u64,
}

/// A group's poll marks and poll deadline, as of one read of each counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PollStats {
    /// The armed poll deadline (`max.poll.interval.ms` minus the margin).
    pub deadline: Option<Duration>,
    /// Poll marks received.
    pub polls: u64,
    /// Time since the last poll mark (`None`: never marked).
    pub since_last_poll: Option<Duration>,
    /// Times the deadline passed with no poll and kat marked the group's
    /// partitions lost (only expiries that took something away count).
    pub expirations: u64,
    /// How long after the deadline the last of those expiries was recorded.
    pub last_expiry_delay: Option<Duration>,
}

impl GroupRuntime {
    /// Records a poll now: one monotonic clock read and two plain atomic
    /// stores (no read-modify-write, no fence). The deadline timer notices
    /// the mark the next time it looks at the group.
    #[inline]
    pub(crate) fn mark_poll(&self) {
        self.last_poll.store(mono_ns() + 1, Ordering::Release);
        // One polling thread per group: a load and a store, not an atomic
        // increment (concurrent marks from several threads may undercount).
        let polls = self.polls.load(Ordering::Relaxed);
        self.polls.store(polls.wrapping_add(1), Ordering::Relaxed);
    }

    /// Records the broker's view of the membership (see the fields).
    pub(crate) fn record_broker(&self, generation: i32, member_id: Option<&str>) {
        self.broker_generation
            .store(i64::from(generation), Ordering::Release);
        if let Some(id) = member_id {
            let same = self.member_id.load().as_deref().is_some_and(|m| m == id);
            if !same {
                self.member_id.store(Some(Arc::new(id.to_owned())));
            }
        }
    }

    /// Whether the glue should refresh the broker generation now: true at
    /// most once per `every` of poll marks (claimed with one
    /// compare-and-swap, so only one caller gets it). Two loads otherwise.
    pub(crate) fn broker_refresh_due(&self, every: std::time::Duration) -> bool {
        let mark = self.last_poll.load(Ordering::Acquire);
        let checked = self.broker_checked.load(Ordering::Relaxed);
        mark != 0
            && mark.saturating_sub(checked) >= every.as_nanos() as u64
            && self
                .broker_checked
                .compare_exchange(checked, mark, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }

    /// The raw poll mark (0: never), as the timer compares it.
    #[inline]
    pub(crate) fn last_poll_raw(&self) -> u64 {
        self.last_poll.load(Ordering::Acquire)
    }

    pub(crate) fn poll_stats(&self) -> PollStats {
        let deadline = self.deadline_ns.load(Ordering::Acquire);
        let expirations = self.expirations.load(Ordering::Acquire);
        PollStats {
            deadline: (deadline != 0).then(|| Duration::from_nanos(deadline)),
            polls: self.polls.load(Ordering::Relaxed),
            since_last_poll: self
                .last_poll_ns()
                .map(|t| Duration::from_nanos(mono_ns().saturating_sub(t))),
            expirations,
            last_expiry_delay: (expirations != 0)
                .then(|| Duration::from_nanos(self.last_expiry_late_ns.load(Ordering::Relaxed))),
        }
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
