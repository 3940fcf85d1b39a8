//! Shared pieces of the benchmarks: the data set, the lock-based peers kat is
//! compared with, a latency histogram and the results file.
//!
//! The peers are what a user would write instead of kat, given every
//! advantage a user could have: a fast hasher (foldhash; kat has its own name
//! hash; a SipHash variant is measured too), lookups by `&str` without
//! allocating (one probe into a flat map through `hashbrown::Equivalent`),
//! and no sorting of their answers.
#![allow(dead_code)] // each bench binary uses a different part of this module

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hash, Hasher};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, RwLock};

use hashbrown::{Equivalent, HashMap};

/// The consumer group every benchmark uses.
pub const GROUP: &str = "billing";
/// Topics the tracked partitions are spread over.
pub const TOPICS: usize = 50;

/// Topic `i` of the data set.
pub fn topic_name(i: usize) -> String {
    format!("orders.eu-west-{i:03}")
}

/// `total` partitions spread evenly over `topics` topics (partitions numbered
/// densely from 0 in each topic, as Kafka numbers them).
pub struct Dataset {
    pub topics: Vec<String>,
    pub per_topic: i32,
}

impl Dataset {
    pub fn new(total: usize, topics: usize) -> Dataset {
        assert_eq!(total % topics, 0, "{total} partitions over {topics} topics");
        Dataset {
            topics: (0..topics).map(topic_name).collect(),
            per_topic: (total / topics) as i32,
        }
    }

    /// Every (topic, partition) of the data set, topic by topic.
    pub fn list(&self) -> Vec<(&str, i32)> {
        self.topics
            .iter()
            .flat_map(|t| (0..self.per_topic).map(move |p| (t.as_str(), p)))
            .collect()
    }

    /// The same keys in a fixed pseudo-random order, for lookups that do not
    /// walk memory sequentially.
    pub fn shuffled(&self) -> Vec<(&str, i32)> {
        let mut keys = self.list();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in (1..keys.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            keys.swap(i, (x % (i as u64 + 1)) as usize);
        }
        keys
    }
}

/// A kat tracker with the whole data set assigned to [`GROUP`].
pub fn kat_with(ds: &Dataset) -> kat::Tracker {
    let tracker = kat::Tracker::new();
    tracker
        .group(GROUP)
        .expect("group name")
        .assigned(ds.list())
        .expect("valid list");
    tracker
}

// ---------------------------------------------------------------------------
// Lock-based peers.

/// An owned (group, topic, partition) key.
#[derive(PartialEq, Eq)]
pub struct Key {
    group: Box<str>,
    topic: Box<str>,
    partition: i32,
}

/// A borrowed key: looks an owned one up without allocating.
pub struct KeyRef<'a> {
    pub group: &'a str,
    pub topic: &'a str,
    pub partition: i32,
}

impl Hash for Key {
    fn hash<H: Hasher>(&self, h: &mut H) {
        KeyRef {
            group: &self.group,
            topic: &self.topic,
            partition: self.partition,
        }
        .hash(h)
    }
}

impl Hash for KeyRef<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.group.hash(h);
        self.topic.hash(h);
        h.write_i32(self.partition);
    }
}

impl Equivalent<Key> for KeyRef<'_> {
    fn equivalent(&self, k: &Key) -> bool {
        self.partition == k.partition && *self.topic == *k.topic && *self.group == *k.group
    }
}

/// What a peer keeps per key: the generation and whether it is assigned now.
#[derive(Clone, Copy)]
pub struct Entry {
    pub generation: u64,
    pub assigned: bool,
}

/// One copied generation: (group, topic, partition, generation, assigned).
pub type GenerationCopy = (Box<str>, Box<str>, i32, u64, bool);

/// The state a lock-based peer guards: one flat map of every key ever assigned.
pub struct Table<S> {
    map: HashMap<Key, Entry, S>,
}

impl<S: BuildHasher> Table<S> {
    fn new(hasher: S) -> Table<S> {
        Table {
            map: HashMap::with_hasher(hasher),
        }
    }

    fn assigned(&mut self, group: &str, list: &[(&str, i32)]) {
        for &(topic, partition) in list {
            let q = KeyRef {
                group,
                topic,
                partition,
            };
            match self.map.get_mut(&q) {
                Some(e) => {
                    e.generation += 1;
                    e.assigned = true;
                }
                None => {
                    self.map.insert(
                        Key {
                            group: group.into(),
                            topic: topic.into(),
                            partition,
                        },
                        Entry {
                            generation: 1,
                            assigned: true,
                        },
                    );
                }
            }
        }
    }

    fn revoked(&mut self, group: &str, list: &[(&str, i32)]) {
        for &(topic, partition) in list {
            let q = KeyRef {
                group,
                topic,
                partition,
            };
            if let Some(e) = self.map.get_mut(&q) {
                e.assigned = false;
            }
        }
    }

    #[inline]
    fn get(&self, group: &str, topic: &str, partition: i32) -> Option<Entry> {
        self.map
            .get(&KeyRef {
                group,
                topic,
                partition,
            })
            .copied()
    }

    fn for_each_owned(&self, mut f: impl FnMut(&str, &str, i32, u64)) {
        for (k, e) in &self.map {
            if e.assigned {
                f(&k.group, &k.topic, k.partition, e.generation);
            }
        }
    }

    fn generations(&self) -> Vec<GenerationCopy> {
        self.map
            .iter()
            .map(|(k, e)| {
                (
                    k.group.clone(),
                    k.topic.clone(),
                    k.partition,
                    e.generation,
                    e.assigned,
                )
            })
            .collect()
    }
}

/// The operations every tracker in the comparison offers.
pub trait Peer: Send + Sync + 'static {
    fn assigned(&self, group: &str, list: &[(&str, i32)]);
    fn revoked(&self, group: &str, list: &[(&str, i32)]);
    fn generation(&self, group: &str, topic: &str, partition: i32) -> u64;
    fn is_assigned(&self, group: &str, topic: &str, partition: i32) -> bool;
    /// "Which partitions do I own": visits each owned key once.
    fn for_each_owned(&self, f: impl FnMut(&str, &str, i32, u64));
    /// A copy of every generation.
    fn generations_len(&self) -> usize;
}

/// `Mutex<HashMap>`.
pub struct MutexPeer<S>(Mutex<Table<S>>);
/// `std::sync::RwLock<HashMap>`.
pub struct RwLockPeer<S>(RwLock<Table<S>>);

/// foldhash, the fastest general-purpose hasher available to a user.
pub type Fast = foldhash::fast::RandomState;
/// The standard library's SipHash-1-3.
pub type Sip = std::collections::hash_map::RandomState;

impl<S: BuildHasher + Default> MutexPeer<S> {
    pub fn new() -> Self {
        MutexPeer(Mutex::new(Table::new(S::default())))
    }
}

impl<S: BuildHasher + Default> RwLockPeer<S> {
    pub fn new() -> Self {
        RwLockPeer(RwLock::new(Table::new(S::default())))
    }
}

impl<S: BuildHasher + Send + Sync + 'static> Peer for MutexPeer<S> {
    fn assigned(&self, group: &str, list: &[(&str, i32)]) {
        self.0.lock().unwrap().assigned(group, list)
    }
    fn revoked(&self, group: &str, list: &[(&str, i32)]) {
        self.0.lock().unwrap().revoked(group, list)
    }
    #[inline]
    fn generation(&self, group: &str, topic: &str, partition: i32) -> u64 {
        let t = self.0.lock().unwrap();
        t.get(group, topic, partition).map_or(0, |e| e.generation)
    }
    #[inline]
    fn is_assigned(&self, group: &str, topic: &str, partition: i32) -> bool {
        let t = self.0.lock().unwrap();
        t.get(group, topic, partition).is_some_and(|e| e.assigned)
    }
    fn for_each_owned(&self, f: impl FnMut(&str, &str, i32, u64)) {
        self.0.lock().unwrap().for_each_owned(f)
    }
    fn generations_len(&self) -> usize {
        let copy = self.0.lock().unwrap().generations();
        std::hint::black_box(&copy).len()
    }
}

impl<S: BuildHasher + Send + Sync + 'static> Peer for RwLockPeer<S> {
    fn assigned(&self, group: &str, list: &[(&str, i32)]) {
        self.0.write().unwrap().assigned(group, list)
    }
    fn revoked(&self, group: &str, list: &[(&str, i32)]) {
        self.0.write().unwrap().revoked(group, list)
    }
    #[inline]
    fn generation(&self, group: &str, topic: &str, partition: i32) -> u64 {
        let t = self.0.read().unwrap();
        t.get(group, topic, partition).map_or(0, |e| e.generation)
    }
    #[inline]
    fn is_assigned(&self, group: &str, topic: &str, partition: i32) -> bool {
        let t = self.0.read().unwrap();
        t.get(group, topic, partition).is_some_and(|e| e.assigned)
    }
    fn for_each_owned(&self, f: impl FnMut(&str, &str, i32, u64)) {
        self.0.read().unwrap().for_each_owned(f)
    }
    fn generations_len(&self) -> usize {
        let copy = self.0.read().unwrap().generations();
        std::hint::black_box(&copy).len()
    }
}

/// Karafka-style: a mutex around `(group, topic) → partitions` plus a
/// generations map, and every `current` / `generations` read returns a copy
/// of the whole map made under the mutex.
pub struct KarafkaPeer(Mutex<KarafkaState>);

type Pair = (Box<str>, Box<str>);

#[derive(Default)]
struct KarafkaState {
    assignments: BTreeMap<Pair, Vec<i32>>,
    generations: HashMap<Key, u64, Fast>,
}

impl KarafkaPeer {
    pub fn new() -> Self {
        KarafkaPeer(Mutex::new(KarafkaState::default()))
    }

    /// The current assignments: a copy of the whole map.
    pub fn current(&self) -> BTreeMap<Pair, Vec<i32>> {
        self.0.lock().unwrap().assignments.clone()
    }
}

impl Peer for KarafkaPeer {
    fn assigned(&self, group: &str, list: &[(&str, i32)]) {
        let mut s = self.0.lock().unwrap();
        for &(topic, partition) in list {
            let q = KeyRef {
                group,
                topic,
                partition,
            };
            match s.generations.get_mut(&q) {
                Some(g) => *g += 1,
                None => {
                    s.generations.insert(
                        Key {
                            group: group.into(),
                            topic: topic.into(),
                            partition,
                        },
                        1,
                    );
                }
            }
            let parts = s
                .assignments
                .entry((group.into(), topic.into()))
                .or_default();
            if let Err(i) = parts.binary_search(&partition) {
                parts.insert(i, partition);
            }
        }
    }
    fn revoked(&self, group: &str, list: &[(&str, i32)]) {
        let mut s = self.0.lock().unwrap();
        for &(topic, partition) in list {
            let key: Pair = (group.into(), topic.into());
            if let Some(parts) = s.assignments.get_mut(&key) {
                if let Ok(i) = parts.binary_search(&partition) {
                    parts.remove(i);
                }
                if parts.is_empty() {
                    s.assignments.remove(&key);
                }
            }
        }
    }
    fn generation(&self, group: &str, topic: &str, partition: i32) -> u64 {
        let s = self.0.lock().unwrap();
        s.generations
            .get(&KeyRef {
                group,
                topic,
                partition,
            })
            .copied()
            .unwrap_or(0)
    }
    fn is_assigned(&self, group: &str, topic: &str, partition: i32) -> bool {
        self.current()
            .get(&(Box::from(group), Box::from(topic)))
            .is_some_and(|p| p.binary_search(&partition).is_ok())
    }
    fn for_each_owned(&self, mut f: impl FnMut(&str, &str, i32, u64)) {
        let current = self.current();
        for ((g, t), parts) in &current {
            for &p in parts {
                f(g, t, p, 0);
            }
        }
    }
    fn generations_len(&self) -> usize {
        let copy: Vec<_> = {
            let s = self.0.lock().unwrap();
            s.generations
                .iter()
                .map(|(k, g)| (k.group.clone(), k.topic.clone(), k.partition, *g))
                .collect()
        };
        std::hint::black_box(&copy).len()
    }
}

/// kat behind the same trait, for the generic parts of the benchmarks.
pub struct KatPeer {
    pub tracker: kat::Tracker,
    group: kat::Group,
}

impl KatPeer {
    pub fn new() -> Self {
        let tracker = kat::Tracker::new();
        let group = tracker.group(GROUP).expect("group name");
        KatPeer { tracker, group }
    }
}

impl Peer for KatPeer {
    fn assigned(&self, group: &str, list: &[(&str, i32)]) {
        assert_eq!(group, GROUP);
        self.group
            .assigned(list.iter().copied())
            .expect("valid list");
    }
    fn revoked(&self, group: &str, list: &[(&str, i32)]) {
        assert_eq!(group, GROUP);
        self.group
            .revoked(list.iter().copied())
            .expect("valid list");
    }
    #[inline]
    fn generation(&self, group: &str, topic: &str, partition: i32) -> u64 {
        self.tracker.generation(group, topic, partition)
    }
    #[inline]
    fn is_assigned(&self, group: &str, topic: &str, partition: i32) -> bool {
        self.tracker.is_assigned(group, topic, partition)
    }
    fn for_each_owned(&self, mut f: impl FnMut(&str, &str, i32, u64)) {
        let snap = self.tracker.snapshot();
        for g in snap.groups() {
            for t in g.topics() {
                for (partition, generation) in t.assigned() {
                    f(g.name(), t.name(), partition, generation);
                }
            }
        }
    }
    fn generations_len(&self) -> usize {
        let copy = self.tracker.generations();
        std::hint::black_box(&copy).len()
    }
}

/// A peer with the data set assigned to [`GROUP`].
pub fn peer_with<P: Peer>(peer: P, ds: &Dataset) -> P {
    peer.assigned(GROUP, &ds.list());
    peer
}

// ---------------------------------------------------------------------------
// Latency histogram.

/// Log-linear histogram of nanosecond values: exact below 1024 ns, then 64
/// sub-buckets per power of two (relative error under 1.6 %).
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    max: u64,
}

const LINEAR: u64 = 1024;
const SUB: u64 = 64;

impl Histogram {
    pub fn new() -> Histogram {
        Histogram {
            counts: vec![0; (LINEAR + 64 * SUB) as usize],
            total: 0,
            max: 0,
        }
    }

    #[inline]
    fn bucket(v: u64) -> usize {
        if v < LINEAR {
            return v as usize;
        }
        let exp = 63 - v.leading_zeros() as u64; // ≥ 10
        let sub = (v >> (exp - 6)) & (SUB - 1);
        (LINEAR + (exp - 10) * SUB + sub) as usize
    }

    /// The smallest value of a bucket.
    fn floor(b: usize) -> u64 {
        let b = b as u64;
        if b < LINEAR {
            return b;
        }
        let exp = (b - LINEAR) / SUB + 10;
        let sub = (b - LINEAR) % SUB;
        (1 << exp) | (sub << (exp - 6))
    }

    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.counts[Self::bucket(ns)] += 1;
        self.total += 1;
        self.max = self.max.max(ns);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// The histogram corrected for coordinated omission: a reader blocked
    /// for `v` ns would have issued a read every `interval` ns meanwhile, and
    /// each of those would have waited `v - interval`, `v - 2 interval`, …
    /// (HdrHistogram's expected-interval correction, from the bucket floors).
    pub fn corrected(&self, interval: u64) -> Histogram {
        let interval = interval.max(1);
        let mut out = Histogram {
            counts: self.counts.clone(),
            total: self.total,
            max: self.max,
        };
        for (b, &c) in self.counts.iter().enumerate() {
            if c == 0 {
                continue;
            }
            let mut v = Self::floor(b).min(self.max);
            while v > interval {
                v -= interval;
                out.counts[Self::bucket(v)] += c;
                out.total += c;
            }
        }
        out
    }

    /// The value at quantile `q` (0..=1), as the floor of its bucket.
    pub fn quantile(&self, q: f64) -> u64 {
        let rank = ((self.total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::floor(b).min(self.max);
            }
        }
        self.max
    }
}

// ---------------------------------------------------------------------------
// Results for scripts/bench.sh.

/// Where the harness-less benches write their figures (`KAT_BENCH_OUT`, else
/// `target/kat-bench`).
pub fn results_dir() -> PathBuf {
    let dir = std::env::var_os("KAT_BENCH_OUT").map_or_else(
        || {
            let target = std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into());
            PathBuf::from(target).join("kat-bench")
        },
        PathBuf::from,
    );
    std::fs::create_dir_all(&dir).expect("create results dir");
    dir
}

/// Writes `lines` (already JSON objects) as a JSON array to `name`.
pub fn write_results(name: &str, lines: &[String]) {
    let path = results_dir().join(name);
    let mut f = std::fs::File::create(&path).expect("create results file");
    writeln!(f, "[\n{}\n]", lines.join(",\n")).expect("write results");
    eprintln!("results written to {}", path.display());
}
