//! Result codes, the per-thread error detail, and the entry-point guard every
//! exported function runs its body in.

use std::cell::{Cell, RefCell};
use std::ffi::{c_char, c_uint, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, ErrorKind};

/// The result of every fallible kat function. Numbers are never reused.
///
/// On anything but `KAT_OK` nothing changed and no output was written — with
/// one documented exception: `KAT_ERR_BUFFER_TOO_SMALL` writes the needed
/// length to `out_len`. `kat_last_error_message()` gives the details on the
/// calling thread (cleared again by the thread's next successful call).
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum kat_result {
    /// Success.
    KAT_OK = 0,
    /// A required pointer argument was NULL.
    KAT_ERR_NULL_POINTER = 1,
    /// A string argument was not valid UTF-8.
    KAT_ERR_INVALID_UTF8 = 2,
    /// A group name was empty or longer than 1024 bytes.
    KAT_ERR_INVALID_GROUP = 3,
    /// A topic name was not a legal Kafka topic name (`[A-Za-z0-9._-]{1,249}`).
    KAT_ERR_INVALID_TOPIC = 4,
    /// A partition number was negative.
    KAT_ERR_INVALID_PARTITION = 5,
    /// A partition list was malformed: negative count, count above its
    /// capacity, NULL elements with a non-zero count, or a NULL topic.
    KAT_ERR_INVALID_LIST = 6,
    /// Another argument was out of its documented range.
    KAT_ERR_INVALID_ARGUMENT = 7,
    /// An index was past the end.
    KAT_ERR_OUT_OF_RANGE = 8,
    /// The caller's buffer is too small; call again with a larger one.
    KAT_ERR_BUFFER_TOO_SMALL = 9,
    /// No such group or topic in the snapshot.
    KAT_ERR_NOT_FOUND = 10,
    /// librdkafka refused the assign call a rebalance required (glue only);
    /// the tracker was left unchanged.
    KAT_ERR_RDKAFKA = 11,
    /// kat itself failed unexpectedly (a caught panic: a bug in kat). The
    /// call had no effect; the process may continue.
    KAT_ERR_INTERNAL = 12,
    /// This process was created by `fork()` while another thread of its
    /// parent was changing the tracker (held a lock the call needs): the
    /// tracker can be read but not changed here. Fork before creating
    /// consumers, or exec (README, "fork()").
    KAT_ERR_FORKED = 13,
}

use kat_result::*;

impl kat_result {
    fn message(self) -> &'static CStr {
        match self {
            KAT_OK => c"ok",
            KAT_ERR_NULL_POINTER => c"a required pointer argument was NULL",
            KAT_ERR_INVALID_UTF8 => c"a string argument was not valid UTF-8",
            KAT_ERR_INVALID_GROUP => c"invalid group name (empty or longer than 1024 bytes)",
            KAT_ERR_INVALID_TOPIC => c"invalid topic name (Kafka allows [A-Za-z0-9._-]{1,249})",
            KAT_ERR_INVALID_PARTITION => c"invalid partition (negative)",
            KAT_ERR_INVALID_LIST => c"malformed partition list",
            KAT_ERR_INVALID_ARGUMENT => c"invalid argument",
            KAT_ERR_OUT_OF_RANGE => c"index out of range",
            KAT_ERR_BUFFER_TOO_SMALL => c"buffer too small",
            KAT_ERR_NOT_FOUND => c"not found",
            KAT_ERR_RDKAFKA => c"librdkafka refused the assign call",
            KAT_ERR_INTERNAL => c"internal error in kat (caught panic)",
            KAT_ERR_FORKED => {
                c"forked while another thread was changing the tracker: read-only here"
            }
        }
    }
}

/// An error on its way out through the C ABI.
#[derive(Debug)]
pub(crate) struct FfiError {
    pub(crate) code: kat_result,
    pub(crate) message: String,
}

impl FfiError {
    pub(crate) fn new(code: kat_result, message: impl Into<String>) -> FfiError {
        FfiError {
            code,
            message: message.into(),
        }
    }
}

impl From<Error> for FfiError {
    fn from(e: Error) -> FfiError {
        let code = match e.kind() {
            ErrorKind::InvalidGroup => KAT_ERR_INVALID_GROUP,
            ErrorKind::InvalidTopic => KAT_ERR_INVALID_TOPIC,
            ErrorKind::InvalidPartition => KAT_ERR_INVALID_PARTITION,
            ErrorKind::InvalidList => KAT_ERR_INVALID_LIST,
            ErrorKind::InvalidArgument => KAT_ERR_INVALID_ARGUMENT,
            ErrorKind::Forked => KAT_ERR_FORKED,
        };
        FfiError::new(code, e.to_string())
    }
}

pub(crate) type FfiResult<T = ()> = Result<T, FfiError>;

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
    // Whether LAST_ERROR holds a detail. A `Cell<bool>` needs no destructor,
    // so reading it is a plain thread-local load: the success path of every
    // entry point pays that and a branch, and touches LAST_ERROR only when
    // there is a detail to clear.
    static HAS_ERROR: Cell<bool> = const { Cell::new(false) };
}

fn set_last_error(function: Option<&str>, message: &str) {
    // A thread being torn down has no slot any more: drop the detail.
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut s) = slot.try_borrow_mut() {
            s.clear();
            if let Some(function) = function {
                s.push_str(function);
                s.push_str(": ");
            }
            s.push_str(message);
            HAS_ERROR.set(true);
        }
    });
}

/// Forgets the calling thread's error detail: what every successful entry
/// point does, so that the detail always describes the thread's last call.
#[inline]
fn clear_last_error() {
    if HAS_ERROR.get() {
        clear_last_error_slow();
    }
}

#[cold]
fn clear_last_error_slow() {
    let _ = LAST_ERROR.try_with(|slot| {
        if let Ok(mut s) = slot.try_borrow_mut() {
            // Keeps the buffer for the next failure.
            s.clear();
            HAS_ERROR.set(false);
        }
    });
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "unknown panic"
    }
}

/// Runs an entry point's body: catches panics, records the error detail (or
/// clears it on success) and turns the outcome into a `kat_result`.
#[inline]
pub(crate) fn guard(function: &'static str, body: impl FnOnce() -> FfiResult) -> kat_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => {
            clear_last_error();
            KAT_OK
        }
        Ok(Err(e)) => {
            set_last_error(Some(function), &e.message);
            e.code
        }
        Err(payload) => {
            set_last_error(Some(function), &format!("panic: {}", panic_text(&*payload)));
            KAT_ERR_INTERNAL
        }
    }
}

/// Like [`guard`] for entry points that return a value instead of a
/// `kat_result`: `fallback` is returned on error or panic.
#[inline]
pub(crate) fn guard_value<T>(
    function: &'static str,
    fallback: T,
    body: impl FnOnce() -> FfiResult<T>,
) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(v)) => {
            clear_last_error();
            v
        }
        Ok(Err(e)) => {
            set_last_error(Some(function), &e.message);
            fallback
        }
        Err(payload) => {
            set_last_error(Some(function), &format!("panic: {}", panic_text(&*payload)));
            fallback
        }
    }
}

/// A static, NUL-terminated description of a result code. Unknown codes get
/// "unknown result code". Never returns NULL; the text lives forever.
///
/// Thread-safe.
#[no_mangle]
pub extern "C" fn kat_result_message(code: c_uint) -> *const c_char {
    let known = [
        KAT_OK,
        KAT_ERR_NULL_POINTER,
        KAT_ERR_INVALID_UTF8,
        KAT_ERR_INVALID_GROUP,
        KAT_ERR_INVALID_TOPIC,
        KAT_ERR_INVALID_PARTITION,
        KAT_ERR_INVALID_LIST,
        KAT_ERR_INVALID_ARGUMENT,
        KAT_ERR_OUT_OF_RANGE,
        KAT_ERR_BUFFER_TOO_SMALL,
        KAT_ERR_NOT_FOUND,
        KAT_ERR_RDKAFKA,
        KAT_ERR_INTERNAL,
        KAT_ERR_FORKED,
    ];
    known
        .iter()
        .find(|k| **k as c_uint == code)
        .map_or(c"unknown result code", |k| k.message())
        .as_ptr()
}

/// Copies the detailed message of the calling thread's last kat call, if it
/// failed, into `buf` (NUL-terminated, truncated to `cap - 1` bytes) and
/// returns its full length in bytes (without the NUL), like `snprintf`. With
/// `buf == NULL` or `cap == 0` nothing is written.
///
/// The detail describes the **last** call only: every kat function that
/// succeeds clears it (as does `kat_clear_last_error()`), so 0 (and an empty
/// string when `cap > 0`) means the thread's last kat call succeeded or none
/// failed yet. Reading the detail does not clear it, and neither do
/// `kat_last_error_message`, `kat_result_message` and `kat_version`.
///
/// The detail names the function and, for lists, the offending element:
/// `kat_group_assigned: element 2: topic name "a b" has an illegal byte …`.
/// Thread-safe; each thread has its own message.
#[no_mangle]
pub unsafe extern "C" fn kat_last_error_message(buf: *mut c_char, cap: usize) -> usize {
    let copy = || -> usize {
        LAST_ERROR
            .try_with(|slot| {
                let s = slot.borrow();
                if !buf.is_null() && cap > 0 {
                    // An empty detail still gets its NUL.
                    let n = s.len().min(cap - 1);
                    // SAFETY: the caller promises `buf` has room for `cap`
                    // bytes; we write `n + 1 <= cap` of them.
                    unsafe {
                        std::ptr::copy_nonoverlapping(s.as_ptr(), buf.cast::<u8>(), n);
                        *buf.add(n) = 0;
                    }
                }
                s.len()
            })
            .unwrap_or(0)
    };
    catch_unwind(copy).unwrap_or(0)
}

/// Records `message` (NUL-terminated UTF-8; invalid bytes are replaced) as
/// the calling thread's last error detail, as if the kat call named
/// `function` had failed with it: `kat_last_error_message()` then reads
/// `"<function>: <message>"`, or just `"<message>"` when `function` is NULL.
/// For glue code that lives outside libkat — the header-only
/// `kat_rdkafka.h`, language bindings — so that its failures read like kat's
/// own.
///
/// `message == NULL` clears the detail instead (whatever `function` is), as
/// `kat_clear_last_error()` does.
///
/// Thread-safe; affects the calling thread only.
#[no_mangle]
pub unsafe extern "C" fn kat_set_last_error_message(
    function: *const c_char,
    message: *const c_char,
) {
    let set = || {
        if message.is_null() {
            clear_last_error();
            return;
        }
        // SAFETY: `message` is non-NULL and NUL-terminated per the contract.
        let m = unsafe { CStr::from_ptr(message) };
        // SAFETY: non-NULL and NUL-terminated per the contract.
        let f = (!function.is_null()).then(|| unsafe { CStr::from_ptr(function) });
        set_last_error(
            f.map(|f| f.to_string_lossy()).as_deref(),
            &m.to_string_lossy(),
        );
    };
    let _ = catch_unwind(set);
}

/// Clears the calling thread's error detail: `kat_last_error_message()`
/// returns 0 until a kat call fails again. Successful kat calls do this
/// themselves; this is for glue code that reports its own outcome.
///
/// Thread-safe; affects the calling thread only.
#[no_mangle]
pub extern "C" fn kat_clear_last_error() {
    let _ = catch_unwind(clear_last_error);
}

/// kat's version, as a static NUL-terminated string ("0.1.0").
#[no_mangle]
pub extern "C" fn kat_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Test hook: runs an entry point whose body panics, so that tests can prove
/// the panic stays inside kat. Returns `KAT_ERR_INTERNAL`.
#[cfg(feature = "test-hooks")]
#[no_mangle]
pub extern "C" fn kat_test_panic() -> kat_result {
    guard("kat_test_panic", || panic!("test hook panicked on purpose"))
}
