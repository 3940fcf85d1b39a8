//! `kat_group_t`: rebalance events and per-group reads.
//!
//! Events are called from the thread running the rebalance (librdkafka's
//! `rebalance_cb` or the event API). Each is atomic: readers see all of it or
//! none of it; on any error nothing changes.

use std::ffi::c_char;

use super::list::{
    kat_topic_partition_t, rd_kafka_topic_partition_list_s, read_pairs, read_rdkafka_list,
    read_topic_partitions,
};
use super::result::{guard, guard_value, kat_result, FfiResult};
use super::{arg, out, topic, write};
use super::{kat_group_t, kat_partition_handle_t};
use crate::{Error, Group, GroupStats};

/// A group's event counters (only events that changed something count).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct kat_group_stats_t {
    /// `assigned` events, and `replace` events that assigned something.
    pub assigned_events: u64,
    /// `revoked` events, and `replace` events that removed something.
    pub revoked_events: u64,
    /// `lost` events.
    pub lost_events: u64,
    /// `reset` events.
    pub reset_events: u64,
    /// Time of the group's last change, ms since the Unix epoch (0: never).
    pub last_change_unix_ms: u64,
    /// Rebalances the librdkafka glue failed to handle for this group
    /// (`kat_group_glue_failure`). Runtime state, not part of snapshots:
    /// filled by `kat_group_stats`, always 0 in a snapshot's group view.
    pub glue_failures: u64,
}

impl From<GroupStats> for kat_group_stats_t {
    fn from(s: GroupStats) -> Self {
        kat_group_stats_t {
            assigned_events: s.assigned_events,
            revoked_events: s.revoked_events,
            lost_events: s.lost_events,
            reset_events: s.reset_events,
            last_change_unix_ms: s.last_change_unix_ms,
            glue_failures: 0,
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Assigned,
    Revoked,
    Replace,
}

fn apply<'a>(
    name: &'static str,
    group: *mut kat_group_t,
    kind: Kind,
    read: impl FnOnce() -> FfiResult<Vec<(&'a str, i32)>>,
) -> kat_result {
    guard(name, || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group.cast_const(), "group") }?;
        let list = read()?;
        let r: Result<bool, Error> = match kind {
            Kind::Assigned => g.assigned(list),
            Kind::Revoked => g.revoked(list),
            Kind::Replace => g.replace(list),
        };
        r?;
        Ok(())
    })
}

/// Frees a group handle. NULL is ignored. The group's state stays in the
/// tracker: getting the same name again returns the same group.
#[no_mangle]
pub unsafe extern "C" fn kat_group_free(group: *mut kat_group_t) {
    guard_value("kat_group_free", (), || {
        if !group.is_null() {
            // SAFETY: came from `Box::into_raw` in `kat_tracker_group`; freed once.
            drop(unsafe { Box::from_raw(group.cast::<Group>()) });
        }
        Ok(())
    })
}

/// The group's name, NUL-terminated, borrowed from the handle (valid until
/// `kat_group_free`). NULL if `group` is NULL.
///
/// Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn kat_group_name(group: *const kat_group_t) -> *const c_char {
    guard_value("kat_group_name", std::ptr::null(), || {
        // SAFETY: checked for NULL; valid during the call.
        let g = unsafe { arg(group, "group") }?;
        Ok(g.name_with_nul().as_ptr().cast())
    })
}

/// Records that the partitions in librdkafka's list were assigned (an
/// incremental assign, or an eager assign on top of nothing): each distinct
/// listed partition gets generation + 1. An empty list changes nothing.
///
/// `partitions` is librdkafka's `rd_kafka_topic_partition_list_t *`, read
/// through its public layout and only during the call.
/// Thread-safe; takes the writers' lock; never blocks readers.
#[no_mangle]
pub unsafe extern "C" fn kat_group_assigned(
    group: *mut kat_group_t,
    partitions: *const rd_kafka_topic_partition_list_s,
) -> kat_result {
    // SAFETY: the list is valid during the call per the contract.
    apply("kat_group_assigned", group, Kind::Assigned, || unsafe {
        read_rdkafka_list(partitions)
    })
}

/// Records an orderly revocation of the listed partitions: they stop being
/// assigned, their generations are kept (status revoked). Partitions the
/// group does not own are ignored.
///
/// Same ownership and thread-safety as `kat_group_assigned`.
#[no_mangle]
pub unsafe extern "C" fn kat_group_revoked(
    group: *mut kat_group_t,
    partitions: *const rd_kafka_topic_partition_list_s,
) -> kat_result {
    // SAFETY: the list is valid during the call per the contract.
    apply("kat_group_revoked", group, Kind::Revoked, || unsafe {
        read_rdkafka_list(partitions)
    })
}

/// Records an EAGER assign: the group's assignment becomes exactly the list.
/// Listed partitions get generation + 1; owned ones not listed are revoked.
///
/// Same ownership and thread-safety as `kat_group_assigned`.
#[no_mangle]
pub unsafe extern "C" fn kat_group_replace(
    group: *mut kat_group_t,
    partitions: *const rd_kafka_topic_partition_list_s,
) -> kat_result {
    // SAFETY: the list is valid during the call per the contract.
    apply("kat_group_replace", group, Kind::Replace, || unsafe {
        read_rdkafka_list(partitions)
    })
}

/// `kat_group_assigned` for callers without librdkafka: `count` partitions of
/// one topic (`partitions` may be NULL when `count` is 0).
#[no_mangle]
pub unsafe extern "C" fn kat_group_assigned_partitions(
    group: *mut kat_group_t,
    topic: *const c_char,
    partitions: *const i32,
    count: usize,
) -> kat_result {
    // SAFETY: arrays valid during the call per the contract.
    apply(
        "kat_group_assigned_partitions",
        group,
        Kind::Assigned,
        || unsafe { read_topic_partitions(topic, partitions, count) },
    )
}

/// `kat_group_revoked` for callers without librdkafka: one topic.
#[no_mangle]
pub unsafe extern "C" fn kat_group_revoked_partitions(
    group: *mut kat_group_t,
    topic: *const c_char,
    partitions: *const i32,
    count: usize,
) -> kat_result {
    // SAFETY: arrays valid during the call per the contract.
    apply(
        "kat_group_revoked_partitions",
        group,
        Kind::Revoked,
        || unsafe { read_topic_partitions(topic, partitions, count) },
    )
}

/// `kat_group_replace` for callers without librdkafka: the assignment becomes
/// exactly these partitions of one topic.
#[no_mangle]
pub unsafe extern "C" fn kat_group_replace_partitions(
    group: *mut kat_group_t,
    topic: *const c_char,
    partitions: *const i32,
    count: usize,
) -> kat_result {
    // SAFETY: arrays valid during the call per the contract.
    apply(
        "kat_group_replace_partitions",
        group,
        Kind::Replace,
        || unsafe { read_topic_partitions(topic, partitions, count) },
    )
}

/// `kat_group_assigned` for callers without librdkafka: an array of
/// (topic, partition) pairs over any number of topics.
#[no_mangle]
pub unsafe extern "C" fn kat_group_assigned_pairs(
    group: *mut kat_group_t,
    items: *const kat_topic_partition_t,
    count: usize,
) -> kat_result {
    // SAFETY: arrays valid during the call per the contract.
    apply(
        "kat_group_assigned_pairs",
        group,
        Kind::Assigned,
        || unsafe { read_pairs(items, count) },
    )
}

/// `kat_group_revoked` with an array of (topic, partition) pairs.
#[no_mangle]
pub unsafe extern "C" fn kat_group_revoked_pairs(
    group: *mut kat_group_t,
    items: *const kat_topic_partition_t,
    count: usize,
) -> kat_result {
    // SAFETY: arrays valid during the call per the contract.
    apply("kat_group_revoked_pairs", group, Kind::Revoked, || unsafe {
        read_pairs(items, count)
    })
}

/// `kat_group_replace` with an array of (topic, partition) pairs.
#[no_mangle]
pub unsafe extern "C" fn kat_group_replace_pairs(
    group: *mut kat_group_t,
    items: *const kat_topic_partition_t,
    count: usize,
) -> kat_result {
    // SAFETY: arrays valid during the call per the contract.
    apply("kat_group_replace_pairs", group, Kind::Replace, || unsafe {
        read_pairs(items, count)
    })
}

/// Records that the group's assignment was lost (`rd_kafka_assignment_lost()`
/// was true): every owned partition stops being assigned, with status lost.
///
/// Thread-safe; takes the writers' lock.
#[no_mangle]
pub unsafe extern "C" fn kat_group_lost(group: *mut kat_group_t) -> kat_result {
    guard("kat_group_lost", || {
        // SAFETY: checked for NULL; valid during the call.
        let g = unsafe { arg(group.cast_const(), "group") }?;
        // `lost` itself cannot say it could not apply (src/fork.rs).
        g.tracker().writable()?;
        g.lost();
        Ok(())
    })
}

/// Records that the group's client was reset or re-created: every owned
/// partition stops being assigned, with status lost; counted as a reset.
///
/// Thread-safe; takes the writers' lock.
#[no_mangle]
pub unsafe extern "C" fn kat_group_reset(group: *mut kat_group_t) -> kat_result {
    guard("kat_group_reset", || {
        // SAFETY: checked for NULL; valid during the call.
        let g = unsafe { arg(group.cast_const(), "group") }?;
        g.tracker().writable()?;
        g.reset();
        Ok(())
    })
}

/// Writes how many times this group was assigned `topic`/`partition`.
///
/// Thread-safe; wait-free; never allocates.
#[no_mangle]
pub unsafe extern "C" fn kat_group_generation(
    group: *const kat_group_t,
    topic_name: *const c_char,
    partition: i32,
    out_generation: *mut u64,
) -> kat_result {
    guard("kat_group_generation", || {
        // SAFETY: pointers checked; valid during the call.
        let g = unsafe { arg(group, "group") }?;
        let t = unsafe { topic(topic_name, "topic") }?;
        crate::name::validate_partition(partition)?;
        let o = out(out_generation, "out_generation")?;
        // SAFETY: checked output slot.
        unsafe { write(o, g.generation(t, partition)) };
        Ok(())
    })
}

/// Writes whether this group owns `topic`/`partition` now.
///
/// Thread-safe; wait-free; never allocates.
#[no_mangle]
pub unsafe extern "C" fn kat_group_is_assigned(
    group: *const kat_group_t,
    topic_name: *const c_char,
    partition: i32,
    out_assigned: *mut bool,
) -> kat_result {
    guard("kat_group_is_assigned", || {
        // SAFETY: pointers checked; valid during the call.
        let g = unsafe { arg(group, "group") }?;
        let t = unsafe { topic(topic_name, "topic") }?;
        crate::name::validate_partition(partition)?;
        let o = out(out_assigned, "out_assigned")?;
        // SAFETY: checked output slot.
        unsafe { write(o, g.is_assigned(t, partition)) };
        Ok(())
    })
}

/// Writes the group's event counters, and the glue failures counted so far.
///
/// Thread-safe; wait-free.
#[no_mangle]
pub unsafe extern "C" fn kat_group_stats(
    group: *const kat_group_t,
    out_stats: *mut kat_group_stats_t,
) -> kat_result {
    guard("kat_group_stats", || {
        // SAFETY: pointers checked; valid during the call.
        let g = unsafe { arg(group, "group") }?;
        let o = out(out_stats, "out_stats")?;
        let mut stats: kat_group_stats_t = g.stats().into();
        stats.glue_failures = g.glue_failures();
        // SAFETY: checked output slot.
        unsafe { write(o, stats) };
        Ok(())
    })
}

/// Counts one rebalance the librdkafka glue failed to handle for `group`
/// (`kat_rdkafka.h` calls it on each failure; other glue may too). Shown as
/// `glue_failures` by `kat_group_stats`. Changes no assignment and does not
/// advance the epoch. A NULL `group` is ignored. Unlike every other entry
/// point it leaves the calling thread's last error as it is, since it is
/// called right after a failure whose detail must stay readable.
///
/// Thread-safe; one atomic add.
#[no_mangle]
pub unsafe extern "C" fn kat_group_glue_failure(group: *mut kat_group_t) {
    // SAFETY: NULL or a live group handle per the contract.
    if let Ok(g) = unsafe { arg(group.cast_const(), "group") } {
        g.record_glue_failure();
    }
}

/// Gets a handle on `topic`/`partition` of this group, for one-load
/// ownership checks (`kat_partition_handle_state`). The key need not be
/// assigned yet. Free it with `kat_partition_handle_free`.
///
/// Thread-safe; takes the writers' lock and allocates the first time a key
/// gets a handle.
#[no_mangle]
pub unsafe extern "C" fn kat_group_partition(
    group: *const kat_group_t,
    topic_name: *const c_char,
    partition: i32,
    out_handle: *mut *mut kat_partition_handle_t,
) -> kat_result {
    guard("kat_group_partition", || {
        // SAFETY: pointers checked; valid during the call.
        let g = unsafe { arg(group, "group") }?;
        let t = unsafe { topic(topic_name, "topic") }?;
        let o = out(out_handle, "out_handle")?;
        let h = g.partition(t, partition)?;
        // SAFETY: checked output slot; the pointer owns one reference.
        unsafe { write(o, h.into_raw().cast_mut().cast()) };
        Ok(())
    })
}
