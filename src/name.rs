//! Validated, shared, NUL-terminated names (groups and topics).

use std::borrow::Borrow;
use std::fmt;
use std::hash::Hasher;
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
        let len = self.0.len() - 1;
        // SAFETY: the text ends with the one-byte NUL `new` appended, so
        // `len` is a character boundary (no check needed on the read path).
        unsafe { self.0.get_unchecked(..len) }
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

/// Byte-string equality without a library call for names up to 32 bytes
/// (most group and topic names): two overlapping loads from each side.
#[inline]
pub(crate) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    #[inline(always)]
    fn word<const N: usize>(s: &[u8], at: usize) -> [u8; N] {
        let mut w = [0u8; N];
        w.copy_from_slice(&s[at..at + N]);
        w
    }
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, n - 4) == word::<4>(b, n - 4),
        8..=16 => word::<8>(a, 0) == word::<8>(b, 0) && word::<8>(a, n - 8) == word::<8>(b, n - 8),
        17..=32 => {
            word::<16>(a, 0) == word::<16>(b, 0) && word::<16>(a, n - 16) == word::<16>(b, n - 16)
        }
        _ => a == b,
    }
}

/// A group name's part of its keys' hashes: with a topic name it gives the
/// (group, topic) key's hash ([`topic_hash`]), so a `Group` hashes topics only.
pub(crate) type GroupHasher = u64;

/// The name hash's secret keys: drawn once per process from the operating
/// system's randomness (through std's `RandomState`, which seeds itself
/// from it), so nobody outside the process can craft names that collide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct HashKeys([u64; 4]);

impl HashKeys {
    /// Fresh random keys.
    pub(crate) fn random() -> HashKeys {
        use std::hash::BuildHasher;
        let state = std::collections::hash_map::RandomState::new();
        HashKeys(std::array::from_fn(|i| state.hash_one(i as u64) | 1))
    }
}

static KEYS: std::sync::OnceLock<HashKeys> = std::sync::OnceLock::new();

/// This process's keys (one load and a branch once they exist).
#[inline(always)]
fn keys() -> &'static HashKeys {
    match KEYS.get() {
        Some(k) => k,
        None => init_keys(),
    }
}

#[cold]
#[inline(never)]
fn init_keys() -> &'static HashKeys {
    KEYS.get_or_init(HashKeys::random)
}

/// The 128-bit product of `a` and `b`, high and low halves folded together.
#[inline(always)]
fn fold_mul(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    (p as u64) ^ ((p >> 64) as u64)
}

#[inline(always)]
fn load8(s: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[at..at + 8]);
    u64::from_le_bytes(w)
}

#[inline(always)]
fn load4(s: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&s[at..at + 4]);
    u64::from(u32::from_le_bytes(w))
}

/// Hashes a name with a seed under the process keys `k`: overlapping word
/// loads and one or two folded multiplies for names up to 32 bytes, inline
/// and without a loop.
///
/// Every multiply has a secret key XORed into both operands, so zeroing one
/// (which would make the product, and with it what came before, vanish)
/// takes knowing the key; and the long-name loop also adds the previous
/// state back after each block, so no block can erase the state whatever
/// its content.
#[inline(always)]
fn bytes_hash(s: &[u8], seed: u64, k: &HashKeys) -> u64 {
    let k = &k.0;
    let n = s.len();
    let len = n as u64;
    let (a, b) = match n {
        0 => (0, 0),
        1..=3 => (
            u64::from(s[0]) | u64::from(s[n / 2]) << 8 | u64::from(s[n - 1]) << 16,
            0,
        ),
        4..=7 => (load4(s, 0), load4(s, n - 4)),
        8..=16 => (load8(s, 0), load8(s, n - 8)),
        17..=32 => {
            let x = fold_mul(load8(s, 0) ^ k[0] ^ seed, load8(s, 8) ^ k[1]);
            let y = fold_mul(load8(s, n - 16) ^ k[2] ^ seed, load8(s, n - 8) ^ k[3] ^ len);
            return x ^ y.rotate_left(29);
        }
        _ => return long_hash(s, seed, k),
    };
    fold_mul(a ^ k[0] ^ seed, b ^ k[1] ^ len.rotate_left(32))
}

#[inline(never)]
fn long_hash(s: &[u8], seed: u64, k: &[u64; 4]) -> u64 {
    let n = s.len();
    let mut acc = seed ^ (n as u64).rotate_left(32) ^ k[3];
    let mut at = 0;
    while at + 16 <= n {
        let m = fold_mul(load8(s, at) ^ k[0] ^ acc, load8(s, at + 8) ^ k[1]);
        acc = m.wrapping_add(acc.rotate_left(23));
        at += 16;
    }
    let m = fold_mul(load8(s, n - 16) ^ k[2] ^ acc, load8(s, n - 8) ^ k[3]);
    m.wrapping_add(acc.rotate_left(41))
}

/// The group's part of its keys' hashes.
#[inline]
pub(crate) fn group_hasher(group: &str) -> GroupHasher {
    group_hasher_with(keys(), group)
}

#[inline(always)]
fn group_hasher_with(k: &HashKeys, group: &str) -> GroupHasher {
    bytes_hash(group.as_bytes(), k.0[2].rotate_left(17), k)
}

/// The hash of a (group, topic) key from the group's part.
#[inline]
pub(crate) fn topic_hash(group: &GroupHasher, topic: &str) -> u64 {
    topic_hash_with(keys(), *group, topic)
}

/// The topic is hashed on its own (under another seed) and combined with
/// the group's part by the final mix, so that a read by group and topic
/// names hashes both at once rather than one after the other.
#[inline(always)]
fn topic_hash_with(k: &HashKeys, group: GroupHasher, topic: &str) -> u64 {
    finish(
        bytes_hash(topic.as_bytes(), k.0[1].rotate_left(41), k) ^ group,
        k,
    )
}

/// The last mix of a key's hash: one more folded multiply, so that names
/// differing only in a few bits still spread over every bit range the index
/// uses (bucket, shard, tag).
#[inline(always)]
fn finish(h: u64, k: &HashKeys) -> u64 {
    fold_mul(h ^ k.0[0], k.0[3])
}

/// The hash of a (group, topic) key, as the snapshot index uses it.
#[inline]
pub(crate) fn key_hash(group: &str, topic: &str) -> u64 {
    key_hash_with(keys(), group, topic)
}

/// [`key_hash`] under given keys.
#[inline(always)]
pub(crate) fn key_hash_with(k: &HashKeys, group: &str, topic: &str) -> u64 {
    topic_hash_with(k, group_hasher_with(k, group), topic)
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
    fn group_hasher_gives_the_key_hash() {
        let g = group_hasher("billing");
        for t in ["a", "orders", "orders.eu-west-001", &"x".repeat(249)] {
            assert_eq!(topic_hash(&g, t), key_hash("billing", t));
        }
        assert_ne!(key_hash("ab", "c"), key_hash("a", "bc"));
    }

    /// The index takes the shard from bits 32..40, the bucket from the low
    /// bits and a tag from the top 7 bits: each must spread typical names,
    /// under the process keys and under fresh ones.
    #[test]
    fn key_hashes_spread_over_shards_buckets_and_tags() {
        let mut names: Vec<String> = (0..4096)
            .map(|i| format!("orders.eu-west-{i:03}"))
            .collect();
        names.extend((0..4096).map(|i| format!("t{i}")));
        names.extend((0..4096).map(|i| format!("{}-{i}", "x".repeat(40))));
        let all_keys: Vec<HashKeys> = std::iter::once(*keys())
            .chain((0..20).map(|_| HashKeys::random()))
            .collect();
        for k in &all_keys {
            for group in ["g", "billing", "a-rather-long-consumer-group-name-v2"] {
                for chunk in names.chunks(4096) {
                    let mut shards = [0u32; 256];
                    let mut low = [0u32; 256];
                    let mut tags = [0u32; 128];
                    for t in chunk {
                        let h = key_hash_with(k, group, t);
                        shards[(h >> 32) as usize & 255] += 1;
                        low[h as usize & 255] += 1;
                        tags[(h >> 57) as usize] += 1;
                    }
                    // 16 expected per shard / bucket, 32 per tag; the bounds are
                    // beyond what random placement reaches (keys are random).
                    for (what, counts, max) in [
                        ("shard", &shards[..], 48),
                        ("bucket", &low[..], 48),
                        ("tag", &tags[..], 80),
                    ] {
                        let worst = counts.iter().max().copied().unwrap_or(0);
                        assert!(
                            worst <= max,
                            "{what}: {worst} of 4096 keys of {group}/{} in one",
                            chunk[0]
                        );
                    }
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for t in &names {
            assert!(seen.insert(key_hash("billing", t)), "collision on {t}");
        }
    }

    /// The unseeded hash keys had before (commit c61ed20), kept here to
    /// craft names that all collided under it.
    mod unseeded {
        use super::super::{fold_mul, load4, load8};

        const SEED: u64 = 0x6b61_745f_6b65_7973;
        pub(super) const K: [u64; 4] = [
            0xa076_1d64_78bd_642f,
            0xe703_7ed1_a0b4_28db,
            0x8ebc_6af0_9c88_c6e3,
            0x9f89_9d8b_ade1_cbc3,
        ];

        pub(super) fn bytes_hash(s: &[u8], seed: u64) -> u64 {
            let n = s.len();
            let len = n as u64;
            let (a, b) = match n {
                0 => (0, 0),
                1..=3 => (
                    u64::from(s[0]) | u64::from(s[n / 2]) << 8 | u64::from(s[n - 1]) << 16,
                    0,
                ),
                4..=7 => (load4(s, 0), load4(s, n - 4)),
                8..=16 => (load8(s, 0), load8(s, n - 8)),
                17..=32 => {
                    let x = fold_mul(load8(s, 0) ^ K[0] ^ seed, load8(s, 8) ^ K[1]);
                    let y = fold_mul(load8(s, n - 16) ^ K[2], load8(s, n - 8) ^ K[3] ^ len);
                    return x ^ y.rotate_left(29);
                }
                _ => {
                    let mut acc = seed ^ len.wrapping_mul(K[3]);
                    let mut at = 0;
                    while at + 16 <= n {
                        acc = fold_mul(load8(s, at) ^ K[0] ^ acc, load8(s, at + 8) ^ K[1]);
                        at += 16;
                    }
                    return fold_mul(load8(s, n - 16) ^ K[2] ^ acc, load8(s, n - 8) ^ K[3]);
                }
            };
            fold_mul(a ^ K[0] ^ seed, b ^ K[1] ^ len.wrapping_mul(K[2]))
        }

        pub(super) fn group_hasher(group: &str) -> u64 {
            bytes_hash(group.as_bytes(), SEED)
        }

        pub(super) fn key_hash(group: &str, topic: &str) -> u64 {
            bytes_hash(topic.as_bytes(), group_hasher(group))
        }
    }

    const TOPIC_BYTES: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-";

    /// `count` legal topic names of one length that all had the same key
    /// hash under the unseeded hash for the returned group, crafted as an
    /// attacker would: the first 8 bytes zero the state (the multiplicand
    /// `word ^ K[0] ^ state` becomes 0, whatever the next 8 bytes), the next
    /// 8 bytes vary freely, the rest is fixed.
    fn unseeded_collisions(count: usize) -> (String, Vec<String>) {
        let legal = |b: u8| TOPIC_BYTES.contains(&b);
        for g in 0..1_000_000u32 {
            let group = format!("group-{g}");
            let seed = unseeded::group_hasher(&group);
            for n in 48..=MAX_TOPIC_NAME_LEN {
                let zero = (seed ^ (n as u64).wrapping_mul(unseeded::K[3])) ^ unseeded::K[0];
                let zero = zero.to_le_bytes();
                if !zero.iter().all(|&b| legal(b)) {
                    continue;
                }
                let names = (0..count)
                    .map(|i| {
                        let mut name = zero.to_vec();
                        let mut v = i;
                        for _ in 0..8 {
                            name.push(TOPIC_BYTES[v % 64]);
                            v /= 64;
                        }
                        name.resize(n, b'x');
                        String::from_utf8(name).expect("ASCII")
                    })
                    .collect();
                return (group, names);
            }
        }
        panic!("no group gives a zeroing word");
    }

    #[test]
    fn names_crafted_against_the_unseeded_hash_spread_under_the_keyed_one() {
        let (group, names) = unseeded_collisions(4096);
        // The crafted names are legal and did all collide before.
        let old = unseeded::key_hash(&group, &names[0]);
        for t in &names {
            validate_topic(t).expect("legal");
            assert_eq!(unseeded::key_hash(&group, t), old, "{t}");
        }
        // Now: all distinct, spread over shards, buckets and tags like any
        // names (same bounds as for typical names below), under the process
        // keys and under fresh ones.
        for k in [*keys(), HashKeys::random(), HashKeys::random()] {
            let mut shards = [0u32; 256];
            let mut low = [0u32; 256];
            let mut tags = [0u32; 128];
            let mut seen = std::collections::HashSet::new();
            for t in &names {
                let h = key_hash_with(&k, &group, t);
                assert!(seen.insert(h), "collision on {t}");
                shards[(h >> 32) as usize & 255] += 1;
                low[h as usize & 255] += 1;
                tags[(h >> 57) as usize] += 1;
            }
            assert!(shards.iter().all(|&c| c <= 48), "shards {shards:?}");
            assert!(low.iter().all(|&c| c <= 48), "buckets {low:?}");
            assert!(tags.iter().all(|&c| c <= 80), "tags {tags:?}");
        }
    }

    #[test]
    fn keys_differ_between_draws_and_change_every_hash() {
        let (a, b) = (HashKeys::random(), HashKeys::random());
        assert_ne!(a, b);
        let names: Vec<String> = (0..1000)
            .map(|i| format!("{}{i}", "t".repeat(i % 60)))
            .collect();
        for t in &names {
            assert_ne!(key_hash_with(&a, "g", t), key_hash_with(&b, "g", t), "{t}");
        }
        // The process keys are drawn once and kept.
        assert_eq!(keys(), keys());
        assert_eq!(key_hash("g", "t"), key_hash_with(keys(), "g", "t"));
    }

    /// Whatever a block of a long name holds, the state before it still
    /// counts: names that differ only in their first block never collide,
    /// even when a later block is the one that zeroed the unseeded state.
    #[test]
    fn no_block_erases_what_came_before() {
        let k = HashKeys::random();
        let mut seen = std::collections::HashSet::new();
        for i in 0..4096u32 {
            let t = format!("{i:016}{}", "z".repeat(40));
            assert!(seen.insert(key_hash_with(&k, "g", &t)), "{t}");
        }
    }

    #[test]
    fn same_bytes_is_byte_equality() {
        let words: Vec<Vec<u8>> = (0..=40)
            .flat_map(|n| {
                let base: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
                let mut out = vec![base.clone()];
                for at in 0..n {
                    let mut w = base.clone();
                    w[at] ^= 1;
                    out.push(w);
                }
                out
            })
            .collect();
        for a in &words {
            for b in &words {
                assert_eq!(same_bytes(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn names_lend_a_nul_terminated_copy() {
        let n = Name::new("orders");
        assert_eq!(n.as_str(), "orders");
        assert_eq!(n.with_nul(), "orders\0");
    }
}
