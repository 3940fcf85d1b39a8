//! `kat_tracker_t`: creating, freeing and reading a tracker.

use std::ffi::c_char;
use std::sync::Arc;
use std::time::Duration;

use super::result::{guard, guard_value, kat_result, FfiError};
use super::{arg, group_name, out, topic, utf8, write};
use super::{kat_generations_t, kat_group_t, kat_snapshot_t, kat_tracker_t};
use crate::Tracker;

fn is_global(t: *const kat_tracker_t) -> bool {
    Tracker::global_if_created().is_some_and(|g| std::ptr::eq(t.cast::<Tracker>(), g))
}

/// Creates an empty tracker (generations limit 100 000). Never returns NULL.
/// Free it with `kat_tracker_free`; groups and snapshots taken from it stay
/// valid after that (they keep what they need alive).
///
/// Thread-safe. The tracker may be used from any number of threads at once.
#[no_mangle]
pub extern "C" fn kat_tracker_new() -> *mut kat_tracker_t {
    Box::into_raw(Box::new(Tracker::new())).cast()
}

/// Creates an empty tracker that keeps at most `generations_topics_limit`
/// (group, topic) generation entries (≥ 1; `KAT_ERR_INVALID_ARGUMENT`
/// otherwise). On success writes the new tracker to `*out`.
#[no_mangle]
pub unsafe extern "C" fn kat_tracker_new_with_limit(
    generations_topics_limit: usize,
    out_tracker: *mut *mut kat_tracker_t,
) -> kat_result {
    guard("kat_tracker_new_with_limit", || {
        let o = out(out_tracker, "out_tracker")?;
        if generations_topics_limit == 0 {
            return Err(FfiError::new(
                kat_result::KAT_ERR_INVALID_ARGUMENT,
                "generations_topics_limit must be at least 1",
            ));
        }
        let t = Tracker::with_generations_topics_limit(generations_topics_limit);
        // SAFETY: `o` is a checked, caller-provided output slot.
        unsafe { write(o, Box::into_raw(Box::new(t)).cast()) };
        Ok(())
    })
}

/// The process-wide tracker. Created on first call; lives until the process
/// exits; never NULL. Not `const`: events and settings may go through it like
/// through any tracker. `kat_tracker_free` on it is a no-op, so code that
/// frees "its" tracker may be handed the global one.
///
/// Thread-safe.
#[no_mangle]
pub extern "C" fn kat_tracker_global() -> *mut kat_tracker_t {
    std::ptr::from_ref(Tracker::global()).cast_mut().cast()
}

/// Frees a tracker made by `kat_tracker_new*`. NULL and the global tracker
/// are ignored. Groups, snapshots, generations and handles taken from it stay
/// valid (and keep its shared state alive until they are freed).
///
/// Not thread-safe with respect to other calls on the same pointer: free it
/// once, when no other thread uses this pointer.
#[no_mangle]
pub unsafe extern "C" fn kat_tracker_free(tracker: *mut kat_tracker_t) {
    guard_value("kat_tracker_free", (), || {
        if !tracker.is_null() && !is_global(tracker) {
            // SAFETY: a non-global, non-NULL tracker pointer came from
            // `Box::into_raw` in `kat_tracker_new*` and is freed once.
            drop(unsafe { Box::from_raw(tracker.cast::<Tracker>()) });
        }
        Ok(())
    })
}

/// Drops the calling thread's cached snapshots. Each thread that reads by
/// name keeps the last snapshot it read of up to four trackers; after a
/// tracker is freed, a thread's cached snapshot of it goes at that thread's
/// next read by name that finds a change, or at its exit, or at once with
/// this call (for a thread that will not read again for a long time). The
/// thread's next read by name loads the current snapshot again.
///
/// Thread-safe; acts on the calling thread only; never fails.
#[no_mangle]
pub extern "C" fn kat_release_thread_read_cache() {
    guard_value("kat_release_thread_read_cache", (), || {
        crate::release_thread_read_cache();
        Ok(())
    })
}

/// Gets the group called `name` (NUL-terminated UTF-8, 1..=1024 bytes),
/// creating it on first use. The same name always designates the same group,
/// so a consumer that is re-created keeps its generations. On success writes
/// a new group handle to `*out_group`; free it with `kat_group_free`.
///
/// Thread-safe; never blocks.
#[no_mangle]
pub unsafe extern "C" fn kat_tracker_group(
    tracker: *const kat_tracker_t,
    name: *const c_char,
    out_group: *mut *mut kat_group_t,
) -> kat_result {
    guard("kat_tracker_group", || {
        // SAFETY: pointer arguments are checked for NULL; the caller keeps
        // them valid during the call.
        let t = unsafe { arg(tracker, "tracker") }?;
        let name = unsafe { utf8(name, "name") }?;
        let o = out(out_group, "out_group")?;
        let g = t.group(name)?;
        // SAFETY: checked output slot.
        unsafe { write(o, Box::into_raw(Box::new(g)).cast()) };
        Ok(())
    })
}

/// Removes every assignment and every generation of every group. Handles
/// stay valid and read generation 0. Advances the epoch if anything was there.
///
/// Thread-safe; takes the writers' lock (never blocks readers).
#[no_mangle]
pub unsafe extern "C" fn kat_tracker_clear(tracker: *mut kat_tracker_t) -> kat_result {
    guard("kat_tracker_clear", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let t = unsafe { arg(tracker.cast_const(), "tracker") }?;
        // `clear` itself cannot say it could not apply (src/fork.rs).
        t.writable()?;
        t.clear();
        Ok(())
    })
}

/// Writes the current epoch (advances by one per changing event).
///
/// Thread-safe; wait-free.
#[no_mangle]
pub unsafe extern "C" fn kat_tracker_epoch(
    tracker: *const kat_tracker_t,
    out_epoch: *mut u64,
) -> kat_result {
    guard("kat_tracker_epoch", || {
        // SAFETY: checked for NULL; valid during the call.
        let t = unsafe { arg(tracker, "tracker") }?;
        let o = out(out_epoch, "out_epoch")?;
        // SAFETY: checked output slot.
        unsafe { write(o, t.epoch()) };
        Ok(())
    })
}

/// Waits until the epoch differs from `epoch` or `timeout_ms` milliseconds
/// pass, then writes the epoch of that moment (equal to `epoch` on timeout).
/// For monitoring threads, never for a hot path.
///
/// Thread-safe; blocks the calling thread only.
#[no_mangle]
pub unsafe extern "C" fn kat_tracker_wait_for_change(
    tracker: *const kat_tracker_t,
    epoch: u64,
    timeout_ms: u64,
    out_epoch: *mut u64,
) -> kat_result {
    guard("kat_tracker_wait_for_change", || {
        // SAFETY: checked for NULL; valid during the call.
        let t = unsafe { arg(tracker, "tracker") }?;
        let o = out(out_epoch, "out_epoch")?;
        let now = t.wait_for_change(epoch, Duration::from_millis(timeout_ms));
        // SAFETY: checked output slot.
        unsafe { write(o, now) };
        Ok(())
    })
}

/// Writes how many times `group` was assigned `topic`/`partition` (0 if never,
/// or evicted).
///
/// Thread-safe; wait-free; never allocates.
#[no_mangle]
pub unsafe extern "C" fn kat_tracker_generation(
    tracker: *const kat_tracker_t,
    group: *const c_char,
    topic_name: *const c_char,
    partition: i32,
    out_generation: *mut u64,
) -> kat_result {
    guard("kat_tracker_generation", || {
        // SAFETY: all pointers checked; valid during the call.
        let t = unsafe { arg(tracker, "tracker") }?;
        let g = unsafe { group_name(group) }?;
        let tp = unsafe { topic(topic_name, "topic") }?;
        crate::name::validate_partition(partition)?;
        let o = out(out_generation, "out_generation")?;
        // SAFETY: checked output slot.
        unsafe { write(o, t.generation(g, tp, partition)) };
        Ok(())
    })
}

/// Writes whether `group` owns `topic`/`partition` now.
///
/// Thread-safe; wait-free; never allocates.
#[no_mangle]
pub unsafe extern "C" fn kat_tracker_is_assigned(
    tracker: *const kat_tracker_t,
    group: *const c_char,
    topic_name: *const c_char,
    partition: i32,
    out_assigned: *mut bool,
) -> kat_result {
    guard("kat_tracker_is_assigned", || {
        // SAFETY: all pointers checked; valid during the call.
        let t = unsafe { arg(tracker, "tracker") }?;
        let g = unsafe { group_name(group) }?;
        let tp = unsafe { topic(topic_name, "topic") }?;
        crate::name::validate_partition(partition)?;
        let o = out(out_assigned, "out_assigned")?;
        // SAFETY: checked output slot.
        unsafe { write(o, t.is_assigned(g, tp, partition)) };
        Ok(())
    })
}

/// Takes the current snapshot: an immutable view that never changes while
/// held. Free it with `kat_snapshot_free`.
///
/// Thread-safe; wait-free (one atomic load and a reference count increment;
/// no allocation).
#[no_mangle]
pub unsafe extern "C" fn kat_tracker_snapshot(
    tracker: *const kat_tracker_t,
    out_snapshot: *mut *mut kat_snapshot_t,
) -> kat_result {
    guard("kat_tracker_snapshot", || {
        // SAFETY: checked for NULL; valid during the call.
        let t = unsafe { arg(tracker, "tracker") }?;
        let o = out(out_snapshot, "out_snapshot")?;
        // SAFETY: checked output slot; the pointer owns one reference.
        unsafe { write(o, Arc::into_raw(t.snapshot()).cast_mut().cast()) };
        Ok(())
    })
}

/// Copies every generation the tracker holds (revoked and lost included),
/// sorted by group, topic and partition. Free it with `kat_generations_free`.
///
/// Thread-safe; wait-free to take, allocates the copy.
#[no_mangle]
pub unsafe extern "C" fn kat_tracker_generations(
    tracker: *const kat_tracker_t,
    out_generations: *mut *mut kat_generations_t,
) -> kat_result {
    guard("kat_tracker_generations", || {
        // SAFETY: checked for NULL; valid during the call.
        let t = unsafe { arg(tracker, "tracker") }?;
        let o = out(out_generations, "out_generations")?;
        // SAFETY: checked output slot.
        unsafe { write(o, Box::into_raw(Box::new(t.generations())).cast()) };
        Ok(())
    })
}

/// Sets the bound on retained (group, topic) generation entries (≥ 1).
/// Evicts at once, least recently assigned first, if more are held.
///
/// Thread-safe; takes the writers' lock.
#[no_mangle]
pub unsafe extern "C" fn kat_tracker_set_generations_topics_limit(
    tracker: *mut kat_tracker_t,
    limit: usize,
) -> kat_result {
    guard("kat_tracker_set_generations_topics_limit", || {
        // SAFETY: checked for NULL; valid during the call.
        unsafe { arg(tracker.cast_const(), "tracker") }?.set_generations_topics_limit(limit)?;
        Ok(())
    })
}

/// Writes the bound on retained (group, topic) generation entries.
///
/// Thread-safe; takes the writers' lock briefly.
#[no_mangle]
pub unsafe extern "C" fn kat_tracker_generations_topics_limit(
    tracker: *const kat_tracker_t,
    out_limit: *mut usize,
) -> kat_result {
    guard("kat_tracker_generations_topics_limit", || {
        // SAFETY: checked for NULL; valid during the call.
        let t = unsafe { arg(tracker, "tracker") }?;
        let o = out(out_limit, "out_limit")?;
        t.writable()?;
        // SAFETY: checked output slot.
        unsafe { write(o, t.generations_topics_limit()) };
        Ok(())
    })
}
