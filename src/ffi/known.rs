//! Every topic a group has generations for, read from a snapshot: what a
//! binding needs to build "generations" (revoked and lost keys included)
//! from one held snapshot, and to rebuild only what changed.
//!
//! Unchanged topics are shared between consecutive snapshots, so the
//! `records_id` of a topic whose records did not change is the same address
//! in both: while both snapshots are held, equal ids mean equal records.

use std::ffi::{c_char, c_void};

use super::kat_snapshot_t;
use super::partition::kat_status;
use super::result::{guard, kat_result, FfiError, FfiResult};
use super::{arg, out, write};
use crate::{GroupView, Snapshot, TopicView};

/// One topic a group has generations for (assigned now or not), in a
/// snapshot. Pointers are borrowed from the snapshot and valid until
/// `kat_snapshot_free`.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct kat_known_topic_view_t {
    /// NUL-terminated group name.
    pub group: *const c_char,
    /// Its length in bytes.
    pub group_len: usize,
    /// NUL-terminated topic name.
    pub name: *const c_char,
    /// Its length in bytes.
    pub name_len: usize,
    /// Identifies this topic's records: two views taken from snapshots held
    /// at the same time have the same `records_id` only if their records are
    /// the same (the topic did not change between them). Never dereference.
    pub records_id: *const c_void,
    /// Number of records (partitions with a generation; ≥ 1).
    pub record_count: usize,
    /// How many of them are assigned now.
    pub assigned_count: usize,
}

/// One partition's record: its generation and status (never
/// `KAT_STATUS_NONE` here).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct kat_partition_record_t {
    /// Times assigned (≥ 1).
    pub generation: u64,
    /// The partition number.
    pub partition: i32,
    /// Assigned, revoked or lost.
    pub status: kat_status,
}

fn group_at(s: &Snapshot, group_index: usize) -> FfiResult<&GroupView> {
    s.groups().get(group_index).map(|g| &**g).ok_or_else(|| {
        FfiError::new(
            kat_result::KAT_ERR_OUT_OF_RANGE,
            format!(
                "group index {group_index} is out of range (count {})",
                s.groups().len()
            ),
        )
    })
}

fn known_at(g: &GroupView, topic_index: usize) -> FfiResult<&TopicView> {
    g.known_topics()
        .get(topic_index)
        .map(|t| &**t)
        .ok_or_else(|| {
            FfiError::new(
                kat_result::KAT_ERR_OUT_OF_RANGE,
                format!(
                    "known topic index {topic_index} is out of range (count {})",
                    g.known_topics().len()
                ),
            )
        })
}

/// Writes how many topics group `group_index` has generations for (assigned
/// or not) in this snapshot. `KAT_ERR_OUT_OF_RANGE` past the last group.
///
/// Thread-safe; no allocation.
#[no_mangle]
pub unsafe extern "C" fn kat_snapshot_known_topic_count(
    snapshot: *const kat_snapshot_t,
    group_index: usize,
    out_count: *mut usize,
) -> kat_result {
    guard("kat_snapshot_known_topic_count", || {
        // SAFETY: checked; valid until `kat_snapshot_free`.
        let s = unsafe { arg(snapshot, "snapshot") }?;
        let o = out(out_count, "out_count")?;
        let g = group_at(s, group_index)?;
        // SAFETY: checked output slot.
        unsafe { write(o, g.known_topics().len()) };
        Ok(())
    })
}

/// Describes known topic `topic_index` of group `group_index` (sorted by
/// name; every topic with generations, assigned or not). No copy: the view
/// borrows from the snapshot. `KAT_ERR_OUT_OF_RANGE` past the end.
///
/// Thread-safe; no allocation.
#[no_mangle]
pub unsafe extern "C" fn kat_snapshot_known_topic(
    snapshot: *const kat_snapshot_t,
    group_index: usize,
    topic_index: usize,
    out_view: *mut kat_known_topic_view_t,
) -> kat_result {
    guard("kat_snapshot_known_topic", || {
        // SAFETY: checked; valid until `kat_snapshot_free`.
        let s = unsafe { arg(snapshot, "snapshot") }?;
        let o = out(out_view, "out_view")?;
        let t = known_at(group_at(s, group_index)?, topic_index)?;
        let view = kat_known_topic_view_t {
            group: t.group_name().with_nul().as_ptr().cast(),
            group_len: t.group().len(),
            name: t.topic_name().with_nul().as_ptr().cast(),
            name_len: t.name().len(),
            records_id: t.records().as_ptr().cast(),
            record_count: t.records().len(),
            assigned_count: t.partitions().len(),
        };
        // SAFETY: checked output slot.
        unsafe { write(o, view) };
        Ok(())
    })
}

/// Copies the records of known topic `topic_index` of group `group_index`,
/// sorted by partition, into `buf` (room for `cap` records) and writes their
/// number to `*out_count`. With `buf = NULL, cap = 0` only the number is
/// written; a `cap` below it is `KAT_ERR_BUFFER_TOO_SMALL` and writes nothing.
///
/// Thread-safe; no allocation.
#[no_mangle]
pub unsafe extern "C" fn kat_snapshot_known_topic_records(
    snapshot: *const kat_snapshot_t,
    group_index: usize,
    topic_index: usize,
    buf: *mut kat_partition_record_t,
    cap: usize,
    out_count: *mut usize,
) -> kat_result {
    guard("kat_snapshot_known_topic_records", || {
        // SAFETY: checked; valid until `kat_snapshot_free`.
        let s = unsafe { arg(snapshot, "snapshot") }?;
        let o = out(out_count, "out_count")?;
        let t = known_at(group_at(s, group_index)?, topic_index)?;
        let records = t.records();
        if buf.is_null() {
            if cap != 0 {
                return Err(super::null("buf"));
            }
        } else if cap < records.len() {
            return Err(FfiError::new(
                kat_result::KAT_ERR_BUFFER_TOO_SMALL,
                format!("need room for {} records, got {cap}", records.len()),
            ));
        } else {
            for (i, r) in records.iter().enumerate() {
                let rec = kat_partition_record_t {
                    generation: r.generation,
                    partition: r.partition,
                    status: Some(r.status).into(),
                };
                // SAFETY: `buf` is writable for `cap >= records.len()` records.
                unsafe { buf.add(i).write(rec) };
            }
        }
        // SAFETY: checked output slot.
        unsafe { write(o, records.len()) };
        Ok(())
    })
}
