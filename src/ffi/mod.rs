//! The C ABI. Nothing else in the crate knows about C.
//!
//! Conventions (also in the README and in `include/kat.h`):
//! - opaque handles with `_new`/`_free` pairs; `_free(NULL)` is a no-op;
//! - fallible functions return [`kat_result`] and write their outputs only on
//!   `KAT_OK`; the detail of the last failure is per thread
//!   ([`kat_last_error_message`]);
//! - every entry point checks its pointers and catches panics: nothing
//!   unwinds into C;
//! - strings in are NUL-terminated UTF-8 (the `_n` reads of `by_len.rs`
//!   take pointer + length); strings and arrays out are borrowed from the
//!   object they came from and live as long as it does;
//! - `const` handle arguments are only read through (or hand out something
//!   new: a group, a snapshot, a partition handle); events, settings and
//!   `_free` take non-const pointers, and every owned pointer kat hands out
//!   is non-const.
//!
//! # Safety
//! One contract covers every `unsafe extern "C"` function here, so it is
//! stated once instead of on each: every pointer argument is either NULL
//! (rejected with `KAT_ERR_NULL_POINTER`, or ignored by `_free`) or points to
//! a live object of the documented type — a handle obtained from kat and not
//! yet freed, a NUL-terminated string, or an array of the stated length —
//! for the duration of the call; output pointers are writable.
#![allow(clippy::missing_safety_doc)]
// The types and functions here carry their C names.
#![allow(non_camel_case_types)]

mod by_len;
mod generations;
mod group;
mod history;
mod known;
mod list;
mod metrics;
mod ownership;
mod partition;
mod result;
mod snapshot;
mod stats;
mod tracker;

pub use by_len::*;
pub use generations::*;
pub use group::*;
pub use history::*;
pub use known::*;
pub use list::*;
pub use metrics::*;
pub use ownership::*;
pub use partition::*;
pub use result::*;
pub use snapshot::*;
pub use stats::*;
pub use tracker::*;

use std::ffi::{c_char, CStr};

use crate::tracker::HandleCell;
use crate::{Generations, Group, Snapshot, Tracker};

use crate::name::topic_problem;
use result::{FfiError, FfiResult};

/// A tracker: the registry of which partitions each group of this process
/// owns and how many times each was assigned. Any number may exist; one per
/// process (`kat_tracker_global()`) is normal. Thread-safe: every function
/// on a tracker may be called from any thread at once (`const` marks the
/// ones that only read).
pub struct kat_tracker_t {
    _private: [u8; 0],
}

/// A group: one consumer membership (one `rd_kafka_t` in one consumer
/// group), got by name from a tracker. Rebalance events are recorded through
/// it. Several handles on the same name are the same group. Thread-safe;
/// owned by the caller (free with `kat_group_free`); keeps its tracker's
/// state alive.
pub struct kat_group_t {
    _private: [u8; 0],
}

/// An immutable view of the whole tracker at one epoch. Never changes while
/// held; names and partition arrays borrowed from it stay valid until
/// `kat_snapshot_free`. Thread-safe (read-only).
pub struct kat_snapshot_t {
    _private: [u8; 0],
}

/// A frozen copy of every generation (revoked and lost included), sorted by
/// group, topic and partition. Free with `kat_generations_free`. Read-only,
/// thread-safe.
pub struct kat_generations_t {
    _private: [u8; 0],
}

/// A long-lived handle on one (group, topic, partition) key whose state is
/// read with one atomic load (`kat_partition_handle_state`). Stays valid
/// after revocation, reassignment, `kat_tracker_clear` and the tracker's
/// free; while it lives its key is never evicted. Thread-safe; free with
/// `kat_partition_handle_free`.
pub struct kat_partition_handle_t {
    _private: [u8; 0],
}

/// Ties each opaque C handle type to the Rust object behind it.
pub(crate) trait Opaque {
    type Target;
}
impl Opaque for kat_tracker_t {
    type Target = Tracker;
}
impl Opaque for kat_group_t {
    type Target = Group;
}
impl Opaque for kat_snapshot_t {
    type Target = Snapshot;
}
impl Opaque for kat_generations_t {
    type Target = Generations;
}
impl Opaque for kat_partition_handle_t {
    type Target = HandleCell;
}

/// Borrows the object behind a required handle argument.
///
/// # Safety
/// `p` must be NULL or a live handle of its type, obtained from kat, for the
/// duration of the call.
#[inline]
pub(crate) unsafe fn arg<'a, T: Opaque>(p: *const T, name: &str) -> FfiResult<&'a T::Target> {
    // SAFETY: caller's contract: handles point to their Rust object.
    unsafe { p.cast::<T::Target>().as_ref() }.ok_or_else(|| null(name))
}

/// Checks an output pointer.
#[inline]
pub(crate) fn out<T>(p: *mut T, name: &str) -> FfiResult<*mut T> {
    if p.is_null() {
        Err(null(name))
    } else {
        Ok(p)
    }
}

/// Writes an output (only ever called once the call has succeeded).
///
/// # Safety
/// `p` must be a valid, writable, aligned pointer to `T` (checked non-NULL).
#[inline]
pub(crate) unsafe fn write<T>(p: *mut T, value: T) {
    // SAFETY: caller's contract; `ptr::write` does not read or drop the old
    // (possibly uninitialised) value.
    unsafe { p.write(value) }
}

pub(crate) fn null(name: &str) -> FfiError {
    FfiError::new(
        kat_result::KAT_ERR_NULL_POINTER,
        format!("argument `{name}` is NULL"),
    )
}

/// Borrows a NUL-terminated UTF-8 string argument.
///
/// # Safety
/// `p` must be NULL or point to a NUL-terminated string that stays valid for
/// the call.
pub(crate) unsafe fn utf8<'a>(p: *const c_char, name: &str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(null(name));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|e| {
        FfiError::new(
            kat_result::KAT_ERR_INVALID_UTF8,
            format!(
                "argument `{name}` is not valid UTF-8 (bad byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// Borrows and checks a group name argument: UTF-8, 1..=1024 bytes.
///
/// # Safety
/// As [`utf8`].
#[inline]
pub(crate) unsafe fn group_name<'a>(p: *const c_char) -> FfiResult<&'a str> {
    // SAFETY: per the caller's contract.
    let name = unsafe { utf8(p, "group") }?;
    crate::name::validate_group(name)?;
    Ok(name)
}

/// Borrows and checks a topic name argument in one pass (legal topic names
/// are ASCII, so a legal name is valid UTF-8).
///
/// # Safety
/// As [`utf8`].
#[inline]
pub(crate) unsafe fn topic<'a>(p: *const c_char, name: &str) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(null(name));
    }
    // SAFETY: non-NULL and NUL-terminated per the caller's contract.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    topic_bytes(bytes)
}

/// Checks topic bytes and views them as `&str`.
#[inline]
pub(crate) fn topic_bytes(bytes: &[u8]) -> FfiResult<&str> {
    if let Some(why) = topic_problem(bytes) {
        return Err(FfiError::new(kat_result::KAT_ERR_INVALID_TOPIC, why));
    }
    // Legal topic names are ASCII, hence UTF-8; this cannot fail.
    std::str::from_utf8(bytes)
        .map_err(|_| FfiError::new(kat_result::KAT_ERR_INVALID_TOPIC, "topic is not UTF-8"))
}

/// Copies `text` plus a NUL into a caller buffer, snprintf-style.
///
/// `*out_len` receives `text.len()` (the length without the NUL) on success
/// and also on `KAT_ERR_BUFFER_TOO_SMALL`, so that one call tells the caller
/// how much to allocate: the text fits when `cap >= *out_len + 1`.
/// `buf == NULL && cap == 0` only reports the length (and succeeds).
///
/// # Safety
/// `buf` must be NULL or writable for `cap` bytes; `out_len` must be writable.
pub(crate) unsafe fn copy_out(
    text: &str,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> FfiResult {
    let out_len = out(out_len, "out_len")?;
    if buf.is_null() {
        if cap != 0 {
            return Err(null("buf"));
        }
        // SAFETY: checked non-NULL above.
        unsafe { write(out_len, text.len()) };
        return Ok(());
    }
    if cap <= text.len() {
        // SAFETY: checked non-NULL above. The one output written on this
        // error, as documented on every function that copies text out.
        unsafe { write(out_len, text.len()) };
        return Err(FfiError::new(
            kat_result::KAT_ERR_BUFFER_TOO_SMALL,
            format!(
                "the text is {} bytes and needs a buffer of {} (with the NUL), got {cap}; \
                 its length was written to out_len",
                text.len(),
                text.len() + 1
            ),
        ));
    }
    // SAFETY: `buf` is writable for `cap > text.len()` bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        *buf.add(text.len()) = 0;
        write(out_len, text.len());
    }
    Ok(())
}
