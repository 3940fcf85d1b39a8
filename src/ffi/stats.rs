//! librdkafka's statistics JSON through the C ABI.

use std::ffi::c_char;

use super::result::{guard, kat_result, FfiError, FfiResult};
use super::{arg, copy_out, kat_group_t, null};

/// Borrows `len` bytes of UTF-8 JSON (NULL is allowed only with `len` 0).
///
/// # Safety
/// `json` must be NULL or readable for `len` bytes during the call.
unsafe fn json_arg<'a>(json: *const c_char, len: usize) -> FfiResult<&'a str> {
    if json.is_null() {
        return if len == 0 { Ok("") } else { Err(null("json")) };
    }
    // SAFETY: readable for `len` bytes per the contract.
    let bytes = unsafe { std::slice::from_raw_parts(json.cast::<u8>(), len) };
    std::str::from_utf8(bytes).map_err(|e| {
        FfiError::new(
            kat_result::KAT_ERR_INVALID_UTF8,
            format!(
                "statistics JSON is not valid UTF-8 (bad byte at offset {})",
                e.valid_up_to()
            ),
        )
    })
}

/// Hands kat the statistics JSON librdkafka gave this group's consumer (the
/// `json`, `json_len` arguments of its `stats_cb`, or an
/// `RD_KAFKA_EVENT_STATS` event's text): kat keeps its consumer group fields
/// (`cgrp.state`, `join_state`, `rebalance_age`, `rebalance_cnt`,
/// `rebalance_reason`, `assignment_size`) and exposes them in
/// `kat_tracker_metrics` (`kat_rdkafka_cgrp_*`) and
/// `kat_group_rdkafka_cgrp_json`. Statistics without `cgrp` change nothing.
/// Malformed JSON gets `KAT_ERR_INVALID_ARGUMENT` naming the byte offset,
/// invalid UTF-8 `KAT_ERR_INVALID_UTF8`; nothing changes then.
///
/// The JSON is only read during the call. Thread-safe; allocates while
/// parsing; the first call for a group takes the writers' lock once.
#[no_mangle]
pub unsafe extern "C" fn kat_group_rdkafka_stats(
    group: *mut kat_group_t,
    json: *const c_char,
    json_len: usize,
) -> kat_result {
    guard("kat_group_rdkafka_stats", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group, "group") }?;
        // SAFETY: readable for `json_len` bytes per the contract.
        let text = unsafe { json_arg(json, json_len) }?;
        g.record_rdkafka_stats(text)?;
        Ok(())
    })
}

/// Copies librdkafka's statistics JSON with every partition this group does
/// not own right now taken out (`topics.<topic>.partitions` entries,
/// librdkafka's internal `-1` partition included, and
/// `brokers.<broker>.toppars` entries); the rest is kept, compacted. Sizes
/// work like `kat_tracker_metrics`: `*out_len` always receives the length
/// without the NUL (also with `KAT_ERR_BUFFER_TOO_SMALL`); `buf = NULL,
/// cap = 0` only asks for it.
///
/// Thread-safe; reads the current snapshot (wait-free); allocates.
#[no_mangle]
pub unsafe extern "C" fn kat_group_rdkafka_stats_strip(
    group: *const kat_group_t,
    json: *const c_char,
    json_len: usize,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> kat_result {
    guard("kat_group_rdkafka_stats_strip", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group, "group") }?;
        // SAFETY: readable for `json_len` bytes per the contract.
        let text = unsafe { json_arg(json, json_len) }?;
        let stripped = g.strip_rdkafka_stats(text)?;
        // SAFETY: buffer contract as documented.
        unsafe { copy_out(&stripped, buf, cap, out_len) }
    })
}

/// Copies the consumer group fields of the group's last statistics as JSON
/// (`{"state":…,"join_state":…,"rebalance_age":ms,"rebalance_cnt":N,
/// "rebalance_reason":…,"assignment_size":N|null,"received_unix_ms":ms}`),
/// or `null` when none were handed over. Sizes as `kat_tracker_metrics`.
///
/// Thread-safe; wait-free read, then allocates the text.
#[no_mangle]
pub unsafe extern "C" fn kat_group_rdkafka_cgrp_json(
    group: *const kat_group_t,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> kat_result {
    guard("kat_group_rdkafka_cgrp_json", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let g = unsafe { arg(group, "group") }?;
        let text = g
            .rdkafka_cgrp()
            .map_or_else(|| "null".to_owned(), |c| c.to_json());
        // SAFETY: buffer contract as documented.
        unsafe { copy_out(&text, buf, cap, out_len) }
    })
}
