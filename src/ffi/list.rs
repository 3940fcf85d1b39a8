//! Reading partition lists that come from C: librdkafka's
//! `rd_kafka_topic_partition_list_t` (through its stable public layout, so
//! libkat never links librdkafka) and kat's own `kat_topic_partition_t` arrays.

use std::ffi::{c_char, c_int, c_void, CStr};

use super::result::{kat_result, FfiError, FfiResult};
use super::{null, topic_bytes};

/// librdkafka's `rd_kafka_topic_partition_list_t`, as laid out since 0.9.
/// kat only reads `cnt`, `size` and `elems`; the header only forward-declares
/// the struct, so C callers pass librdkafka's own type.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct rd_kafka_topic_partition_list_s {
    /// Number of elements in use.
    pub cnt: c_int,
    /// Capacity of `elems`.
    pub size: c_int,
    /// The elements.
    pub elems: *const rd_kafka_topic_partition_s,
}

/// librdkafka's `rd_kafka_topic_partition_t`: 64 bytes on 64-bit targets,
/// `topic` at offset 0 and `partition` at offset 8. kat reads only those two.
#[repr(C)]
#[allow(non_camel_case_types)]
pub struct rd_kafka_topic_partition_s {
    /// Topic name.
    pub topic: *const c_char,
    /// Partition number.
    pub partition: i32,
    /// `offset`.
    pub offset: i64,
    /// `metadata`.
    pub metadata: *mut c_void,
    /// `metadata_size`.
    pub metadata_size: usize,
    /// `opaque`.
    pub opaque: *mut c_void,
    /// `err`.
    pub err: c_int,
    /// `_private`.
    pub private_: *mut c_void,
}

/// One (topic, partition) pair, for callers without librdkafka.
#[repr(C)]
#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy)]
pub struct kat_topic_partition_t {
    /// NUL-terminated topic name.
    pub topic: *const c_char,
    /// Partition number (≥ 0).
    pub partition: i32,
}

/// The most elements a list passed to kat can hold: librdkafka's list count
/// is a C `int`, so no real partition list is longer. A larger count (with a
/// small array behind it) is refused before any element is read.
pub(crate) const MAX_LIST_LEN: usize = i32::MAX as usize;

/// The most elements reserved up front from a caller-given count; a longer
/// list grows as it is read. A count that lies (within `MAX_LIST_LEN`) can
/// then never make kat ask for more memory than the elements it really read.
pub(crate) const PREALLOC_MAX: usize = 4096;

/// Refuses a count no real list can have.
fn check_count(count: usize) -> FfiResult {
    if count > MAX_LIST_LEN {
        return Err(bad_list(format!(
            "count {count} is impossibly large (a partition list holds at most {MAX_LIST_LEN} elements)"
        )));
    }
    Ok(())
}

fn bad_list(message: impl Into<String>) -> FfiError {
    FfiError::new(kat_result::KAT_ERR_INVALID_LIST, message)
}

/// Reads one element's topic.
///
/// # Safety
/// `p` must be NULL or a NUL-terminated string valid for `'a`.
unsafe fn element_topic<'a>(p: *const c_char, i: usize) -> FfiResult<&'a str> {
    if p.is_null() {
        return Err(bad_list(format!("element {i}: topic is NULL")));
    }
    // SAFETY: per the caller's contract.
    let bytes = unsafe { CStr::from_ptr(p) }.to_bytes();
    topic_bytes(bytes).map_err(|e| FfiError::new(e.code, format!("element {i}: {}", e.message)))
}

/// Copies a librdkafka list into (topic, partition) pairs, checking its shape.
///
/// # Safety
/// `list` must be NULL or point to a list whose first `cnt` elements and their
/// topic strings are valid for `'a`.
pub(crate) unsafe fn read_rdkafka_list<'a>(
    list: *const rd_kafka_topic_partition_list_s,
) -> FfiResult<Vec<(&'a str, i32)>> {
    // SAFETY: per the caller's contract.
    let list = unsafe { list.as_ref() }.ok_or_else(|| null("partitions"))?;
    if list.cnt < 0 {
        return Err(bad_list(format!("list count {} is negative", list.cnt)));
    }
    if list.cnt > list.size {
        return Err(bad_list(format!(
            "list count {} exceeds its capacity {}",
            list.cnt, list.size
        )));
    }
    let cnt = list.cnt as usize;
    if cnt == 0 {
        return Ok(Vec::new());
    }
    if list.elems.is_null() {
        return Err(bad_list(format!(
            "list has {cnt} elements but `elems` is NULL"
        )));
    }
    // SAFETY: `elems` points to at least `cnt` elements per the contract.
    let elems = unsafe { std::slice::from_raw_parts(list.elems, cnt) };
    let mut out = Vec::with_capacity(cnt.min(PREALLOC_MAX));
    for (i, e) in elems.iter().enumerate() {
        // SAFETY: element topics are valid C strings per the contract.
        out.push((unsafe { element_topic(e.topic, i) }?, e.partition));
    }
    Ok(out)
}

/// Copies a `kat_topic_partition_t` array into pairs.
///
/// # Safety
/// `items` must be NULL or point to `count` elements whose topics are valid
/// C strings for `'a`.
pub(crate) unsafe fn read_pairs<'a>(
    items: *const kat_topic_partition_t,
    count: usize,
) -> FfiResult<Vec<(&'a str, i32)>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    if items.is_null() {
        return Err(null("items"));
    }
    check_count(count)?;
    // SAFETY: per the contract (and `count` elements of 16 bytes fit an
    // allocation: `MAX_LIST_LEN` is far below `isize::MAX / 16`).
    let items = unsafe { std::slice::from_raw_parts(items, count) };
    let mut out = Vec::with_capacity(count.min(PREALLOC_MAX));
    for (i, e) in items.iter().enumerate() {
        // SAFETY: per the contract.
        out.push((unsafe { element_topic(e.topic, i) }?, e.partition));
    }
    Ok(out)
}

/// Pairs one topic with an array of partitions.
///
/// # Safety
/// `topic` must be a valid C string and `partitions` NULL or valid for
/// `count` elements, for `'a`.
pub(crate) unsafe fn read_topic_partitions<'a>(
    topic: *const c_char,
    partitions: *const i32,
    count: usize,
) -> FfiResult<Vec<(&'a str, i32)>> {
    // SAFETY: per the contract.
    let topic = unsafe { super::topic(topic, "topic") }?;
    if count == 0 {
        return Ok(Vec::new());
    }
    if partitions.is_null() {
        return Err(null("partitions"));
    }
    check_count(count)?;
    // SAFETY: per the contract.
    let parts = unsafe { std::slice::from_raw_parts(partitions, count) };
    let mut out = Vec::with_capacity(count.min(PREALLOC_MAX));
    // One push at a time: `extend` would reserve the whole count at once.
    for &p in parts {
        out.push((topic, p));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::{offset_of, size_of};

    #[test]
    fn layout_matches_librdkafka_public_struct() {
        assert_eq!(size_of::<rd_kafka_topic_partition_s>(), 64);
        assert_eq!(offset_of!(rd_kafka_topic_partition_s, topic), 0);
        assert_eq!(offset_of!(rd_kafka_topic_partition_s, partition), 8);
        assert_eq!(offset_of!(rd_kafka_topic_partition_list_s, cnt), 0);
        assert_eq!(offset_of!(rd_kafka_topic_partition_list_s, size), 4);
        assert_eq!(offset_of!(rd_kafka_topic_partition_list_s, elems), 8);
    }
}
