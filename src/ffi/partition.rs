//! `kat_partition_handle_t`: the one-load ownership check.

use super::kat_partition_handle_t;
use super::result::{guard, guard_value, kat_result};
use super::{arg, out, write};
use crate::{PartitionHandle, Status};

/// Status of a key. Numbers are never reused.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum kat_status {
    /// Never assigned (or evicted, or cleared).
    KAT_STATUS_NONE = 0,
    /// Owned now.
    KAT_STATUS_ASSIGNED = 1,
    /// Handed back in an orderly revocation.
    KAT_STATUS_REVOKED = 2,
    /// Lost (assignment lost or client reset).
    KAT_STATUS_LOST = 3,
}

impl From<Option<Status>> for kat_status {
    fn from(s: Option<Status>) -> Self {
        match s {
            None => kat_status::KAT_STATUS_NONE,
            Some(Status::Assigned) => kat_status::KAT_STATUS_ASSIGNED,
            Some(Status::Revoked) => kat_status::KAT_STATUS_REVOKED,
            Some(Status::Lost) => kat_status::KAT_STATUS_LOST,
        }
    }
}

/// A key's state, read from one atomic load.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct kat_partition_state_t {
    /// Times assigned (0: never).
    pub generation: u64,
    /// What happened last.
    pub status: kat_status,
    /// `status == KAT_STATUS_ASSIGNED`.
    pub assigned: bool,
}

/// Writes the handle's generation and status, read with one atomic load: a
/// reader never sees an assignment without its generation.
///
/// Thread-safe; wait-free; never allocates.
#[no_mangle]
pub unsafe extern "C" fn kat_partition_handle_state(
    handle: *const kat_partition_handle_t,
    out_state: *mut kat_partition_state_t,
) -> kat_result {
    guard("kat_partition_handle_state", || {
        // SAFETY: checked for NULL; valid until `kat_partition_handle_free`.
        let cell = unsafe { arg(handle, "handle") }?;
        let o = out(out_state, "out_state")?;
        let s = PartitionHandle::state_of(cell);
        // SAFETY: checked output slot.
        unsafe {
            write(
                o,
                kat_partition_state_t {
                    generation: s.generation,
                    status: s.status.into(),
                    assigned: s.is_assigned(),
                },
            )
        };
        Ok(())
    })
}

/// True if the partition is assigned now at exactly `generation`: the fencing
/// check before a commit or a side effect in a long job. False for NULL.
///
/// Thread-safe; wait-free; one atomic load.
#[no_mangle]
pub unsafe extern "C" fn kat_partition_handle_owned_at(
    handle: *const kat_partition_handle_t,
    generation: u64,
) -> bool {
    guard_value("kat_partition_handle_owned_at", false, || {
        // SAFETY: checked for NULL; valid until `kat_partition_handle_free`.
        let cell = unsafe { arg(handle, "handle") }?;
        Ok(PartitionHandle::state_of(cell).is_owned_at(generation))
    })
}

/// Frees a handle. NULL is ignored. Once no handle on a key is left, the key
/// may be evicted again.
#[no_mangle]
pub unsafe extern "C" fn kat_partition_handle_free(handle: *mut kat_partition_handle_t) {
    guard_value("kat_partition_handle_free", (), || {
        if !handle.is_null() {
            // SAFETY: came from `kat_group_partition`; freed once.
            unsafe { PartitionHandle::release_raw(handle.cast_const().cast()) };
        }
        Ok(())
    })
}
