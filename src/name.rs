//! Validated, shared, NUL-terminated names (groups and topics).

use std::borrow::Borrow;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use crate::error::{Error, ErrorKind};

/// Longest group name accepted, in bytes.
pub const MAX_GROUP_NAME_LEN: usize = 1024;
/// Longest topic name Kafka accepts, in bytes.
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// An immutable, reference-counted name that also ends with a NUL byte, so the
/// C ABI can lend it out as a C string without copying.
///
/// Cloning is one atomic increment; the text is never copied after creation.
#[derive(Clone)]
pub(crate) struct Name(Arc<str>);

impl Name {
    /// Allocates a name; `text` must not contain NUL (validation guarantees it).
    pub(crate) fn new(text: &str) -> Name {
        let mut s = String::with_capacity(text.len() + 1);
        s.push_str(text);
        s.push('\0');
        Name(Arc::from(s))
    }

    /// The name without its terminating NUL.
    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        &self.0[..self.0.len() - 1]
    }

    /// The name with its terminating NUL, for lending to C.
    #[inline]
    pub(crate) fn with_nul(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Name) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for Name {}
impl PartialOrd for Name {
    fn partial_cmp(&self, other: &Name) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Name {
    fn cmp(&self, other: &Name) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}
impl std::hash::Hash for Name {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}
impl Borrow<str> for Name {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}
impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Checks a group name: non-empty, at most [`MAX_GROUP_NAME_LEN`] bytes, no NUL.
pub fn validate_group(name: &str) -> Result<(), Error> {
    if name.is_empty() {
        return Err(Error::new(ErrorKind::InvalidGroup, "group name is empty"));
    }
    if name.len() > MAX_GROUP_NAME_LEN {
        return Err(Error::new(
            ErrorKind::InvalidGroup,
            format!(
                "group name is {} bytes long, the limit is {MAX_GROUP_NAME_LEN}",
                name.len()
            ),
        ));
    }
    if name.as_bytes().contains(&0) {
        return Err(Error::new(
            ErrorKind::InvalidGroup,
            "group name contains a NUL byte",
        ));
    }
    Ok(())
}

/// Checks a topic name against Kafka's rules: 1 to 249 bytes of
/// `[A-Za-z0-9._-]`, and neither `.` nor `..`.
///
/// Costs one pass over the bytes; never allocates unless it fails.
pub fn validate_topic(name: &str) -> Result<(), Error> {
    topic_problem(name.as_bytes())
        .map_or(Ok(()), |why| Err(Error::new(ErrorKind::InvalidTopic, why)))
}

/// The reason a topic name is illegal, if it is.
#[inline]
pub(crate) fn topic_problem(name: &[u8]) -> Option<String> {
    if name.is_empty() {
        return Some("topic name is empty".to_owned());
    }
    if name.len() > MAX_TOPIC_NAME_LEN {
        return Some(format!(
            "topic name is {} bytes long, Kafka's limit is {MAX_TOPIC_NAME_LEN}",
            name.len()
        ));
    }
    if name == b"." || name == b".." {
        return Some(format!(
            "topic name {:?} is reserved",
            String::from_utf8_lossy(name)
        ));
    }
    if let Some(pos) = name
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-'))
    {
        return Some(format!(
            "topic name {:?} has an illegal byte 0x{:02x} at offset {pos} (legal: A-Z a-z 0-9 . _ -)",
            String::from_utf8_lossy(name),
            name[pos]
        ));
    }
    None
}

/// Checks a partition number: 0 ..= i32::MAX.
#[inline]
pub(crate) fn validate_partition(partition: i32) -> Result<(), Error> {
    if partition < 0 {
        return Err(Error::new(
            ErrorKind::InvalidPartition,
            format!("partition {partition} is negative"),
        ));
    }
    Ok(())
}

/// The hash of a (group, topic) key, as the snapshot index uses it.
#[inline]
pub(crate) fn key_hash(group: &str, topic: &str) -> u64 {
    let mut h = foldhash::fast::FixedState::with_seed(0x6b61_745f_6b65_7973).build_hasher();
    h.write(group.as_bytes());
    h.write_u8(0xff);
    h.write(topic.as_bytes());
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legal_topic_names_pass() {
        for t in [
            "a",
            "orders",
            "Orders.v2_eu-1",
            &"x".repeat(249),
            "..a",
            "...",
        ] {
            assert!(validate_topic(t).is_ok(), "{t:?} should be legal");
        }
    }

    #[test]
    fn illegal_topic_names_fail_with_reason() {
        for (t, why) in [
            ("", "empty"),
            (".", "reserved"),
            ("..", "reserved"),
            ("a b", "0x20"),
            ("naïve", "0xc3"),
            ("a/b", "0x2f"),
        ] {
            let e = validate_topic(t).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidTopic);
            assert!(e.to_string().contains(why), "{e} should mention {why}");
        }
        let long = "x".repeat(250);
        assert!(validate_topic(&long)
            .unwrap_err()
            .to_string()
            .contains("250"));
    }

    #[test]
    fn group_names_are_checked() {
        assert!(validate_group("g").is_ok());
        assert!(validate_group("groupe-été ✓").is_ok());
        assert!(validate_group(&"g".repeat(1024)).is_ok());
        assert_eq!(
            validate_group("").unwrap_err().kind(),
            ErrorKind::InvalidGroup
        );
        assert_eq!(
            validate_group(&"g".repeat(1025)).unwrap_err().kind(),
            ErrorKind::InvalidGroup
        );
        assert_eq!(
            validate_group("a\0b").unwrap_err().kind(),
            ErrorKind::InvalidGroup
        );
    }

    #[test]
    fn names_lend_a_nul_terminated_copy() {
        let n = Name::new("orders");
        assert_eq!(n.as_str(), "orders");
        assert_eq!(n.with_nul(), "orders\0");
    }
}
