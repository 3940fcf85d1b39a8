//! Prometheus / OpenMetrics exposition through the C ABI.

use std::ffi::{c_char, c_uint};

use super::kat_tracker_t;
use super::result::{guard, guard_value, kat_result, FfiError, FfiResult};
use super::{arg, out, write};
use crate::MetricsFormat;

/// The text formats of `kat_tracker_metrics`.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum kat_metrics_format {
    /// Prometheus' text exposition format 0.0.4
    /// (`text/plain; version=0.0.4`).
    KAT_METRICS_PROMETHEUS = 0,
    /// OpenMetrics 1.0.0 text (`application/openmetrics-text`).
    KAT_METRICS_OPENMETRICS = 1,
}

fn format_of(format: c_uint) -> FfiResult<MetricsFormat> {
    match format {
        0 => Ok(MetricsFormat::Prometheus),
        1 => Ok(MetricsFormat::OpenMetrics),
        other => Err(FfiError::new(
            kat_result::KAT_ERR_INVALID_ARGUMENT,
            format!("unknown metrics format {other} (KAT_METRICS_PROMETHEUS or KAT_METRICS_OPENMETRICS)"),
        )),
    }
}

/// Copies `text` plus a NUL into `buf`, snprintf-style: `*out_len` always
/// receives the text's length (without the NUL) once the arguments are
/// valid, also when the buffer is too small, so the caller can retry with
/// `*out_len + 1` bytes. `buf = NULL, cap = 0` only asks for the length.
///
/// # Safety
/// `buf` must be NULL or writable for `cap` bytes; `out_len` writable.
pub(crate) unsafe fn copy_sized(
    text: &str,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> FfiResult {
    let out_len = out(out_len, "out_len")?;
    if buf.is_null() && cap != 0 {
        return Err(super::null("buf"));
    }
    // SAFETY: checked non-NULL; the caller's slot.
    unsafe { write(out_len, text.len()) };
    if buf.is_null() {
        return Ok(());
    }
    if cap <= text.len() {
        return Err(FfiError::new(
            kat_result::KAT_ERR_BUFFER_TOO_SMALL,
            format!("need {} bytes (with the NUL), got {cap}", text.len() + 1),
        ));
    }
    // SAFETY: `buf` is writable for `cap > text.len()` bytes.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
        *buf.add(text.len()) = 0;
    }
    Ok(())
}

/// Writes the tracker's metrics as Prometheus text (`format` =
/// `KAT_METRICS_PROMETHEUS`) or OpenMetrics (`KAT_METRICS_OPENMETRICS`) into
/// `buf`, NUL-terminated: one series per partition owned now
/// (`kat_partition_generation`, value = its generation) and the group
/// counters; the README's "Monitoring" section lists them.
///
/// Sizes work like `snprintf`: `*out_len` always receives the text's length
/// without the NUL — also when `buf` is too small (then
/// `KAT_ERR_BUFFER_TOO_SMALL` is returned and `buf` is not written) — and
/// `buf = NULL, cap = 0` only asks for it. The text can grow between two
/// calls (a rebalance, or a clock second passing); retry with a little
/// headroom.
///
/// Thread-safe; reads one snapshot (wait-free) and allocates the text.
#[no_mangle]
pub unsafe extern "C" fn kat_tracker_metrics(
    tracker: *const kat_tracker_t,
    format: c_uint,
    buf: *mut c_char,
    cap: usize,
    out_len: *mut usize,
) -> kat_result {
    guard("kat_tracker_metrics", || {
        // SAFETY: checked for NULL; valid during the call per the contract.
        let t = unsafe { arg(tracker, "tracker") }?;
        let format = format_of(format)?;
        let text = t.metrics(format);
        // SAFETY: buffer contract as documented.
        unsafe { copy_sized(&text, buf, cap, out_len) }
    })
}

/// The HTTP `Content-Type` of a metrics format, as a static NUL-terminated
/// string; NULL for an unknown format.
///
/// Thread-safe.
#[no_mangle]
pub extern "C" fn kat_metrics_content_type(format: c_uint) -> *const c_char {
    guard_value("kat_metrics_content_type", std::ptr::null(), || {
        Ok(match format_of(format)? {
            MetricsFormat::Prometheus => c"text/plain; version=0.0.4; charset=utf-8".as_ptr(),
            MetricsFormat::OpenMetrics => {
                c"application/openmetrics-text; version=1.0.0; charset=utf-8".as_ptr()
            }
        })
    })
}
