//! Rebalance glue for Rust programs built on `rdkafka-sys` (feature `rdkafka`).
//!
//! The same behaviour as the C header `include/kat_rdkafka.h` (README: "Using
//! kat from a librdkafka C/C++ consumer"), for consumers that drive librdkafka
//! through `rdkafka-sys`, directly or through rust-rdkafka:
//!
//! | entry point | use it when |
//! |---|---|
//! | [`rebalance`] | you have your own rebalance callback (or a rust-rdkafka `ConsumerContext::rebalance` override) |
//! | [`rebalance_cb`] | you want a ready `rebalance_cb` whose opaque is a `*const Group` |
//! | [`rebalance_event`] | you poll `RD_KAFKA_EVENT_REBALANCE` events from a queue |
//! | [`check_lost`] | once per poll, to record a loss librdkafka has not delivered yet (and to mark the poll) |
//! | [`record_broker`] | to refresh the broker generation in fencing tokens outside a rebalance |
//! | [`set_poll_deadline`] | once, to let kat expire the group when the poll loop stops for `max.poll.interval.ms` |
//!
//! What a rebalance does, per protocol (read once per call with
//! `rd_kafka_rebalance_protocol()`; KIP-848 `group.protocol=consumer` reports
//! `COOPERATIVE`):
//!
//! | `err` | EAGER | COOPERATIVE |
//! |---|---|---|
//! | `_ASSIGN_PARTITIONS` | `rd_kafka_assign(list)`, then [`Group::replace`] | `rd_kafka_incremental_assign(list)`, then [`Group::assigned`] |
//! | `_REVOKE_PARTITIONS` | `rd_kafka_assign(NULL)`, then [`Group::revoked`] | `rd_kafka_incremental_unassign(list)`, then [`Group::revoked`] |
//! | `_REVOKE_PARTITIONS`, assignment lost | as above, then [`Group::lost`] | as above, then [`Group::lost`] |
//! | anything else | `rd_kafka_assign(NULL)`, then [`Group::lost`] | the same |
//!
//! Exactly one assign call is made per rebalance. Whether the assignment was
//! lost is read *before* unassigning (unassigning clears the flag). The
//! tracker is written only after librdkafka accepted the assign call; when it
//! refused, the tracker is left as it was — which is the state librdkafka is
//! still in — and the refusal is returned as [`RebalanceError::Rdkafka`].
//!
//! # Threads
//! librdkafka runs a rebalance callback on the application thread that polls
//! the consumer (`rd_kafka_consumer_poll`, `rd_kafka_poll`,
//! `rd_kafka_queue_poll` on the consumer queue, or `rd_kafka_consumer_close`),
//! never on its own background threads; the functions here run on that
//! thread. Readers of the tracker on any other thread see each rebalance
//! atomically: all of it or none of it.
//!
//! # Cost
//! A rebalance costs one round trip to librdkafka's main thread for the
//! protocol, the assign call itself, and one tracker write (the writer lock
//! and a copy of the touched group's topics). [`check_lost`] costs one atomic
//! load when nothing is lost.
//!
//! # Linking
//! None of this is exported to C (no `#[no_mangle]`): `libkat.so` and
//! `libkat.a` never contain or call librdkafka. This module links the
//! librdkafka that `rdkafka-sys` brings, which must be the only one in the
//! process — the same one rust-rdkafka uses.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;

use rdkafka_sys::{
    rd_kafka_assign, rd_kafka_assignment_lost, rd_kafka_err2str, rd_kafka_error_code,
    rd_kafka_error_destroy, rd_kafka_error_string, rd_kafka_error_t, rd_kafka_event_error,
    rd_kafka_event_t, rd_kafka_event_topic_partition_list, rd_kafka_event_type,
    rd_kafka_incremental_assign, rd_kafka_incremental_unassign, rd_kafka_rebalance_protocol,
    rd_kafka_resp_err_t, rd_kafka_t, rd_kafka_topic_partition_list_t, RD_KAFKA_EVENT_REBALANCE,
};

use crate::error::{Error, ErrorKind};
use crate::ffi::{kat_result, kat_set_last_error_message, read_rdkafka_list};
use crate::Group;

/// The rebalance protocol librdkafka reported for the consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// Stop-the-world rebalancing (`range`, `roundrobin`): every assign
    /// replaces the whole assignment.
    Eager,
    /// Incremental rebalancing (`cooperative-sticky`, and KIP-848
    /// `group.protocol=consumer`): assign and revoke lists are deltas.
    Cooperative,
}

/// What a rebalance recorded in the tracker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Recorded {
    /// A cooperative assign: [`Group::assigned`] with the delta.
    Assigned,
    /// An eager assign: [`Group::replace`] with the whole new assignment.
    Replaced,
    /// An orderly revoke: [`Group::revoked`] with the listed partitions.
    Revoked,
    /// The assignment was lost (a lost revoke, or a rebalance error):
    /// [`Group::lost`].
    Lost,
}

/// The outcome of a rebalance that librdkafka and the tracker both accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rebalanced {
    /// The protocol the assign call followed.
    pub protocol: Protocol,
    /// The tracker event that was applied.
    pub recorded: Recorded,
    /// Whether the event changed the tracker (false for an empty
    /// cooperative list, or a loss when nothing was assigned).
    pub changed: bool,
}

/// Why a rebalance was not recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebalanceError {
    /// librdkafka refused the assign call. Neither librdkafka's assignment
    /// nor the tracker changed.
    Rdkafka {
        /// The librdkafka function that failed, e.g. `rd_kafka_incremental_assign`.
        call: &'static str,
        /// Its error code.
        code: rd_kafka_resp_err_t,
        /// librdkafka's description of the error.
        message: String,
    },
    /// librdkafka accepted the assign call but kat rejected the partition
    /// list (a NULL list, a malformed one, or an illegal topic name); the
    /// tracker did not change. librdkafka never delivers such lists.
    Kat(Error),
}

impl fmt::Display for RebalanceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RebalanceError::Rdkafka {
                call,
                code,
                message,
            } => write!(f, "{call} failed: {message} ({code:?})"),
            RebalanceError::Kat(e) => write!(f, "kat rejected the partition list: {e}"),
        }
    }
}

impl std::error::Error for RebalanceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RebalanceError::Kat(e) => Some(e),
            RebalanceError::Rdkafka { .. } => None,
        }
    }
}

impl From<Error> for RebalanceError {
    fn from(e: Error) -> RebalanceError {
        RebalanceError::Kat(e)
    }
}

/// Applies one rebalance: makes the assign call librdkafka requires for the
/// consumer's protocol, then records it in `group` (see the
/// [module table](self)).
///
/// Call it from your rebalance callback (it runs on the thread polling the
/// consumer) with the callback's arguments, once per callback, and make no
/// other assign call for that callback. Cost: one protocol query (a round
/// trip to librdkafka's main thread), the assign call and one tracker write.
///
/// Inside the callback that `rd_kafka_consumer_close` runs for the final
/// revoke, make no librdkafka call that asks the consumer group handler
/// something (`rd_kafka_assignment`, `rd_kafka_rebalance_protocol`, another
/// assign) *after* this function: once the final unassign is done the
/// handler terminates, and such calls never return (librdkafka 2.12). This
/// function makes its protocol query before its assign call.
///
/// # Errors
/// [`RebalanceError::Rdkafka`] when librdkafka refused the assign call (the
/// tracker is unchanged, like librdkafka's assignment);
/// [`RebalanceError::Kat`] when kat rejected the list after librdkafka
/// accepted it (cannot happen with lists librdkafka delivers). Either way
/// the failure is also counted in the group's
/// [`glue_failures`](Group::glue_failures).
///
/// # Safety
/// `rk` must be a live consumer handle and `partitions` NULL or a live
/// partition list — in practice, exactly the arguments librdkafka passed to
/// the rebalance callback, used before the callback returns.
pub unsafe fn rebalance(
    group: &Group,
    rk: *mut rd_kafka_t,
    err: rd_kafka_resp_err_t,
    partitions: *mut rd_kafka_topic_partition_list_t,
) -> Result<Rebalanced, RebalanceError> {
    // SAFETY: the caller's contract, passed on unchanged.
    let result = unsafe { apply(group, rk, err, partitions) };
    if let Err(e) = &result {
        // Counted per group ([`Group::glue_failures`]): a ready callback
        // has no other way to make its failures observable.
        group.record_glue_failure();
        if let RebalanceError::Rdkafka { .. } = e {
            // The group's rebalance history keeps the refusal (monitoring).
            group.note_rebalance_error(&e.to_string());
        }
    }
    result
}

/// The body of [`rebalance`] (which counts its failures).
///
/// # Safety
/// As [`rebalance`].
unsafe fn apply(
    group: &Group,
    rk: *mut rd_kafka_t,
    err: rd_kafka_resp_err_t,
    partitions: *mut rd_kafka_topic_partition_list_t,
) -> Result<Rebalanced, RebalanceError> {
    use rd_kafka_resp_err_t::{
        RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS,
    };

    // A rebalance is served inside a poll: it counts as one.
    group.mark_poll();
    // SAFETY: `rk` is a live handle (caller's contract).
    let protocol = unsafe { protocol_of(rk) };
    let cooperative = protocol == Protocol::Cooperative;
    group.note_rebalance_protocol(cooperative);
    match err {
        RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
            if cooperative {
                // SAFETY: live handle and NULL-or-live list (caller's contract).
                unsafe {
                    incremental(
                        "rd_kafka_incremental_assign",
                        rd_kafka_incremental_assign(rk, partitions),
                    )
                }?;
                // SAFETY: live handle.
                unsafe { record_broker(group, rk) };
                // SAFETY: the list is NULL or live until the callback returns.
                let list = unsafe { read_list(partitions) }?;
                let changed = group.assigned(list)?;
                Ok(Rebalanced {
                    protocol,
                    recorded: Recorded::Assigned,
                    changed,
                })
            } else {
                // SAFETY: as above.
                unsafe { eager("rd_kafka_assign", rd_kafka_assign(rk, partitions)) }?;
                // SAFETY: live handle.
                unsafe { record_broker(group, rk) };
                // SAFETY: as above.
                let list = unsafe { read_list(partitions) }?;
                let changed = group.replace(list)?;
                Ok(Rebalanced {
                    protocol,
                    recorded: Recorded::Replaced,
                    changed,
                })
            }
        }
        RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS => {
            // Read before unassigning: unassigning clears the flag.
            // SAFETY: live handle.
            let lost = unsafe { rd_kafka_assignment_lost(rk) } != 0;
            if !lost {
                // The drain barrier (Group::set_drain_timeout; nothing when
                // off): records the revoke now and waits for leases.
                // A malformed list is reported when the revoke is recorded,
                // after the unassign call that must happen in any case.
                // SAFETY: the list is NULL or live until the callback returns.
                if let Ok(list) = unsafe { read_list(partitions) } {
                    let _ = group.drain(list);
                }
            }
            if cooperative {
                // SAFETY: live handle and NULL-or-live list.
                unsafe {
                    incremental(
                        "rd_kafka_incremental_unassign",
                        rd_kafka_incremental_unassign(rk, partitions),
                    )
                }?;
            } else {
                // SAFETY: live handle; NULL means "unassign everything".
                unsafe { eager("rd_kafka_assign", rd_kafka_assign(rk, ptr::null())) }?;
            }
            if lost {
                let changed = group.lost();
                Ok(Rebalanced {
                    protocol,
                    recorded: Recorded::Lost,
                    changed,
                })
            } else {
                // SAFETY: the list is NULL or live until the callback returns.
                let list = unsafe { read_list(partitions) }?;
                let changed = group.revoked(list)?;
                Ok(Rebalanced {
                    protocol,
                    recorded: Recorded::Revoked,
                    changed,
                })
            }
        }
        _ => {
            // SAFETY: live handle; NULL means "unassign everything".
            unsafe { eager("rd_kafka_assign", rd_kafka_assign(rk, ptr::null())) }?;
            let changed = group.lost();
            Ok(Rebalanced {
                protocol,
                recorded: Recorded::Lost,
                changed,
            })
        }
    }
}

/// A ready `rebalance_cb` for `rd_kafka_conf_set_rebalance_cb`, whose opaque
/// (`rd_kafka_conf_set_opaque`) is a `*const Group`.
///
/// It runs [`rebalance`] and, on failure, makes the error the calling
/// thread's last error (`kat_last_error_message()`, as the C glue does); a
/// callback has no way to return it. A NULL opaque only makes the assign call
/// librdkafka requires and records nothing. It never unwinds into
/// librdkafka.
///
/// ```no_run
/// # use rdkafka_sys::*;
/// # use std::ffi::c_void;
/// # unsafe fn setup(conf: *mut rd_kafka_conf_t, group: &'static kat::Group) {
/// unsafe {
///     rd_kafka_conf_set_opaque(conf, group as *const kat::Group as *mut c_void);
///     rd_kafka_conf_set_rebalance_cb(conf, Some(kat::rdkafka::rebalance_cb));
/// }
/// # }
/// ```
///
/// # Safety
/// Called by librdkafka only. The `Group` behind `opaque` must stay alive,
/// at the same address, until the consumer is destroyed
/// (`rd_kafka_destroy` returned): the final revoke runs inside
/// `rd_kafka_consumer_close`. Box it, keep it in an `Arc` the consumer's
/// owner holds, or use a `'static` one. The opaque is the client's only one,
/// shared with every other callback of that `rd_kafka_t`.
pub unsafe extern "C" fn rebalance_cb(
    rk: *mut rd_kafka_t,
    err: rd_kafka_resp_err_t,
    partitions: *mut rd_kafka_topic_partition_list_t,
    opaque: *mut c_void,
) {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: the opaque is NULL or a live `Group` (contract above).
        match unsafe { (opaque as *const Group).as_ref() } {
            // SAFETY: librdkafka's own callback arguments, used during the callback.
            Some(group) => unsafe { rebalance(group, rk, err, partitions) }.map(|_| ()),
            // SAFETY: as above.
            None => unsafe { apply_without_group(rk, err, partitions) },
        }
    }));
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(e)) => record_message(&e.to_string()),
        Err(_) => record_message("panic while applying a rebalance"),
    }
}

/// Applies an `RD_KAFKA_EVENT_REBALANCE` event, for consumers on the event
/// API (`rd_kafka_conf_set_events(conf, RD_KAFKA_EVENT_REBALANCE)` and a
/// consumer queue polled with `rd_kafka_queue_poll`): takes the event's error
/// code and partition list and runs [`rebalance`].
///
/// Returns `Ok(None)` and does nothing for any other event type. The event
/// stays the caller's: destroy it afterwards with `rd_kafka_event_destroy`.
/// Runs on the thread that polled the event; costs what [`rebalance`] costs.
///
/// # Errors
/// As [`rebalance`].
///
/// # Safety
/// `rk` must be the live consumer the event came from and `ev` a live event,
/// not yet destroyed.
pub unsafe fn rebalance_event(
    group: &Group,
    rk: *mut rd_kafka_t,
    ev: *mut rd_kafka_event_t,
) -> Result<Option<Rebalanced>, RebalanceError> {
    // SAFETY: live event (caller's contract).
    if unsafe { rd_kafka_event_type(ev) } != RD_KAFKA_EVENT_REBALANCE as c_int {
        return Ok(None);
    }
    // SAFETY: live event; the list it returns lives as long as the event.
    let (err, partitions) = unsafe {
        (
            rd_kafka_event_error(ev),
            rd_kafka_event_topic_partition_list(ev),
        )
    };
    // SAFETY: live consumer; the list lives until the caller destroys `ev`.
    unsafe { rebalance(group, rk, err, partitions) }.map(Some)
}

/// Records a loss librdkafka knows of but has not delivered yet: when
/// `rd_kafka_assignment_lost(rk)` is true (session timed out, fenced,
/// `max.poll.interval.ms` exceeded), the group's partitions become `lost`
/// now, before the lost revoke arrives through the callback.
///
/// Meant for every iteration of a poll loop: when nothing is lost it costs
/// one atomic load (no lock, no allocation, no tracker access); when lost,
/// a wait-free tracker read and, the first time, one tracker write. Returns
/// whether librdkafka reports the assignment lost. Any thread may call it.
///
/// It is also the poll mark of kat's poll deadline ([`set_poll_deadline`]):
/// call it after every poll when a deadline is armed (one monotonic clock
/// read and two atomic operations more).
///
/// # Safety
/// `rk` must be a live consumer handle.
pub unsafe fn check_lost(group: &Group, rk: *mut rd_kafka_t) -> bool {
    group.mark_poll();
    if group.broker_refresh_due() {
        // SAFETY: live handle (caller's contract).
        unsafe { record_broker(group, rk) };
    }
    // SAFETY: live handle (caller's contract).
    if unsafe { rd_kafka_assignment_lost(rk) } == 0 {
        return false;
    }
    let owns_something = group
        .tracker()
        .peek()
        .group(group.name())
        .is_some_and(|g| g.partition_count() > 0);
    if owns_something {
        group.lost();
    }
    true
}

/// Arms the group's poll deadline ([`Group::set_poll_deadline`]) from the
/// consumer's own `max.poll.interval.ms` (read with `rd_kafka_conf_get` on
/// `rd_kafka_conf(rk)`), minus `margin`: if the application stops polling
/// for that long, kat's timer thread marks the group's partitions lost with
/// no call from the stuck thread. Polls are marked by [`check_lost`] (call it
/// after every poll) and by the rebalance functions. Keep the poll timeout
/// well below the deadline. Returns the deadline armed.
///
/// Errors: `InvalidArgument` if the setting cannot be read or `margin` is not
/// below it.
///
/// # Safety
/// `rk` must be a live consumer handle.
pub unsafe fn set_poll_deadline(
    group: &Group,
    rk: *mut rd_kafka_t,
    margin: std::time::Duration,
) -> Result<std::time::Duration, Error> {
    let mut value = [0 as c_char; 32];
    let mut size = value.len();
    // SAFETY: live handle; `value` is writable for `size` bytes and
    // librdkafka NUL-terminates what it writes there.
    let res = unsafe {
        rdkafka_sys::rd_kafka_conf_get(
            rdkafka_sys::rd_kafka_conf(rk),
            c"max.poll.interval.ms".as_ptr(),
            value.as_mut_ptr(),
            &mut size,
        )
    };
    // SAFETY: on success `value` holds a NUL-terminated string.
    let text = (res == rdkafka_sys::rd_kafka_conf_res_t::RD_KAFKA_CONF_OK).then(|| {
        unsafe { CStr::from_ptr(value.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    });
    let interval_ms: u64 = text
        .as_deref()
        .and_then(|t| t.parse().ok())
        .filter(|ms| *ms > 0)
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("cannot read max.poll.interval.ms from the consumer ({text:?})"),
            )
        })?;
    let interval = std::time::Duration::from_millis(interval_ms);
    group.set_poll_deadline(interval, margin)?;
    Ok(interval - margin)
}

/// Records the broker's generation id (classic) or member epoch (KIP-848)
/// and the member id of the consumer in the group, for fencing tokens
/// ([`Group::record_broker_generation`], [`crate::PartitionHandle::token`]).
/// The rebalance functions call it at every assign (not on revokes: the
/// round trip could wait forever while the consumer closes) and
/// [`check_lost`] about once a second (the KIP-848 member epoch can move
/// without a rebalance callback). Any thread, but not while the consumer
/// closes. One round trip to librdkafka's consumer group thread.
///
/// # Safety
/// `rk` must be a live consumer handle.
pub unsafe fn record_broker(group: &Group, rk: *mut rd_kafka_t) {
    // SAFETY: live handle; the metadata is destroyed once, the member id
    // string freed with librdkafka's allocator.
    unsafe {
        let mut generation = 0;
        let metadata = rdkafka_sys::rd_kafka_consumer_group_metadata(rk);
        if !metadata.is_null() {
            generation = rdkafka_sys::rd_kafka_consumer_group_metadata_generation_id(metadata);
            rdkafka_sys::rd_kafka_consumer_group_metadata_destroy(metadata);
        }
        let member = rdkafka_sys::rd_kafka_memberid(rk);
        let id = (!member.is_null())
            .then(|| CStr::from_ptr(member).to_string_lossy().into_owned())
            .filter(|m| !m.is_empty());
        if !member.is_null() {
            rdkafka_sys::rd_kafka_mem_free(rk, member.cast());
        }
        group.record_broker_generation(generation, id.as_deref());
    }
}

/// The commit guard: removes from `offsets` (about to be committed) every
/// entry for a partition `group` does not own now, and with
/// `broker_generation` (from a [`crate::FencingToken`] taken when the work
/// started), every entry when the group's broker generation is no longer
/// that one. Returns how many entries it removed. Validates every entry
/// first: an entry kat cannot read (NULL or illegal topic, negative
/// partition) is an error and nothing is removed. Any thread; one wait-free
/// read per entry.
///
/// # Safety
/// `offsets` must be a live list not used by another thread during the call.
pub unsafe fn commit_guard(
    group: &Group,
    offsets: *mut rd_kafka_topic_partition_list_t,
    broker_generation: Option<i32>,
) -> Result<usize, Error> {
    // SAFETY: live list (caller's contract); read through its public layout.
    let entries = unsafe { read_list(offsets) }?;
    let stale = broker_generation.is_some_and(|g| g != group.broker_generation());
    let doomed: Vec<usize> = entries
        .iter()
        .enumerate()
        .filter(|(_, (t, p))| stale || !group.is_assigned(t, *p))
        .map(|(i, _)| i)
        .collect();
    for &i in doomed.iter().rev() {
        // SAFETY: live list; `i` is in range and indices above it were
        // removed first.
        unsafe { rdkafka_sys::rd_kafka_topic_partition_list_del_by_idx(offsets, i as c_int) };
    }
    Ok(doomed.len())
}

/// Reads the protocol once.
///
/// # Safety
/// `rk` must be a live handle.
unsafe fn protocol_of(rk: *mut rd_kafka_t) -> Protocol {
    // SAFETY: live handle; the result is NULL or a static string.
    let name = unsafe { rd_kafka_rebalance_protocol(rk) };
    // SAFETY: non-NULL results are NUL-terminated static strings.
    if !name.is_null() && unsafe { CStr::from_ptr(name) }.to_bytes() == b"COOPERATIVE" {
        Protocol::Cooperative
    } else {
        Protocol::Eager
    }
}

/// The assign call alone, for a callback that has no group to record in.
///
/// # Safety
/// As [`rebalance`].
unsafe fn apply_without_group(
    rk: *mut rd_kafka_t,
    err: rd_kafka_resp_err_t,
    partitions: *mut rd_kafka_topic_partition_list_t,
) -> Result<(), RebalanceError> {
    use rd_kafka_resp_err_t::{
        RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS, RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS,
    };
    // SAFETY: live handle.
    let cooperative = unsafe { protocol_of(rk) } == Protocol::Cooperative;
    // SAFETY: live handle and NULL-or-live list (caller's contract).
    unsafe {
        match err {
            RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS if cooperative => incremental(
                "rd_kafka_incremental_assign",
                rd_kafka_incremental_assign(rk, partitions),
            ),
            RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS => {
                eager("rd_kafka_assign", rd_kafka_assign(rk, partitions))
            }
            RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS if cooperative => incremental(
                "rd_kafka_incremental_unassign",
                rd_kafka_incremental_unassign(rk, partitions),
            ),
            _ => eager("rd_kafka_assign", rd_kafka_assign(rk, ptr::null())),
        }
    }
}

/// Turns the result of an incremental call into ours, destroying the error.
///
/// # Safety
/// `error` must be NULL or an error object owned by the caller.
unsafe fn incremental(
    call: &'static str,
    error: *mut rd_kafka_error_t,
) -> Result<(), RebalanceError> {
    if error.is_null() {
        return Ok(());
    }
    // SAFETY: a live error object; its string lives until it is destroyed,
    // and it is copied before.
    let (code, message) = unsafe {
        (
            rd_kafka_error_code(error),
            text(rd_kafka_error_string(error)),
        )
    };
    // SAFETY: we own it and destroy it once.
    unsafe { rd_kafka_error_destroy(error) };
    Err(RebalanceError::Rdkafka {
        call,
        code,
        message,
    })
}

/// Turns the result of `rd_kafka_assign` into ours.
///
/// # Safety
/// None beyond calling librdkafka's `rd_kafka_err2str`, which accepts any code.
unsafe fn eager(call: &'static str, code: rd_kafka_resp_err_t) -> Result<(), RebalanceError> {
    if code == rd_kafka_resp_err_t::RD_KAFKA_RESP_ERR_NO_ERROR {
        return Ok(());
    }
    // SAFETY: returns a static string for every code.
    let message = unsafe { text(rd_kafka_err2str(code)) };
    Err(RebalanceError::Rdkafka {
        call,
        code,
        message,
    })
}

/// Copies a C string (NULL gives an empty string).
///
/// # Safety
/// `p` must be NULL or NUL-terminated.
unsafe fn text(p: *const c_char) -> String {
    if p.is_null() {
        return String::new();
    }
    // SAFETY: per the contract.
    unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
}

/// Reads librdkafka's list through kat's reader of its public layout (the
/// same code the C ABI uses), as a core [`Error`] on failure.
///
/// # Safety
/// `partitions` must be NULL or a live list for `'a`.
unsafe fn read_list<'a>(
    partitions: *const rd_kafka_topic_partition_list_t,
) -> Result<Vec<(&'a str, i32)>, Error> {
    // SAFETY: `rd_kafka_topic_partition_list_t` has exactly the layout kat's
    // `rd_kafka_topic_partition_list_s` declares (pinned by the layout test
    // below); the pointee is live per the contract.
    unsafe { read_rdkafka_list(partitions.cast::<crate::ffi::rd_kafka_topic_partition_list_s>()) }
        .map_err(|e| {
            let kind = match e.code {
                kat_result::KAT_ERR_INVALID_TOPIC => ErrorKind::InvalidTopic,
                kat_result::KAT_ERR_INVALID_PARTITION => ErrorKind::InvalidPartition,
                _ => ErrorKind::InvalidList,
            };
            Error::new(kind, e.message)
        })
}

/// Makes a failure the calling thread's last error (`kat_last_error_message()`),
/// as the C glue does.
fn record_message(message: &str) {
    let function = c"kat::rdkafka::rebalance_cb";
    let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
    // SAFETY: two NUL-terminated strings that outlive the call.
    unsafe { kat_set_last_error_message(function.as_ptr(), message.as_ptr()) };
}

#[cfg(test)]
mod tests {
    use std::mem::{align_of, offset_of, size_of};

    use rdkafka_sys::{rd_kafka_topic_partition_list_s, rd_kafka_topic_partition_s};

    use crate::ffi::{
        rd_kafka_topic_partition_list_s as KatList, rd_kafka_topic_partition_s as KatElem,
    };

    #[test]
    fn kat_reads_the_partition_list_layout_rdkafka_sys_declares() {
        assert_eq!(
            size_of::<KatList>(),
            size_of::<rd_kafka_topic_partition_list_s>()
        );
        assert_eq!(
            align_of::<KatList>(),
            align_of::<rd_kafka_topic_partition_list_s>()
        );
        assert_eq!(
            offset_of!(KatList, cnt),
            offset_of!(rd_kafka_topic_partition_list_s, cnt)
        );
        assert_eq!(
            offset_of!(KatList, size),
            offset_of!(rd_kafka_topic_partition_list_s, size)
        );
        assert_eq!(
            offset_of!(KatList, elems),
            offset_of!(rd_kafka_topic_partition_list_s, elems)
        );
    }

    #[test]
    fn kat_reads_the_partition_element_layout_rdkafka_sys_declares() {
        assert_eq!(size_of::<rd_kafka_topic_partition_s>(), 64);
        assert_eq!(
            size_of::<KatElem>(),
            size_of::<rd_kafka_topic_partition_s>()
        );
        assert_eq!(
            align_of::<KatElem>(),
            align_of::<rd_kafka_topic_partition_s>()
        );
        assert_eq!(
            offset_of!(KatElem, topic),
            offset_of!(rd_kafka_topic_partition_s, topic)
        );
        assert_eq!(
            offset_of!(KatElem, partition),
            offset_of!(rd_kafka_topic_partition_s, partition)
        );
    }
}
