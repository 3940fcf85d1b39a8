//! Ownership that ends on time: poll marks and the poll deadline.
//!
//! A consumer that stops polling for longer than `max.poll.interval.ms`
//! leaves its group, but librdkafka only tells the application at its next
//! poll. With a deadline armed, kat's own timer thread marks the group's
//! partitions lost when the deadline passes with no poll mark, so readers on
//! other threads stop trusting them on time.

use std::ffi::{c_char, c_int, c_void};
use std::time::Duration;

use super::list::{rd_kafka_topic_partition_list_s, read_rdkafka_list};
use super::result::{guard, kat_result, FfiError};
use super::{arg, copy_out, out, utf8, write};
use super::{kat_group_t, kat_partition_handle_t};
use crate::tracker::{lease_acquire, lease_release, lease_valid};
use crate::PartitionHandle;

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
pub unsafe extern "C" fn kat_group_mark_poll(group: *mut kat_group_t) -> kat_result {
    guard("kat_group_mark_poll", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        unsafe { arg(group.cast_const(), "group") }?.mark_poll();
        Ok(())
    })
}

/// Arms, changes or (with `max_poll_interval_ms == 0`) disarms the group's
/// poll deadline. While armed, if no poll mark comes for
/// `max_poll_interval_ms − margin_ms`, kat's timer thread marks every
/// partition of the group lost (status `KAT_STATUS_LOST`, counted in
/// `lost_events` and in `kat_poll_stats_t.expirations`; its history entry
/// has kind `expired`) within a few milliseconds, with no call from the
/// thread that stopped polling. While armed, `kat_group_health` also reports
/// `KAT_HEALTH_STALLED` after half of the deadline without a poll
/// (`kat_group_set_stall_fraction_permille`). The
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
    group: *mut kat_group_t,
    max_poll_interval_ms: u64,
    margin_ms: u64,
) -> kat_result {
    guard("kat_group_set_poll_deadline", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group.cast_const(), "group") }?;
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

/// A fencing token (`kat_partition_handle_token`): what a job carries into
/// its own store's conditional write.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct kat_fencing_token_t {
    /// kat's generation of the partition (times this group was assigned it).
    pub generation: u64,
    /// The broker's group generation id (classic protocol) or member epoch
    /// (KIP-848) at the last rebalance the glue handled; 0: unknown
    /// (librdkafka before 2.12, or no rebalance recorded through the glue).
    pub broker_generation: i32,
    /// Whether the partition is assigned now; when false the other fields
    /// are 0 and there is no token to act on.
    pub owned: bool,
}

/// Writes the handle's fencing token: kat's generation of the partition and
/// the broker generation of its group, read so that both belong to one
/// moment (the handle's word is read before and after the broker
/// generation). `owned` is false when the partition is not assigned.
///
/// Thread-safe; wait-free in practice (three atomic loads; repeated only if
/// a rebalance landed in between); never allocates.
#[no_mangle]
pub unsafe extern "C" fn kat_partition_handle_token(
    handle: *const kat_partition_handle_t,
    out_token: *mut kat_fencing_token_t,
) -> kat_result {
    guard("kat_partition_handle_token", || {
        // SAFETY: checked for NULL; valid until `kat_partition_handle_free`.
        let cell = unsafe { arg(handle, "handle") }?;
        let o = out(out_token, "out_token")?;
        let token = match PartitionHandle::token_of(cell) {
            Some(t) => kat_fencing_token_t {
                generation: t.generation,
                broker_generation: t.broker_generation,
                owned: true,
            },
            None => kat_fencing_token_t {
                generation: 0,
                broker_generation: 0,
                owned: false,
            },
        };
        // SAFETY: checked output slot.
        unsafe { write(o, token) };
        Ok(())
    })
}

/// Records the broker's view of the group's membership at a rebalance:
/// `generation` is the group generation id (classic) or member epoch
/// (KIP-848), 0 if unknown; `member_id` (NUL-terminated UTF-8) may be NULL
/// to keep the one recorded before. `kat_rdkafka.h` calls this at every
/// rebalance, before recording it. Does not advance the epoch.
///
/// Thread-safe; lock-free; allocates when the member id changes.
#[no_mangle]
pub unsafe extern "C" fn kat_group_record_broker_generation(
    group: *mut kat_group_t,
    generation: i32,
    member_id: *const c_char,
) -> kat_result {
    guard("kat_group_record_broker_generation", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group.cast_const(), "group") }?;
        let id = if member_id.is_null() {
            None
        } else {
            // SAFETY: non-NULL, NUL-terminated per the contract.
            Some(unsafe { utf8(member_id, "member_id") }?)
        };
        g.record_broker_generation(generation, id);
        Ok(())
    })
}

/// Writes the broker generation recorded at the group's last rebalance
/// (0: unknown).
///
/// Thread-safe; one atomic load.
#[no_mangle]
pub unsafe extern "C" fn kat_group_broker_generation(
    group: *const kat_group_t,
    out_generation: *mut i32,
) -> kat_result {
    guard("kat_group_broker_generation", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group, "group") }?;
        let o = out(out_generation, "out_generation")?;
        // SAFETY: checked output slot.
        unsafe { write(o, g.broker_generation()) };
        Ok(())
    })
}

/// Copies the member id recorded at the group's last rebalance into `buf`
/// (snprintf-style: with `buf == NULL && cap == 0` only `*out_len` is
/// written; otherwise `cap` must exceed the length for the NUL).
/// `KAT_ERR_NOT_FOUND` if none was recorded; `KAT_ERR_BUFFER_TOO_SMALL` if
/// `cap` is too small (nothing written to `buf`).
///
/// Thread-safe; lock-free.
#[no_mangle]
pub unsafe extern "C" fn kat_group_member_id(
    group: *const kat_group_t,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> kat_result {
    guard("kat_group_member_id", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group, "group") }?;
        let id = g.member_id().ok_or_else(|| {
            FfiError::new(
                kat_result::KAT_ERR_NOT_FOUND,
                "no member id recorded for this group",
            )
        })?;
        // SAFETY: `buf` writable for `cap` bytes, `out_len` checked inside.
        unsafe { copy_out(id.as_str(), buf, cap, out_len) }
    })
}

/// True at most once per second of poll marks (and to one caller): the
/// poll-loop glue (`kat_check_lost`) then refreshes the broker generation
/// with `kat_rdkafka_record_broker_generation`, since under KIP-848 the
/// member epoch can advance without a rebalance callback. False for NULL.
///
/// Thread-safe; two atomic loads when not due.
#[no_mangle]
pub unsafe extern "C" fn kat_group_broker_refresh_due(group: *mut kat_group_t) -> bool {
    super::result::guard_value("kat_group_broker_refresh_due", false, || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        Ok(unsafe { arg(group.cast_const(), "group") }?.broker_refresh_due())
    })
}

/// Takes a lease on the handle's partition at `generation` (normally the one
/// read when the work started): an in-flight claim that an orderly revoke
/// with a drain timeout (`kat_group_set_drain_timeout`) waits for before
/// giving the partition back. Returns false — and holds nothing — unless
/// the partition is assigned at exactly `generation` (not while a revoke is
/// draining it, nor after). Release each successful acquire once with
/// `kat_partition_handle_lease_release` on the same handle (or another
/// handle on the same key). False for NULL.
///
/// Thread-safe; lock-free: one atomic increment and one load (one
/// decrement more on failure).
#[no_mangle]
pub unsafe extern "C" fn kat_partition_handle_lease_acquire(
    handle: *const kat_partition_handle_t,
    generation: u64,
) -> bool {
    super::result::guard_value("kat_partition_handle_lease_acquire", false, || {
        // SAFETY: checked for NULL; valid until `kat_partition_handle_free`.
        Ok(lease_acquire(unsafe { arg(handle, "handle") }?, generation))
    })
}

/// Releases a lease taken with `kat_partition_handle_lease_acquire`.
/// `KAT_ERR_INVALID_ARGUMENT` (and nothing changes) if no lease is held on
/// the key.
///
/// Thread-safe; lock-free: one atomic decrement.
#[no_mangle]
pub unsafe extern "C" fn kat_partition_handle_lease_release(
    handle: *const kat_partition_handle_t,
) -> kat_result {
    guard("kat_partition_handle_lease_release", || {
        // SAFETY: checked for NULL; valid until `kat_partition_handle_free`.
        if lease_release(unsafe { arg(handle, "handle") }?) {
            Ok(())
        } else {
            Err(FfiError::new(
                kat_result::KAT_ERR_INVALID_ARGUMENT,
                "no lease is held on this partition",
            ))
        }
    })
}

/// Whether work under a lease taken at `generation` may still act on the
/// partition (commit, write): it is assigned at that generation, or an
/// orderly revoke is draining it (librdkafka still owns it until the drain
/// ends). False at once after a loss or a poll-deadline expiry, and after
/// the drain ended. False for NULL.
///
/// Thread-safe; one or two atomic loads.
#[no_mangle]
pub unsafe extern "C" fn kat_partition_handle_lease_valid(
    handle: *const kat_partition_handle_t,
    generation: u64,
) -> bool {
    super::result::guard_value("kat_partition_handle_lease_valid", false, || {
        // SAFETY: checked for NULL; valid until `kat_partition_handle_free`.
        Ok(lease_valid(unsafe { arg(handle, "handle") }?, generation))
    })
}

/// A group's drain barrier (`kat_group_drain_stats`).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct kat_drain_stats_t {
    /// The drain timeout in ms; 0: orderly revokes do not wait for leases.
    pub timeout_ms: u64,
    /// Drains run.
    pub drains: u64,
    /// Drains that reached the timeout with leases still held.
    pub timeouts: u64,
    /// Leases still held when the last drain ended.
    pub last_held: u64,
    /// Leases held at the timeout, over every drain.
    pub held_total: u64,
}

/// Sets how long an orderly revoke handled by `kat_rdkafka.h` waits for
/// leases on the revoked partitions to be released before the unassign call
/// (0, the default: no wait). Keep it well below `max.poll.interval.ms`.
///
/// Thread-safe; one store.
#[no_mangle]
pub unsafe extern "C" fn kat_group_set_drain_timeout(
    group: *mut kat_group_t,
    timeout_ms: u64,
) -> kat_result {
    guard("kat_group_set_drain_timeout", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        unsafe { arg(group.cast_const(), "group") }?
            .set_drain_timeout(Duration::from_millis(timeout_ms));
        Ok(())
    })
}

/// Writes the drain timeout and what the drains found.
///
/// Thread-safe; a few atomic loads.
#[no_mangle]
pub unsafe extern "C" fn kat_group_drain_stats(
    group: *const kat_group_t,
    out_stats: *mut kat_drain_stats_t,
) -> kat_result {
    guard("kat_group_drain_stats", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group, "group") }?;
        let o = out(out_stats, "out_stats")?;
        let d = g.drain_stats();
        let stats = kat_drain_stats_t {
            timeout_ms: d.timeout.map_or(0, |t| t.as_millis() as u64),
            drains: d.drains,
            timeouts: d.timeouts,
            last_held: d.last_held,
            held_total: d.held_total,
        };
        // SAFETY: checked output slot.
        unsafe { write(o, stats) };
        Ok(())
    })
}

/// The drain barrier of an orderly revoke of the listed partitions, called
/// by `kat_rdkafka.h` before the unassign call. With a drain timeout set:
/// records the revoke at once (the partitions stop being assigned for every
/// reader, new leases fail, held leases stay valid while the drain runs),
/// waits until no lease on them is held or the timeout passes, and writes
/// how many were still held to `*out_held` (also counted in
/// `kat_group_drain_stats`). Without a timeout it does nothing and writes 0.
///
/// `partitions` is librdkafka's `rd_kafka_topic_partition_list_t *`, read
/// during the call. A malformed list changes nothing. Blocks the calling
/// (rebalance) thread up to the timeout.
#[no_mangle]
pub unsafe extern "C" fn kat_group_drain(
    group: *mut kat_group_t,
    partitions: *const rd_kafka_topic_partition_list_s,
    out_held: *mut u64,
) -> kat_result {
    guard("kat_group_drain", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group.cast_const(), "group") }?;
        let o = out(out_held, "out_held")?;
        // SAFETY: the list is valid during the call per the contract.
        let list = unsafe { read_rdkafka_list(partitions) }?;
        let held = g.drain(list)?.unwrap_or(0);
        // SAFETY: checked output slot.
        unsafe { write(o, held) };
        Ok(())
    })
}

/// Blocks until the handle's partition is no longer assigned at `generation`
/// (revoked, lost, expired, drained, or reassigned at another generation)
/// or `timeout_ms` passes, and writes whether ownership at `generation`
/// ended to `*out_ended`. Returns at once if it already has. Woken by every
/// tracker event; costs nothing while waiting.
///
/// Thread-safe; blocks the calling thread (worker or monitoring threads,
/// never a hot path or the rebalance thread).
#[no_mangle]
pub unsafe extern "C" fn kat_partition_handle_wait_not_owned(
    handle: *const kat_partition_handle_t,
    generation: u64,
    timeout_ms: u64,
    out_ended: *mut bool,
) -> kat_result {
    guard("kat_partition_handle_wait_not_owned", || {
        // SAFETY: checked for NULL; valid until `kat_partition_handle_free`.
        let cell = unsafe { arg(handle, "handle") }?;
        let o = out(out_ended, "out_ended")?;
        let ended =
            crate::tracker::wait_not_owned(cell, generation, Duration::from_millis(timeout_ms));
        // SAFETY: checked output slot.
        unsafe { write(o, ended) };
        Ok(())
    })
}

/// A C callback told that a group lost partitions: `group` is the group's
/// name (NUL-terminated, valid during the call), `opaque` what was passed to
/// `kat_group_set_loss_callback`.
#[allow(non_camel_case_types)]
pub type kat_loss_cb = Option<unsafe extern "C" fn(group: *const c_char, opaque: *mut c_void)>;

struct SendPtr(*mut c_void);
// SAFETY: the opaque is the caller's; they promise it may be used from the
// threads that apply events (documented on `kat_group_set_loss_callback`).
unsafe impl Send for SendPtr {}
// SAFETY: as above.
unsafe impl Sync for SendPtr {}

/// Sets (or, with `cb == NULL`, removes) the group's loss notifier: `cb` is
/// called after every event that took partitions away from the group (an
/// orderly revoke, a loss, a reset, a poll-deadline expiry, the start of a
/// drain), on the thread that applied it — the polling thread in a
/// rebalance, or kat's `kat-deadline` timer thread — after kat's writers'
/// lock is released. It must be quick and must not block; readers then
/// check their handles. One notifier per group: this replaces an eventfd
/// set with `kat_group_loss_eventfd`. `opaque` must stay valid, and usable
/// from those threads, until the callback is removed.
///
/// Thread-safe; lock-free swap.
#[no_mangle]
pub unsafe extern "C" fn kat_group_set_loss_callback(
    group: *mut kat_group_t,
    cb: kat_loss_cb,
    opaque: *mut c_void,
) -> kat_result {
    guard("kat_group_set_loss_callback", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group.cast_const(), "group") }?;
        close_eventfd(g);
        let notifier: Option<crate::LossNotifier> = cb.map(|f| {
            let name = g.name_with_nul().to_owned();
            let opaque = SendPtr(opaque);
            Box::new(move |_: &str| {
                let opaque = &opaque;
                // SAFETY: a C function pointer given by the caller, with a
                // NUL-terminated name and the caller's opaque.
                unsafe { f(name.as_ptr().cast(), opaque.0) }
            }) as crate::LossNotifier
        });
        g.set_loss_notifier(notifier);
        Ok(())
    })
}

/// Unhooks the eventfd kat made for the group, if any. The fd itself is
/// owned by its notifier and closed when the last reference to it is gone
/// (after any call running on another thread has returned).
fn close_eventfd(g: &crate::Group) {
    let old = g
        .runtime()
        .loss_fd
        .swap(0, std::sync::atomic::Ordering::AcqRel);
    if old != 0 {
        g.set_loss_notifier(None);
    }
}

/// An eventfd owned by a notifier: closed when dropped.
struct EventFd(c_int);

impl Drop for EventFd {
    fn drop(&mut self) {
        // SAFETY: kat opened this fd and nothing else closes it.
        unsafe { libc::close(self.0) };
    }
}

/// Linux: writes an eventfd that becomes readable whenever the group loses
/// partitions (as `kat_group_set_loss_callback` would be called): watch it
/// with poll/epoll in an event loop, read its 8-byte counter to reset it,
/// then check your handles. The fd is kat's (non-blocking, close-on-exec):
/// never close it yourself; `kat_group_close_loss_eventfd` closes it.
/// Repeated calls return the same fd. Replaces a loss callback.
///
/// Cost: one `write(2)` per event that took partitions away, on the thread
/// that applied it; nothing otherwise. Thread-safe.
#[cfg(target_os = "linux")]
#[no_mangle]
pub unsafe extern "C" fn kat_group_loss_eventfd(
    group: *mut kat_group_t,
    out_fd: *mut c_int,
) -> kat_result {
    guard("kat_group_loss_eventfd", || {
        use std::sync::atomic::Ordering;
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group.cast_const(), "group") }?;
        let o = out(out_fd, "out_fd")?;
        let rt = g.runtime();
        let existing = rt.loss_fd.load(Ordering::Acquire);
        if existing != 0 {
            // SAFETY: checked output slot.
            unsafe { write(o, existing - 1) };
            return Ok(());
        }
        // SAFETY: plain syscall; the result is checked.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(FfiError::new(
                kat_result::KAT_ERR_INTERNAL,
                format!("eventfd failed: {}", std::io::Error::last_os_error()),
            ));
        }
        if let Err(other) =
            rt.loss_fd
                .compare_exchange(0, fd + 1, Ordering::AcqRel, Ordering::Acquire)
        {
            // Another thread made one first: use it.
            // SAFETY: `fd` is ours and unused.
            unsafe { libc::close(fd) };
            // SAFETY: checked output slot.
            unsafe { write(o, other - 1) };
            return Ok(());
        }
        let owned = EventFd(fd);
        g.set_loss_notifier(Some(Box::new(move |_: &str| {
            // The whole `EventFd` is moved in (not just its field, as a
            // closure would capture `owned.0` alone), so the fd lives as long
            // as the closure.
            let owned = &owned;
            let one: u64 = 1;
            // SAFETY: the fd lives as long as this closure (it owns it); an
            // 8-byte write to an eventfd; EAGAIN (counter full) is harmless.
            unsafe { libc::write(owned.0, std::ptr::from_ref(&one).cast(), 8) };
        })));
        // SAFETY: checked output slot.
        unsafe { write(o, fd) };
        Ok(())
    })
}

/// Closes the group's loss eventfd (`kat_group_loss_eventfd`) and removes
/// its notifier. No-op without one. Thread-safe; do not use the fd after.
#[no_mangle]
pub unsafe extern "C" fn kat_group_close_loss_eventfd(group: *mut kat_group_t) -> kat_result {
    guard("kat_group_close_loss_eventfd", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        close_eventfd(unsafe { arg(group.cast_const(), "group") }?);
        Ok(())
    })
}
