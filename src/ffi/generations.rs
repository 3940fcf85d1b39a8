//! `kat_generations_t`: a frozen copy of every generation.

use std::ffi::c_char;

use super::kat_generations_t;
use super::partition::kat_status;
use super::result::{guard, guard_value, kat_result, FfiError};
use super::{arg, copy_out, out, write};
use crate::Generations;

/// One key of a generations list. Names are borrowed from the list and valid
/// until `kat_generations_free`.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct kat_generation_entry_t {
    /// NUL-terminated group name.
    pub group: *const c_char,
    /// Its length in bytes.
    pub group_len: usize,
    /// NUL-terminated topic name.
    pub topic: *const c_char,
    /// Its length in bytes.
    pub topic_len: usize,
    /// The partition.
    pub partition: i32,
    /// Times assigned (≥ 1).
    pub generation: u64,
    /// Assigned, revoked or lost.
    pub status: kat_status,
}

/// Frees a generations list. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn kat_generations_free(generations: *mut kat_generations_t) {
    guard_value("kat_generations_free", (), || {
        if !generations.is_null() {
            // SAFETY: came from `Box::into_raw` in `kat_tracker_generations`.
            drop(unsafe { Box::from_raw(generations.cast::<Generations>()) });
        }
        Ok(())
    })
}

/// Writes the number of entries.
#[no_mangle]
pub unsafe extern "C" fn kat_generations_count(
    generations: *const kat_generations_t,
    out_count: *mut usize,
) -> kat_result {
    guard("kat_generations_count", || {
        // SAFETY: checked; valid until freed.
        let g = unsafe { arg(generations, "generations") }?;
        let o = out(out_count, "out_count")?;
        // SAFETY: checked output slot.
        unsafe { write(o, g.len()) };
        Ok(())
    })
}

/// Writes the epoch the list was taken at.
#[no_mangle]
pub unsafe extern "C" fn kat_generations_epoch(
    generations: *const kat_generations_t,
    out_epoch: *mut u64,
) -> kat_result {
    guard("kat_generations_epoch", || {
        // SAFETY: checked; valid until freed.
        let g = unsafe { arg(generations, "generations") }?;
        let o = out(out_epoch, "out_epoch")?;
        // SAFETY: checked output slot.
        unsafe { write(o, g.epoch()) };
        Ok(())
    })
}

/// Describes entry `index` (sorted by group, topic, partition).
/// `KAT_ERR_OUT_OF_RANGE` past the end.
#[no_mangle]
pub unsafe extern "C" fn kat_generations_get(
    generations: *const kat_generations_t,
    index: usize,
    out_entry: *mut kat_generation_entry_t,
) -> kat_result {
    guard("kat_generations_get", || {
        // SAFETY: checked; valid until freed.
        let g = unsafe { arg(generations, "generations") }?;
        let o = out(out_entry, "out_entry")?;
        let e = g.get(index).ok_or_else(|| {
            FfiError::new(
                kat_result::KAT_ERR_OUT_OF_RANGE,
                format!("index {index} is out of range (count {})", g.len()),
            )
        })?;
        let entry = kat_generation_entry_t {
            group: e.group_name().with_nul().as_ptr().cast(),
            group_len: e.group().len(),
            topic: e.topic_name().with_nul().as_ptr().cast(),
            topic_len: e.topic().len(),
            partition: e.partition,
            generation: e.generation,
            status: Some(e.status).into(),
        };
        // SAFETY: checked output slot.
        unsafe { write(o, entry) };
        Ok(())
    })
}

/// Copies the list as JSON into `buf` (NUL-terminated):
/// `{"epoch":N,"groups":{"group":{"topic":{"partition":{"generation":G,"status":"revoked"}}}}}`.
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
pub unsafe extern "C" fn kat_generations_to_json(
    generations: *const kat_generations_t,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> kat_result {
    guard("kat_generations_to_json", || {
        // SAFETY: checked; valid until freed.
        let g = unsafe { arg(generations, "generations") }?;
        // SAFETY: `buf` writable for `cap` bytes per the contract.
        unsafe { copy_out(&g.to_json(), buf, cap, out_len) }
    })
}
