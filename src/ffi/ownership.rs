//! Ownership that ends on time: poll marks and the poll deadline.
//!
//! A consumer that stops polling for longer than `max.poll.interval.ms`
//! leaves its group, but librdkafka only tells the application at its next
//! poll. With a deadline armed, kat's own timer thread marks the group's
//! partitions lost when the deadline passes with no poll mark, so readers on
//! other threads stop trusting them on time.

use super::kat_group_t;
use super::result::{guard, kat_result, FfiError};
use super::{arg, out, write};
use std::time::Duration;

/// A group's poll marks, armed poll deadline and expiries
/// (`kat_group_poll_stats`).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct kat_poll_stats_t {
    /// The armed deadline in ms (`max.poll.interval.ms` minus the margin);
    /// 0: no deadline armed.
    pub deadline_ms: u64,
    /// Poll marks received (`kat_group_mark_poll`, `kat_check_lost`, and
    /// every rebalance handled by `kat_rdkafka.h`).
    pub polls: u64,
    /// Microseconds since the last poll mark; `UINT64_MAX`: never marked.
    pub since_last_poll_us: u64,
    /// Times the deadline passed with no poll mark and kat marked the
    /// group's partitions lost (only expiries that took something away).
    pub expirations: u64,
    /// How long after the deadline the last of those expiries was recorded,
    /// in microseconds (0 before the first).
    pub last_expiry_delay_us: u64,
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

/// Records that the group's consumer polled now. The poll-deadline timer
/// measures from the last mark. `kat_check_lost()` and the rebalance
/// functions of `kat_rdkafka.h` call it for you.
///
/// Thread-safe; lock-free: one monotonic clock read and two atomic
/// operations (plus, once after an expiry, a wake-up of the timer thread);
/// does not advance the epoch.
#[no_mangle]
pub unsafe extern "C" fn kat_group_mark_poll(group: *const kat_group_t) -> kat_result {
    guard("kat_group_mark_poll", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        unsafe { arg(group, "group") }?.mark_poll();
        Ok(())
    })
}

/// Arms, changes or (with `max_poll_interval_ms == 0`) disarms the group's
/// poll deadline. While armed, if no poll mark comes for
/// `max_poll_interval_ms − margin_ms`, kat's timer thread marks every
/// partition of the group lost (status `KAT_STATUS_LOST`, counted in
/// `lost_events` and in `kat_poll_stats_t.expirations`) within a few
/// milliseconds, with no call from the thread that stopped polling. The
/// deadline runs from the last poll mark (from now if there was none);
/// after an expiry it runs again from the next mark. When the application
/// polls again, librdkafka's own lost revoke follows and changes nothing
/// more in kat.
///
/// `kat_rdkafka_set_poll_deadline()` (kat_rdkafka.h) reads
/// `max.poll.interval.ms` from the consumer and calls this.
///
/// The first armed deadline in the process starts one timer thread
/// (`kat-deadline`); it ends when no deadline is armed. A deadline stays
/// armed while any `kat_group_t` of the group's name is alive.
///
/// Returns `KAT_ERR_INVALID_ARGUMENT` if `margin_ms >= max_poll_interval_ms`
/// (with a non-zero interval); nothing changes then. Thread-safe.
#[no_mangle]
pub unsafe extern "C" fn kat_group_set_poll_deadline(
    group: *const kat_group_t,
    max_poll_interval_ms: u64,
    margin_ms: u64,
) -> kat_result {
    guard("kat_group_set_poll_deadline", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group, "group") }?;
        g.set_poll_deadline(
            Duration::from_millis(max_poll_interval_ms),
            Duration::from_millis(margin_ms),
        )
        .map_err(FfiError::from)
    })
}

/// Writes the group's poll marks, deadline and expiries.
///
/// Thread-safe; a few atomic loads; never locks.
#[no_mangle]
pub unsafe extern "C" fn kat_group_poll_stats(
    group: *const kat_group_t,
    out_stats: *mut kat_poll_stats_t,
) -> kat_result {
    guard("kat_group_poll_stats", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group, "group") }?;
        let o = out(out_stats, "out_stats")?;
        let s = g.poll_stats();
        let stats = kat_poll_stats_t {
            deadline_ms: s.deadline.map_or(0, |d| d.as_millis() as u64),
            polls: s.polls,
            since_last_poll_us: s.since_last_poll.map_or(u64::MAX, micros),
            expirations: s.expirations,
            last_expiry_delay_us: s.last_expiry_delay.map_or(0, micros),
        };
        // SAFETY: checked output slot.
        unsafe { write(o, stats) };
        Ok(())
    })
}
