//! `kat_snapshot_t`: an immutable view, iterated without copying.

use std::ffi::c_char;
use std::sync::Arc;

use super::group::kat_group_stats_t;
use super::kat_snapshot_t;
use super::result::{guard, guard_value, kat_result, FfiError, FfiResult};
use super::{arg, copy_out, group_name, out, topic, write};
use crate::{AssignedPartition, Snapshot, TopicView};

/// One group of a snapshot. Pointers are borrowed from the snapshot and valid
/// until `kat_snapshot_free`.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct kat_group_view_t {
    /// NUL-terminated group name.
    pub name: *const c_char,
    /// Its length in bytes, without the NUL.
    pub name_len: usize,
    /// Number of topics with assigned partitions (`kat_snapshot_topic` indexes).
    pub topic_count: usize,
    /// Number of partitions the group owns.
    pub partition_count: usize,
    /// The group's counters as of this snapshot.
    pub stats: kat_group_stats_t,
}

/// One assigned topic of a group in a snapshot. Pointers are borrowed from
/// the snapshot and valid until `kat_snapshot_free`.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct kat_topic_view_t {
    /// NUL-terminated group name.
    pub group: *const c_char,
    /// Its length in bytes.
    pub group_len: usize,
    /// NUL-terminated topic name.
    pub name: *const c_char,
    /// Its length in bytes.
    pub name_len: usize,
    /// The assigned partitions, sorted ascending, each with its generation.
    pub partitions: *const AssignedPartition,
    /// Number of elements in `partitions` (≥ 1).
    pub partition_count: usize,
}

fn topic_view(t: &TopicView) -> kat_topic_view_t {
    kat_topic_view_t {
        group: t.group_name().with_nul().as_ptr().cast(),
        group_len: t.group().len(),
        name: t.topic_name().with_nul().as_ptr().cast(),
        name_len: t.name().len(),
        partitions: t.partitions().as_ptr(),
        partition_count: t.partitions().len(),
    }
}

fn range(index: usize, len: usize, what: &str) -> FfiResult {
    if index < len {
        Ok(())
    } else {
        Err(FfiError::new(
            kat_result::KAT_ERR_OUT_OF_RANGE,
            format!("{what} index {index} is out of range (count {len})"),
        ))
    }
}

/// Releases a snapshot. NULL is ignored. Views borrowed from it become
/// invalid.
#[no_mangle]
pub unsafe extern "C" fn kat_snapshot_free(snapshot: *mut kat_snapshot_t) {
    guard_value("kat_snapshot_free", (), || {
        if !snapshot.is_null() {
            // SAFETY: came from `Arc::into_raw` in `kat_tracker_snapshot`;
            // released once.
            drop(unsafe { Arc::from_raw(snapshot.cast_const().cast::<Snapshot>()) });
        }
        Ok(())
    })
}

/// Writes the epoch the snapshot was taken at.
#[no_mangle]
pub unsafe extern "C" fn kat_snapshot_epoch(
    snapshot: *const kat_snapshot_t,
    out_epoch: *mut u64,
) -> kat_result {
    guard("kat_snapshot_epoch", || {
        // SAFETY: checked; valid until `kat_snapshot_free`.
        let s = unsafe { arg(snapshot, "snapshot") }?;
        let o = out(out_epoch, "out_epoch")?;
        // SAFETY: checked output slot.
        unsafe { write(o, s.epoch()) };
        Ok(())
    })
}

/// Writes the number of groups in the snapshot (every group that holds a
/// retained (group, topic) entry, including groups that own nothing now; see
/// the README, "Bounded memory").
#[no_mangle]
pub unsafe extern "C" fn kat_snapshot_group_count(
    snapshot: *const kat_snapshot_t,
    out_count: *mut usize,
) -> kat_result {
    guard("kat_snapshot_group_count", || {
        // SAFETY: checked; valid until `kat_snapshot_free`.
        let s = unsafe { arg(snapshot, "snapshot") }?;
        let o = out(out_count, "out_count")?;
        // SAFETY: checked output slot.
        unsafe { write(o, s.groups().len()) };
        Ok(())
    })
}

/// Writes the total number of partitions assigned over all groups.
#[no_mangle]
pub unsafe extern "C" fn kat_snapshot_partition_count(
    snapshot: *const kat_snapshot_t,
    out_count: *mut usize,
) -> kat_result {
    guard("kat_snapshot_partition_count", || {
        // SAFETY: checked; valid until `kat_snapshot_free`.
        let s = unsafe { arg(snapshot, "snapshot") }?;
        let o = out(out_count, "out_count")?;
        // SAFETY: checked output slot.
        unsafe { write(o, s.partition_count()) };
        Ok(())
    })
}

/// Describes group `group_index` (groups are sorted by name).
/// `KAT_ERR_OUT_OF_RANGE` past the end. No copy: the view borrows.
#[no_mangle]
pub unsafe extern "C" fn kat_snapshot_group(
    snapshot: *const kat_snapshot_t,
    group_index: usize,
    out_view: *mut kat_group_view_t,
) -> kat_result {
    guard("kat_snapshot_group", || {
        // SAFETY: checked; valid until `kat_snapshot_free`.
        let s = unsafe { arg(snapshot, "snapshot") }?;
        let o = out(out_view, "out_view")?;
        range(group_index, s.groups().len(), "group")?;
        let g = &s.groups()[group_index];
        let view = kat_group_view_t {
            name: g.name_ref().with_nul().as_ptr().cast(),
            name_len: g.name().len(),
            topic_count: g.topics().len(),
            partition_count: g.partition_count(),
            stats: g.stats().into(),
        };
        // SAFETY: checked output slot.
        unsafe { write(o, view) };
        Ok(())
    })
}

/// Describes topic `topic_index` of group `group_index` (topics sorted by
/// name; only topics with assigned partitions). No copy: the view borrows.
#[no_mangle]
pub unsafe extern "C" fn kat_snapshot_topic(
    snapshot: *const kat_snapshot_t,
    group_index: usize,
    topic_index: usize,
    out_view: *mut kat_topic_view_t,
) -> kat_result {
    guard("kat_snapshot_topic", || {
        // SAFETY: checked; valid until `kat_snapshot_free`.
        let s = unsafe { arg(snapshot, "snapshot") }?;
        let o = out(out_view, "out_view")?;
        range(group_index, s.groups().len(), "group")?;
        let g = &s.groups()[group_index];
        range(topic_index, g.topics().len(), "topic")?;
        // SAFETY: checked output slot.
        unsafe { write(o, topic_view(&g.topics()[topic_index])) };
        Ok(())
    })
}

/// Finds the assigned partitions of `group`/`topic`. `KAT_ERR_NOT_FOUND` if
/// the group owns no partition of that topic in this snapshot.
/// One hash probe; no copy.
#[no_mangle]
pub unsafe extern "C" fn kat_snapshot_find_topic(
    snapshot: *const kat_snapshot_t,
    group: *const c_char,
    topic_name: *const c_char,
    out_view: *mut kat_topic_view_t,
) -> kat_result {
    guard("kat_snapshot_find_topic", || {
        // SAFETY: pointers checked; valid during the call / the snapshot.
        let s = unsafe { arg(snapshot, "snapshot") }?;
        let g = unsafe { group_name(group) }?;
        let t = unsafe { topic(topic_name, "topic") }?;
        let o = out(out_view, "out_view")?;
        match s.topic(g, t) {
            Some(v) if !v.partitions().is_empty() => {
                // SAFETY: checked output slot.
                unsafe { write(o, topic_view(v)) };
                Ok(())
            }
            _ => Err(FfiError::new(
                kat_result::KAT_ERR_NOT_FOUND,
                format!("group {g:?} owns no partition of {t:?} in this snapshot"),
            )),
        }
    })
}

/// Writes the generation of a key as of this snapshot (0 if never assigned).
#[no_mangle]
pub unsafe extern "C" fn kat_snapshot_generation(
    snapshot: *const kat_snapshot_t,
    group: *const c_char,
    topic_name: *const c_char,
    partition: i32,
    out_generation: *mut u64,
) -> kat_result {
    guard("kat_snapshot_generation", || {
        // SAFETY: pointers checked; valid during the call.
        let s = unsafe { arg(snapshot, "snapshot") }?;
        let g = unsafe { group_name(group) }?;
        let t = unsafe { topic(topic_name, "topic") }?;
        crate::name::validate_partition(partition)?;
        let o = out(out_generation, "out_generation")?;
        // SAFETY: checked output slot.
        unsafe { write(o, s.generation(g, t, partition)) };
        Ok(())
    })
}

/// Writes whether a key is assigned in this snapshot.
#[no_mangle]
pub unsafe extern "C" fn kat_snapshot_is_assigned(
    snapshot: *const kat_snapshot_t,
    group: *const c_char,
    topic_name: *const c_char,
    partition: i32,
    out_assigned: *mut bool,
) -> kat_result {
    guard("kat_snapshot_is_assigned", || {
        // SAFETY: pointers checked; valid during the call.
        let s = unsafe { arg(snapshot, "snapshot") }?;
        let g = unsafe { group_name(group) }?;
        let t = unsafe { topic(topic_name, "topic") }?;
        crate::name::validate_partition(partition)?;
        let o = out(out_assigned, "out_assigned")?;
        // SAFETY: checked output slot.
        unsafe { write(o, s.is_assigned(g, t, partition)) };
        Ok(())
    })
}

/// Copies the snapshot as JSON into `buf` (NUL-terminated):
/// `{"epoch":N,"groups":{"group":{"topic":{"partition":generation}}}}`.
///
/// Buffer rules (the same for every kat function that copies text out):
/// - `*out_len` always receives the text's length in bytes **without** the
///   NUL — on success and on `KAT_ERR_BUFFER_TOO_SMALL` alike;
/// - the text fits when `cap >= length + 1` (the NUL is always written), so a
///   buffer of exactly `length + 1` bytes works;
/// - `buf == NULL` with `cap == 0` only writes the length (KAT_OK);
/// - on `KAT_ERR_BUFFER_TOO_SMALL` (`cap <= length`) `buf` is not touched.
///
/// The text can change between two calls on a tracker, never on one
/// snapshot or generations list: size it and copy it from the same object.
///
/// Thread-safe; allocates the text once per call.
#[no_mangle]
pub unsafe extern "C" fn kat_snapshot_to_json(
    snapshot: *const kat_snapshot_t,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> kat_result {
    guard("kat_snapshot_to_json", || {
        // SAFETY: checked; valid until `kat_snapshot_free`.
        let s = unsafe { arg(snapshot, "snapshot") }?;
        // SAFETY: `buf` writable for `cap` bytes per the contract.
        unsafe { copy_out(&s.to_json(), buf, cap, out_len) }
    })
}
