//! Rebalance history and health of a group through the C ABI.

use std::ffi::{c_char, c_uint};

use super::result::{guard, guard_value, kat_result, FfiError};
use super::{arg, copy_out, kat_group_t, kat_tracker_t, out, write};
use crate::{Health, HealthState};

/// A group's health (`kat_group_health`).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum kat_health {
    /// No event was ever recorded for the group (or since `kat_tracker_clear`).
    KAT_HEALTH_NEVER_JOINED = 0,
    /// Joined (at least one rebalance reached it), owns nothing.
    KAT_HEALTH_STANDBY = 1,
    /// Owns at least one partition, no rebalance in progress.
    KAT_HEALTH_ASSIGNED = 2,
    /// Between a revoke and the following assign.
    KAT_HEALTH_REBALANCING = 3,
    /// The assignment was lost (or the client reset); nothing assigned since.
    KAT_HEALTH_LOST = 4,
    /// Joined, but its consumer has not polled for longer than the group's
    /// stall threshold (`kat_group_set_stall_after_ms`, or by default half of
    /// an armed poll deadline, `kat_group_set_stall_fraction_permille`; only
    /// when polls are marked).
    KAT_HEALTH_STALLED = 5,
}

/// A group's health and since when it holds.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct kat_group_health_t {
    /// The state.
    pub health: kat_health,
    /// When it began, ms since the Unix epoch (0 for never joined).
    pub since_unix_ms: u64,
}

impl From<HealthState> for kat_group_health_t {
    fn from(s: HealthState) -> Self {
        use kat_health::*;
        kat_group_health_t {
            health: match s.health {
                Health::NeverJoined => KAT_HEALTH_NEVER_JOINED,
                Health::Standby => KAT_HEALTH_STANDBY,
                Health::Assigned => KAT_HEALTH_ASSIGNED,
                Health::Rebalancing => KAT_HEALTH_REBALANCING,
                Health::Lost => KAT_HEALTH_LOST,
                Health::Stalled => KAT_HEALTH_STALLED,
            },
            since_unix_ms: s.since_unix_ms,
        }
    }
}

/// Writes the group's health and since when it holds.
///
/// Thread-safe; wait-free (one lookup in a published map, one atomic load);
/// never allocates.
#[no_mangle]
pub unsafe extern "C" fn kat_group_health(
    group: *const kat_group_t,
    out_health: *mut kat_group_health_t,
) -> kat_result {
    guard("kat_group_health", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group, "group") }?;
        let o = out(out_health, "out_health")?;
        // SAFETY: checked output slot.
        unsafe { write(o, g.health().into()) };
        Ok(())
    })
}

/// The snake-case name of a health state ("never_joined", "standby",
/// "assigned", "rebalancing", "lost", "stalled"), static and NUL-terminated; NULL for
/// an unknown value.
///
/// Thread-safe.
#[no_mangle]
pub extern "C" fn kat_health_name(health: c_uint) -> *const c_char {
    guard_value("kat_health_name", std::ptr::null(), || {
        Ok(match health {
            0 => c"never_joined".as_ptr(),
            1 => c"standby".as_ptr(),
            2 => c"assigned".as_ptr(),
            3 => c"rebalancing".as_ptr(),
            4 => c"lost".as_ptr(),
            5 => c"stalled".as_ptr(),
            _ => std::ptr::null(),
        })
    })
}

/// Copies the group's rebalance history as a JSON array, oldest first (the
/// README's "Monitoring" section shows an entry). Sizes work like
/// `kat_tracker_metrics`: `*out_len` always receives the length without the
/// NUL, also with `KAT_ERR_BUFFER_TOO_SMALL`; `buf = NULL, cap = 0` only
/// asks for it.
///
/// Thread-safe; takes the history wait-free, then allocates the text.
#[no_mangle]
pub unsafe extern "C" fn kat_group_history_json(
    group: *const kat_group_t,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> kat_result {
    guard("kat_group_history_json", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group, "group") }?;
        let text = g.history().to_json();
        // SAFETY: buffer contract as documented.
        unsafe { copy_out(&text, buf, cap, out_len) }
    })
}

/// Copies the group's counters and state outside snapshots as one JSON
/// object (`Group::stats_json` in Rust; the README's "Monitoring" section
/// lists the fields): event counters, glue failures, poll marks and the poll
/// deadline, drains and the leases still held at their timeouts, the broker
/// generation and member id. Sizes work like `kat_tracker_metrics`:
/// `*out_len` always receives the length without the NUL, also with
/// `KAT_ERR_BUFFER_TOO_SMALL`; `buf = NULL, cap = 0` only asks for it.
///
/// Thread-safe; wait-free reads, then allocates the text.
#[no_mangle]
pub unsafe extern "C" fn kat_group_stats_json(
    group: *const kat_group_t,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> kat_result {
    guard("kat_group_stats_json", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group, "group") }?;
        let text = g.stats_json();
        // SAFETY: buffer contract as documented.
        unsafe { copy_out(&text, buf, cap, out_len) }
    })
}

/// Sets how many entries each group's history keeps (default 64, at least
/// 1); longer histories are cut at their group's next event.
///
/// Thread-safe; takes the writers' lock.
#[no_mangle]
pub unsafe extern "C" fn kat_tracker_set_history_limit(
    tracker: *mut kat_tracker_t,
    limit: usize,
) -> kat_result {
    guard("kat_tracker_set_history_limit", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let t = unsafe { arg(tracker, "tracker") }?;
        if limit == 0 {
            return Err(FfiError::new(
                kat_result::KAT_ERR_INVALID_ARGUMENT,
                "history limit must be at least 1",
            ));
        }
        t.writable()?;
        t.set_history_limit(limit);
        Ok(())
    })
}

/// Writes how many entries each group's history keeps.
///
/// Thread-safe; wait-free.
#[no_mangle]
pub unsafe extern "C" fn kat_tracker_history_limit(
    tracker: *const kat_tracker_t,
    out_limit: *mut usize,
) -> kat_result {
    guard("kat_tracker_history_limit", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let t = unsafe { arg(tracker, "tracker") }?;
        let o = out(out_limit, "out_limit")?;
        // SAFETY: checked output slot.
        unsafe { write(o, t.history_limit()) };
        Ok(())
    })
}

/// Tells the group's rebalance history which protocol its consumer follows
/// (`cooperative`: incremental rebalancing — cooperative-sticky, KIP-848;
/// otherwise eager); later history entries carry it. `kat_rdkafka.h` calls
/// it on every rebalance.
///
/// Thread-safe; takes the writers' lock.
#[no_mangle]
pub unsafe extern "C" fn kat_group_note_rebalance_protocol(
    group: *mut kat_group_t,
    cooperative: bool,
) -> kat_result {
    guard("kat_group_note_rebalance_protocol", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group, "group") }?;
        g.note_rebalance_protocol(cooperative);
        Ok(())
    })
}

/// Records in the group's rebalance history a rebalance that could not be
/// applied — an entry of kind `error` with `detail` (NUL-terminated; invalid
/// UTF-8 is replaced) — without changing the tracker. `kat_rdkafka.h` calls
/// it when librdkafka refuses an assign call (before recording the refusal
/// as the thread's last error: like every successful kat call, this one
/// clears it).
///
/// Thread-safe; takes the writers' lock.
#[no_mangle]
pub unsafe extern "C" fn kat_group_note_rebalance_error(
    group: *mut kat_group_t,
    detail: *const c_char,
) -> kat_result {
    guard("kat_group_note_rebalance_error", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group, "group") }?;
        if detail.is_null() {
            return Err(super::null("detail"));
        }
        // SAFETY: non-NULL and NUL-terminated per the contract.
        let text = unsafe { std::ffi::CStr::from_ptr(detail) }.to_string_lossy();
        g.note_rebalance_error(&text);
        Ok(())
    })
}

/// Makes `kat_group_health` report `KAT_HEALTH_STALLED` once the consumer's
/// last poll mark is older than `ms` milliseconds — a fraction of its
/// `max.poll.interval.ms` (half of it warns well before librdkafka gives the
/// partitions away); 0 turns it off (the default). Groups whose polls are
/// never marked are never stalled. Kept across `kat_tracker_clear`.
///
/// Thread-safe; one atomic store.
#[no_mangle]
pub unsafe extern "C" fn kat_group_set_stall_after_ms(
    group: *mut kat_group_t,
    ms: u64,
) -> kat_result {
    guard("kat_group_set_stall_after_ms", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group, "group") }?;
        g.set_stall_after((ms > 0).then(|| std::time::Duration::from_millis(ms)));
        Ok(())
    })
}

/// With a poll deadline armed (`kat_group_set_poll_deadline`,
/// `kat_rdkafka_set_poll_deadline`) and no explicit stall threshold
/// (`kat_group_set_stall_after_ms` wins), `kat_group_health` reports
/// `KAT_HEALTH_STALLED` once the last poll mark is older than `permille`
/// thousandths of the deadline (default 500: half of it). 0 turns the
/// derived threshold off; values above 1000 are clamped to 1000. Kept across
/// `kat_tracker_clear`.
///
/// Thread-safe; one atomic store.
#[no_mangle]
pub unsafe extern "C" fn kat_group_set_stall_fraction_permille(
    group: *mut kat_group_t,
    permille: u32,
) -> kat_result {
    guard("kat_group_set_stall_fraction_permille", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group, "group") }?;
        g.set_stall_fraction((permille > 0).then(|| f64::from(permille.min(1000)) / 1000.0));
        Ok(())
    })
}
