//! Prometheus / OpenMetrics exposition through the C ABI.

use std::ffi::{c_char, c_uint};

use super::kat_tracker_t;
use super::result::{guard, guard_value, kat_result, FfiError, FfiResult};
use super::{arg, copy_out};
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
        unsafe { copy_out(&text, buf, cap, out_len) }
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
