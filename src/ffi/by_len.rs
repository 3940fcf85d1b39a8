//! Reads by name with names passed as pointer + length: no NUL terminator
//! needed and nothing copied, for bindings whose strings carry their length
//! (Ruby, C++ `std::string_view`, Python, Go). The names are checked exactly
//! as the NUL-terminated entry points check them, over all `len` bytes: an
//! embedded NUL or invalid UTF-8 is an error, never a shorter name.
//!
//! A NULL name pointer with length 0 is the empty name (which is then
//! rejected as an invalid group or topic name); a NULL pointer with a
//! non-zero length is `KAT_ERR_NULL_POINTER`.

use std::ffi::c_char;

use super::result::{guard, kat_result, FfiError, FfiResult};
use super::{arg, null, out, write};
use super::{kat_group_t, kat_partition_handle_t, kat_tracker_t};
use crate::name::topic_problem;

/// Borrows `len` bytes at `p`.
///
/// # Safety
/// `p` must be NULL or readable for `len` bytes during `'a`.
#[inline]
unsafe fn bytes<'a>(p: *const c_char, len: usize, name: &str) -> FfiResult<&'a [u8]> {
    if p.is_null() {
        return if len == 0 { Ok(&[]) } else { Err(null(name)) };
    }
    if len > isize::MAX as usize {
        return Err(FfiError::new(
            kat_result::KAT_ERR_INVALID_ARGUMENT,
            format!("argument `{name}_len` ({len}) is larger than any object can be"),
        ));
    }
    // SAFETY: non-NULL, readable for `len` bytes per the caller's contract,
    // and `len` fits an allocation.
    Ok(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) })
}

/// Borrows and checks a group name given as pointer + length: UTF-8,
/// 1..=1024 bytes, no NUL byte.
///
/// # Safety
/// As [`bytes`].
#[inline]
unsafe fn group_name_n<'a>(p: *const c_char, len: usize, name: &str) -> FfiResult<&'a str> {
    if !p.is_null() && len > crate::name::MAX_GROUP_NAME_LEN && len <= isize::MAX as usize {
        // Too long for a group name: refused before any byte is read (the
        // UTF-8 check would otherwise read `len` bytes first).
        return Err(FfiError::new(
            kat_result::KAT_ERR_INVALID_GROUP,
            format!(
                "group name is {len} bytes long, the limit is {}",
                crate::name::MAX_GROUP_NAME_LEN
            ),
        ));
    }
    // SAFETY: per the caller's contract.
    let b = unsafe { bytes(p, len, name) }?;
    let s = std::str::from_utf8(b).map_err(|e| {
        FfiError::new(
            kat_result::KAT_ERR_INVALID_UTF8,
            format!(
                "argument `{name}` is not valid UTF-8 (bad byte at offset {})",
                e.valid_up_to()
            ),
        )
    })?;
    crate::name::validate_group(s)?;
    Ok(s)
}

/// Borrows and checks a topic name given as pointer + length (Kafka's rules;
/// a NUL byte is an illegal byte like any other).
///
/// # Safety
/// As [`bytes`].
#[inline]
unsafe fn topic_n<'a>(p: *const c_char, len: usize, name: &str) -> FfiResult<&'a str> {
    // SAFETY: per the caller's contract.
    let b = unsafe { bytes(p, len, name) }?;
    if let Some(why) = topic_problem(b) {
        return Err(FfiError::new(kat_result::KAT_ERR_INVALID_TOPIC, why));
    }
    // SAFETY: `topic_problem` accepts only the bytes [A-Za-z0-9._-], which are
    // ASCII and hence valid UTF-8 (a second UTF-8 pass would cost as much as
    // the check itself on this hot path).
    Ok(unsafe { std::str::from_utf8_unchecked(b) })
}

/// `kat_tracker_group` with the name as pointer + length (`name` need not be
/// NUL-terminated; all `name_len` bytes are the name, checked as UTF-8 of
/// 1..=1024 bytes without a NUL byte). On success writes a new group handle
/// to `*out_group`; free it with `kat_group_free`. `name` is only read during
/// the call.
///
/// Thread-safe; never blocks; allocates the handle.
#[no_mangle]
pub unsafe extern "C" fn kat_tracker_group_n(
    tracker: *const kat_tracker_t,
    name: *const c_char,
    name_len: usize,
    out_group: *mut *mut kat_group_t,
) -> kat_result {
    guard("kat_tracker_group_n", || {
        // SAFETY: pointers checked; valid during the call per the contract.
        let t = unsafe { arg(tracker, "tracker") }?;
        let name = unsafe { group_name_n(name, name_len, "name") }?;
        let o = out(out_group, "out_group")?;
        let g = t.group(name)?;
        // SAFETY: checked output slot.
        unsafe { write(o, Box::into_raw(Box::new(g)).cast()) };
        Ok(())
    })
}

/// `kat_tracker_generation` with group and topic as pointer + length: writes
/// how many times `group` was assigned `topic`/`partition` (0 if never, or
/// evicted). Names are only read during the call.
///
/// Thread-safe; wait-free; never allocates (unless it fails).
#[no_mangle]
pub unsafe extern "C" fn kat_tracker_generation_n(
    tracker: *const kat_tracker_t,
    group: *const c_char,
    group_len: usize,
    topic: *const c_char,
    topic_len: usize,
    partition: i32,
    out_generation: *mut u64,
) -> kat_result {
    guard("kat_tracker_generation_n", || {
        // SAFETY: pointers checked; valid during the call per the contract.
        let t = unsafe { arg(tracker, "tracker") }?;
        let g = unsafe { group_name_n(group, group_len, "group") }?;
        let tp = unsafe { topic_n(topic, topic_len, "topic") }?;
        crate::name::validate_partition(partition)?;
        let o = out(out_generation, "out_generation")?;
        // SAFETY: checked output slot.
        unsafe { write(o, t.generation(g, tp, partition)) };
        Ok(())
    })
}

/// `kat_tracker_is_assigned` with group and topic as pointer + length:
/// writes whether `group` owns `topic`/`partition` now.
///
/// Thread-safe; wait-free; never allocates (unless it fails).
#[no_mangle]
pub unsafe extern "C" fn kat_tracker_is_assigned_n(
    tracker: *const kat_tracker_t,
    group: *const c_char,
    group_len: usize,
    topic: *const c_char,
    topic_len: usize,
    partition: i32,
    out_assigned: *mut bool,
) -> kat_result {
    guard("kat_tracker_is_assigned_n", || {
        // SAFETY: pointers checked; valid during the call per the contract.
        let t = unsafe { arg(tracker, "tracker") }?;
        let g = unsafe { group_name_n(group, group_len, "group") }?;
        let tp = unsafe { topic_n(topic, topic_len, "topic") }?;
        crate::name::validate_partition(partition)?;
        let o = out(out_assigned, "out_assigned")?;
        // SAFETY: checked output slot.
        unsafe { write(o, t.is_assigned(g, tp, partition)) };
        Ok(())
    })
}

/// `kat_group_generation` with the topic as pointer + length: writes how
/// many times this group was assigned `topic`/`partition` (0 if never).
///
/// Thread-safe; wait-free; never allocates (unless it fails).
#[no_mangle]
pub unsafe extern "C" fn kat_group_generation_n(
    group: *const kat_group_t,
    topic: *const c_char,
    topic_len: usize,
    partition: i32,
    out_generation: *mut u64,
) -> kat_result {
    guard("kat_group_generation_n", || {
        // SAFETY: pointers checked; valid during the call per the contract.
        let g = unsafe { arg(group, "group") }?;
        let tp = unsafe { topic_n(topic, topic_len, "topic") }?;
        crate::name::validate_partition(partition)?;
        let o = out(out_generation, "out_generation")?;
        // SAFETY: checked output slot.
        unsafe { write(o, g.generation(tp, partition)) };
        Ok(())
    })
}

/// `kat_group_is_assigned` with the topic as pointer + length: writes
/// whether this group owns `topic`/`partition` now.
///
/// Thread-safe; wait-free; never allocates (unless it fails).
#[no_mangle]
pub unsafe extern "C" fn kat_group_is_assigned_n(
    group: *const kat_group_t,
    topic: *const c_char,
    topic_len: usize,
    partition: i32,
    out_assigned: *mut bool,
) -> kat_result {
    guard("kat_group_is_assigned_n", || {
        // SAFETY: pointers checked; valid during the call per the contract.
        let g = unsafe { arg(group, "group") }?;
        let tp = unsafe { topic_n(topic, topic_len, "topic") }?;
        crate::name::validate_partition(partition)?;
        let o = out(out_assigned, "out_assigned")?;
        // SAFETY: checked output slot.
        unsafe { write(o, g.is_assigned(tp, partition)) };
        Ok(())
    })
}

/// `kat_group_partition` with the topic as pointer + length: writes a new
/// handle on `topic`/`partition` of this group (which need not be assigned
/// yet). Free it with `kat_partition_handle_free`.
///
/// Thread-safe; takes the writers' lock and allocates the first time a key
/// gets a handle.
#[no_mangle]
pub unsafe extern "C" fn kat_group_partition_n(
    group: *const kat_group_t,
    topic: *const c_char,
    topic_len: usize,
    partition: i32,
    out_handle: *mut *mut kat_partition_handle_t,
) -> kat_result {
    guard("kat_group_partition_n", || {
        // SAFETY: pointers checked; valid during the call per the contract.
        let g = unsafe { arg(group, "group") }?;
        let tp = unsafe { topic_n(topic, topic_len, "topic") }?;
        let o = out(out_handle, "out_handle")?;
        let h = g.partition(tp, partition)?;
        // SAFETY: checked output slot; the pointer owns one reference.
        unsafe { write(o, h.into_raw().cast_mut().cast()) };
        Ok(())
    })
}
