//! Concurrency soak: one writer applies random rebalances (eager `replace`,
//! cooperative `assigned`/`revoked`, `lost`, `reset`, occasional `clear()`)
//! while reader threads check, on every read, what SPEC §4 promises:
//!
//! - epochs a reader observes never go backwards;
//! - generations never decrease (per key, per reader) except across a
//!   `clear()`;
//! - a partition seen as assigned has a generation ≥ 1, in snapshots, in
//!   point lookups and in handles (no torn reads);
//! - snapshots are sorted and self-consistent, and a held snapshot never
//!   changes (it is re-walked later and compared);
//! - `generations()` taken at a snapshot's epoch equals that snapshot's records;
//! - a handle is never behind a snapshot taken before it, and equals the
//!   final state once the writer stops;
//! - `wait_for_change` returns a later epoch, or the same one only after its
//!   full timeout, and never misses a change (a waiter with a long timeout is
//!   always woken while the writer runs; a ping-pong test checks every single
//!   epoch).
//!
//! One reader goes through the C ABI functions. A watchdog aborts the process
//! with a message if the soak does not finish (deadlock).
//!
//! `KAT_SOAK_SECS` sets the duration (default 3 s), `KAT_SOAK_READERS` the
//! number of Rust-API readers (default 3), `KAT_SOAK_SEED` the writer's seed.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::ffi::{c_char, CStr, CString};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use kat::{PartitionHandle, PartitionState, Snapshot, Status, Tracker};

const GROUPS: [&str; 3] = ["eager", "cooperative", "mixed"];
const TOPICS: [&str; 4] = ["orders", "payments", "audit", "events"];
const PARTITIONS: i32 = 8;

type Key = (usize, usize, i32);

fn keys() -> impl Iterator<Item = Key> {
    (0..GROUPS.len())
        .flat_map(|g| (0..TOPICS.len()).flat_map(move |t| (0..PARTITIONS).map(move |p| (g, t, p))))
}

fn env_f64(name: &str, default: f64) -> f64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A small deterministic generator (xorshift64*), so a failing run can be
/// replayed with `KAT_SOAK_SEED`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.below(one_in) == 0
    }
}

/// Aborts the process if `done` is not signalled within `limit`: a hung
/// soak is a deadlock, and a test harness would otherwise wait forever.
fn watchdog(what: &'static str, limit: Duration) -> mpsc::Sender<()> {
    let (tx, rx) = mpsc::channel::<()>();
    thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(limit) {
            eprintln!("{what}: no progress after {limit:?}: deadlock, aborting");
            std::process::abort();
        }
    });
    tx
}

struct Shared {
    tracker: Tracker,
    stop: AtomicBool,
    /// Epochs at which a `clear()` is published, recorded before the writer
    /// calls it (a handle can show the clear before the epoch does).
    clears: Mutex<Vec<u64>>,
}

impl Shared {
    /// Whether a clear was published at an epoch in `(after, up_to]`.
    fn cleared_between(&self, after: u64, up_to: u64) -> bool {
        self.clears
            .lock()
            .unwrap()
            .iter()
            .any(|&c| c > after && c <= up_to)
    }
}

#[derive(Default, Debug, Clone, Copy)]
struct Counts {
    snapshots: u64,
    lookups: u64,
    handle_reads: u64,
    generations: u64,
    rechecked: u64,
}

impl Counts {
    fn total(&self) -> u64 {
        self.snapshots + self.lookups + self.handle_reads + self.generations + self.rechecked
    }
    fn add(&mut self, o: Counts) {
        self.snapshots += o.snapshots;
        self.lookups += o.lookups;
        self.handle_reads += o.handle_reads;
        self.generations += o.generations;
        self.rechecked += o.rechecked;
    }
}

/// Walks a snapshot, checks its structure and returns its records (key →
/// generation, status) and a fingerprint of everything it shows.
fn walk(s: &Snapshot) -> (HashMap<Key, (u64, Status)>, u64) {
    let mut h = DefaultHasher::new();
    let mut records = HashMap::new();
    s.epoch().hash(&mut h);
    let mut assigned_total = 0;
    let names: Vec<&str> = s.groups().iter().map(|g| g.name()).collect();
    for pair in names.windows(2) {
        assert!(pair[0] < pair[1], "groups not sorted");
    }
    for g in s.groups() {
        let gi = GROUPS
            .iter()
            .position(|n| *n == g.name())
            .expect("known group");
        g.name().hash(&mut h);
        g.stats().hash(&mut h);
        let topics: Vec<_> = g.topics().iter().collect();
        assert_eq!(topics.len(), g.topics().len(), "topic count");
        for pair in topics.windows(2) {
            assert!(pair[0].name() < pair[1].name(), "topics not sorted");
        }
        let known: Vec<_> = g.known_topics().iter().collect();
        assert_eq!(known.len(), g.known_topics().len(), "known topic count");
        for pair in known.windows(2) {
            assert!(pair[0].name() < pair[1].name(), "known topics not sorted");
        }
        let with_partitions: Vec<&str> = g
            .known_topics()
            .iter()
            .filter(|t| !t.partitions().is_empty())
            .map(|t| t.name())
            .collect();
        let listed: Vec<&str> = g.topics().iter().map(|t| t.name()).collect();
        assert_eq!(listed, with_partitions, "assigned topics of {}", g.name());
        for t in g.known_topics() {
            let ti = TOPICS
                .iter()
                .position(|n| *n == t.name())
                .expect("known topic");
            t.name().hash(&mut h);
            assert_eq!(t.group(), g.name());
            let found = s.topic(g.name(), t.name()).expect("indexed topic");
            assert!(std::ptr::eq(found, &**t), "index and group list disagree");
            for pair in t.records().windows(2) {
                assert!(pair[0].partition < pair[1].partition, "records not sorted");
            }
            for pair in t.partitions().windows(2) {
                assert!(
                    pair[0].partition < pair[1].partition,
                    "partitions not sorted"
                );
            }
            for r in t.records() {
                assert!(r.generation >= 1, "record with generation 0: {r:?}");
                r.hash(&mut h);
                records.insert((gi, ti, r.partition), (r.generation, r.status));
            }
            let owned: Vec<(i32, u64)> = t
                .records()
                .iter()
                .filter(|r| r.status == Status::Assigned)
                .map(|r| (r.partition, r.generation))
                .collect();
            let listed: Vec<(i32, u64)> = t
                .partitions()
                .iter()
                .map(|p| (p.partition, p.generation))
                .collect();
            assert_eq!(
                listed,
                owned,
                "assigned partitions of {}/{}",
                g.name(),
                t.name()
            );
            assigned_total += owned.len();
        }
    }
    assert_eq!(s.partition_count(), assigned_total, "partition_count");
    assert_eq!(
        s.generations_topics(),
        s.groups()
            .iter()
            .map(|g| g.known_topics().len())
            .sum::<usize>(),
        "generations_topics"
    );
    (records, h.finish())
}

/// Per reader: the last generation seen per key, reset across clears.
struct Monotonic {
    last_epoch: u64,
    seen: HashMap<Key, u64>,
}

impl Monotonic {
    fn observe_epoch(&mut self, shared: &Shared, epoch: u64, what: &str) {
        assert!(
            epoch >= self.last_epoch,
            "{what}: epoch went back from {} to {epoch}",
            self.last_epoch
        );
        if shared.cleared_between(self.last_epoch, epoch) {
            self.seen.clear();
        }
        self.last_epoch = epoch;
    }

    fn observe(&mut self, key: Key, generation: u64, what: &str) {
        let prev = self.seen.entry(key).or_insert(0);
        assert!(
            generation >= *prev,
            "{what}: generation of {key:?} went back from {prev} to {generation}"
        );
        *prev = generation;
    }
}

fn rust_reader(shared: Arc<Shared>, id: usize) -> (Counts, Vec<(Key, PartitionHandle)>) {
    let t = &shared.tracker;
    let mut counts = Counts::default();
    let mut mono = Monotonic {
        last_epoch: 0,
        seen: HashMap::new(),
    };
    // Each reader holds handles on a different slice of the keys.
    let handles: Vec<(Key, PartitionHandle)> = keys()
        .enumerate()
        .filter(|(i, _)| i % 3 == id % 3)
        .map(|(_, k)| {
            let h = t
                .group(GROUPS[k.0])
                .unwrap()
                .partition(TOPICS[k.1], k.2)
                .unwrap();
            (k, h)
        })
        .collect();
    let mut handle_seen: Vec<(u64, u64)> = vec![(0, 0); handles.len()];
    let mut held: Vec<(Arc<Snapshot>, u64)> = Vec::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (id as u64 + 1));
    let mut iteration = 0u64;
    while !shared.stop.load(Ordering::Relaxed) {
        iteration += 1;
        let s = t.snapshot();
        counts.snapshots += 1;
        mono.observe_epoch(&shared, s.epoch(), "snapshot");
        let (records, fingerprint) = walk(&s);
        for (k, (gen, _)) in &records {
            mono.observe(*k, *gen, "snapshot");
        }
        if iteration % 64 == 0 {
            if held.len() == 8 {
                held.swap_remove(rng.below(8) as usize);
            }
            held.push((s.clone(), fingerprint));
        }
        if let Some((old, fp)) = held.get(rng.below(8) as usize) {
            assert_eq!(walk(old).1, *fp, "a held snapshot changed");
            counts.rechecked += 1;
        }

        // Point lookups on a few random keys.
        for _ in 0..4 {
            let k: Key = (
                rng.below(3) as usize,
                rng.below(4) as usize,
                rng.below(PARTITIONS as u64) as i32,
            );
            let (g, tp, p) = (GROUPS[k.0], TOPICS[k.1], k.2);
            let e_a = t.epoch();
            mono.observe_epoch(&shared, e_a, "epoch()");
            let gen = t.generation(g, tp, p);
            let owned = t.is_assigned(g, tp, p);
            let gen2 = t.generation(g, tp, p);
            let e_b = t.epoch();
            mono.observe_epoch(&shared, e_b, "epoch()");
            counts.lookups += 5;
            if !shared.cleared_between(s.epoch(), e_b + 1) {
                let in_snapshot = records.get(&k).map_or(0, |r| r.0);
                assert!(gen >= in_snapshot, "lookup behind an older snapshot");
                assert!(gen2 >= gen, "generation of {k:?} went back");
                if owned {
                    assert!(gen2 >= 1, "{k:?} assigned at generation 0");
                }
            }
        }

        // Handles: one atomic load each.
        let before = s.epoch();
        for (i, (k, h)) in handles.iter().enumerate() {
            let st = h.state();
            counts.handle_reads += 1;
            if st.is_assigned() {
                assert!(st.generation >= 1, "handle {k:?} assigned at generation 0");
            }
            assert_eq!(
                st.status.is_none(),
                st.generation == 0,
                "handle {k:?}: {st:?}"
            );
            let now = t.epoch();
            let (last_gen, last_epoch) = handle_seen[i];
            if !shared.cleared_between(last_epoch.min(before), now + 1) {
                assert!(st.generation >= last_gen, "handle {k:?} went back");
                let in_snapshot = records.get(k).map_or(0, |r| r.0);
                assert!(
                    st.generation >= in_snapshot,
                    "handle {k:?} at {} behind a snapshot taken before it ({in_snapshot})",
                    st.generation
                );
            }
            handle_seen[i] = (st.generation, before);
        }

        // generations(): a frozen copy, equal to the snapshot of its epoch.
        if iteration % 8 == 0 {
            let gens = t.generations();
            counts.generations += 1;
            mono.observe_epoch(&shared, gens.epoch(), "generations()");
            let mut flat = HashMap::new();
            let keys: Vec<_> = gens
                .entries()
                .map(|e| (e.group(), e.topic(), e.partition))
                .collect();
            assert!(
                keys.windows(2).all(|p| p[0] < p[1]),
                "generations() not sorted"
            );
            for e in gens.entries() {
                assert!(e.generation >= 1);
                let k = (
                    GROUPS.iter().position(|n| *n == e.group()).unwrap(),
                    TOPICS.iter().position(|n| *n == e.topic()).unwrap(),
                    e.partition,
                );
                mono.observe(k, e.generation, "generations()");
                flat.insert(k, (e.generation, e.status));
            }
            if gens.epoch() == s.epoch() {
                assert_eq!(
                    flat, records,
                    "generations() differs from its epoch's snapshot"
                );
            }
        }
    }
    (counts, handles)
}

/// Reads through the C ABI, as a C program would.
#[allow(unused_unsafe)]
fn ffi_reader(shared: Arc<Shared>) -> Counts {
    use kat::ffi::*;
    // A C program gets this pointer from kat_tracker_new(); a Rust tracker
    // is the same object behind the opaque C type.
    let t: *const kat_tracker_t = std::ptr::from_ref(&shared.tracker).cast();
    let mut counts = Counts::default();
    let mut mono = Monotonic {
        last_epoch: 0,
        seen: HashMap::new(),
    };
    let names: Vec<CString> = GROUPS.iter().map(|g| CString::new(*g).unwrap()).collect();
    let topics: Vec<CString> = TOPICS.iter().map(|t| CString::new(*t).unwrap()).collect();
    let mut group = std::ptr::null_mut();
    let mut handle = std::ptr::null_mut();
    unsafe {
        assert_eq!(
            kat_tracker_group(t, names[0].as_ptr(), &mut group),
            kat_result::KAT_OK
        );
        assert_eq!(
            kat_group_partition(group, topics[0].as_ptr(), 0, &mut handle),
            kat_result::KAT_OK
        );
    }
    let mut handle_last = (0u64, 0u64);
    let text = |p: *const c_char, len: usize| -> String {
        let s = unsafe { CStr::from_ptr(p) }.to_str().unwrap().to_owned();
        assert_eq!(s.len(), len, "length of {s:?}");
        s
    };
    while !shared.stop.load(Ordering::Relaxed) {
        let mut snap = std::ptr::null_mut();
        let (mut epoch, mut ngroups) = (0u64, 0usize);
        unsafe {
            assert_eq!(kat_tracker_snapshot(t, &mut snap), kat_result::KAT_OK);
            assert_eq!(kat_snapshot_epoch(snap, &mut epoch), kat_result::KAT_OK);
            assert_eq!(
                kat_snapshot_group_count(snap, &mut ngroups),
                kat_result::KAT_OK
            );
        }
        counts.snapshots += 1;
        mono.observe_epoch(&shared, epoch, "C snapshot");
        let mut prev_group = String::new();
        for gi in 0..ngroups {
            let mut gv = std::mem::MaybeUninit::<kat_group_view_t>::uninit();
            assert_eq!(
                unsafe { kat_snapshot_group(snap, gi, gv.as_mut_ptr()) },
                kat_result::KAT_OK
            );
            // SAFETY: written on KAT_OK.
            let gv = unsafe { gv.assume_init() };
            let gname = text(gv.name, gv.name_len);
            assert!(gname > prev_group, "C groups not sorted");
            let g = GROUPS.iter().position(|n| *n == gname).unwrap();
            let mut prev_topic = String::new();
            let mut parts_total = 0;
            for ti in 0..gv.topic_count {
                let mut tv = std::mem::MaybeUninit::<kat_topic_view_t>::uninit();
                assert_eq!(
                    unsafe { kat_snapshot_topic(snap, gi, ti, tv.as_mut_ptr()) },
                    kat_result::KAT_OK
                );
                // SAFETY: written on KAT_OK.
                let tv = unsafe { tv.assume_init() };
                assert_eq!(text(tv.group, tv.group_len), gname);
                let tname = text(tv.name, tv.name_len);
                assert!(tname > prev_topic, "C topics not sorted");
                let tix = TOPICS.iter().position(|n| *n == tname).unwrap();
                assert!(tv.partition_count >= 1);
                // SAFETY: borrowed from the snapshot, which is still held.
                let parts =
                    unsafe { std::slice::from_raw_parts(tv.partitions, tv.partition_count) };
                for pair in parts.windows(2) {
                    assert!(
                        pair[0].partition < pair[1].partition,
                        "C partitions not sorted"
                    );
                }
                for p in parts {
                    assert!(p.generation >= 1, "C: assigned at generation 0");
                    mono.observe((g, tix, p.partition), p.generation, "C snapshot");
                    let mut gen = 0;
                    let mut owned = false;
                    unsafe {
                        assert_eq!(
                            kat_snapshot_generation(
                                snap,
                                names[g].as_ptr(),
                                topics[tix].as_ptr(),
                                p.partition,
                                &mut gen
                            ),
                            kat_result::KAT_OK
                        );
                        assert_eq!(
                            kat_snapshot_is_assigned(
                                snap,
                                names[g].as_ptr(),
                                topics[tix].as_ptr(),
                                p.partition,
                                &mut owned
                            ),
                            kat_result::KAT_OK
                        );
                    }
                    assert_eq!(gen, p.generation, "C lookup disagrees with the view");
                    assert!(owned);
                    counts.lookups += 2;
                }
                parts_total += parts.len();
                prev_topic = tname;
            }
            assert_eq!(parts_total, gv.partition_count);
            prev_group = gname;
        }
        unsafe { kat_snapshot_free(snap) };

        // Tracker lookups and the handle, through the C ABI.
        let (mut gen, mut owned, mut e_b) = (0u64, false, 0u64);
        let mut st = std::mem::MaybeUninit::<kat_partition_state_t>::uninit();
        unsafe {
            assert_eq!(
                kat_tracker_is_assigned(t, names[0].as_ptr(), topics[0].as_ptr(), 0, &mut owned),
                kat_result::KAT_OK
            );
            assert_eq!(
                kat_tracker_generation(t, names[0].as_ptr(), topics[0].as_ptr(), 0, &mut gen),
                kat_result::KAT_OK
            );
            assert_eq!(
                kat_partition_handle_state(handle, st.as_mut_ptr()),
                kat_result::KAT_OK
            );
            assert_eq!(kat_tracker_epoch(t, &mut e_b), kat_result::KAT_OK);
        }
        // SAFETY: written on KAT_OK.
        let st = unsafe { st.assume_init() };
        counts.lookups += 2;
        counts.handle_reads += 1;
        mono.observe_epoch(&shared, e_b, "C epoch");
        assert_eq!(st.assigned, st.status == kat_status::KAT_STATUS_ASSIGNED);
        if st.assigned {
            assert!(st.generation >= 1, "C handle assigned at generation 0");
        }
        if !shared.cleared_between(epoch, e_b + 1) && owned {
            assert!(gen >= 1, "C lookup: assigned at generation 0");
        }
        if !shared.cleared_between(handle_last.1, e_b + 1) {
            assert!(st.generation >= handle_last.0, "C handle went back");
        }
        handle_last = (st.generation, epoch);
    }
    unsafe {
        kat_partition_handle_free(handle);
        kat_group_free(group);
    }
    counts
}

#[derive(Default, Debug)]
struct WaitCounts {
    woken: u64,
    timeouts: u64,
}

/// Waits for changes with a short timeout: a returned epoch is never older
/// than the one passed, and the same epoch comes back only after the whole
/// timeout.
fn short_waiter(shared: Arc<Shared>) -> WaitCounts {
    let t = &shared.tracker;
    let mut c = WaitCounts::default();
    let timeout = Duration::from_millis(5);
    while !shared.stop.load(Ordering::Relaxed) {
        let e = t.epoch();
        let started = Instant::now();
        let r = t.wait_for_change(e, timeout);
        assert!(r >= e, "wait_for_change went back from {e} to {r}");
        if r == e {
            assert!(
                started.elapsed() >= timeout,
                "wait_for_change returned the same epoch before its timeout"
            );
            c.timeouts += 1;
        } else {
            assert!(t.epoch() >= r);
            c.woken += 1;
        }
    }
    c
}

/// Waits with a long timeout: while the writer runs, every wait must be
/// woken by a change (a timeout here is a missed wake-up).
fn long_waiter(shared: Arc<Shared>) -> WaitCounts {
    let t = &shared.tracker;
    let mut c = WaitCounts::default();
    loop {
        let e = t.epoch();
        let r = t.wait_for_change(e, Duration::from_secs(30));
        // The test makes one last change after setting `stop`.
        if shared.stop.load(Ordering::SeqCst) {
            return c;
        }
        assert!(
            r > e,
            "a wait for a change past epoch {e} timed out while the writer ran"
        );
        c.woken += 1;
    }
}

#[derive(Default, Debug)]
struct WriterCounts {
    events: u64,
    changes: u64,
    clears: u64,
}

fn owned_by(t: &Tracker, g: &str) -> Vec<(usize, i32)> {
    let s = t.snapshot();
    let Some(gv) = s.group(g) else {
        return Vec::new();
    };
    gv.topics()
        .iter()
        .flat_map(|tv| {
            let ti = TOPICS.iter().position(|n| *n == tv.name()).unwrap();
            tv.partitions().iter().map(move |p| (ti, p.partition))
        })
        .collect()
}

fn writer(shared: Arc<Shared>, seed: u64, run_for: Duration) -> WriterCounts {
    let t = &shared.tracker;
    let groups: Vec<_> = GROUPS.iter().map(|g| t.group(g).unwrap()).collect();
    let mut rng = Rng(seed | 1);
    let mut c = WriterCounts::default();
    let started = Instant::now();
    while started.elapsed() < run_for {
        let g = rng.below(3) as usize;
        let group = &groups[g];
        let owned = owned_by(t, GROUPS[g]);
        let before = t.epoch();
        let roll = rng.below(1000);
        let changed = if roll < 350 {
            // Eager: the assignment becomes a random set.
            let list: Vec<(&str, i32)> = (0..TOPICS.len())
                .flat_map(|ti| (0..PARTITIONS).map(move |p| (TOPICS[ti], p)))
                .filter(|_| rng.chance(3))
                .collect();
            group.replace(list).unwrap()
        } else if roll < 650 {
            // Cooperative: a few more partitions.
            let list: Vec<(&str, i32)> = (0..TOPICS.len())
                .flat_map(|ti| (0..PARTITIONS).map(move |p| (ti, p)))
                .filter(|k| !owned.contains(k))
                .filter(|_| rng.chance(4))
                .map(|(ti, p)| (TOPICS[ti], p))
                .collect();
            group.assigned(list).unwrap()
        } else if roll < 950 {
            // Cooperative: a few partitions go.
            let list: Vec<(&str, i32)> = owned
                .iter()
                .filter(|_| rng.chance(2))
                .map(|&(ti, p)| (TOPICS[ti], p))
                .collect();
            group.revoked(list).unwrap()
        } else if roll < 972 {
            group.lost()
        } else if roll < 995 {
            group.reset()
        } else if rng.chance(4) {
            shared.clears.lock().unwrap().push(before + 1);
            let changed = t.clear();
            if !changed {
                shared.clears.lock().unwrap().retain(|&e| e != before + 1);
            }
            c.clears += u64::from(changed);
            changed
        } else {
            false
        };
        c.events += 1;
        c.changes += u64::from(changed);
        assert_eq!(
            t.epoch(),
            before + u64::from(changed),
            "the epoch advances by one per change"
        );
    }
    c
}

#[test]
fn readers_see_consistent_monotonic_state_while_a_writer_rebalances() {
    let secs = env_f64("KAT_SOAK_SECS", 3.0);
    let readers = env_f64("KAT_SOAK_READERS", 3.0) as usize;
    let seed = std::env::var("KAT_SOAK_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
        });
    let run_for = Duration::from_secs_f64(secs);
    let done = watchdog("soak", run_for + Duration::from_secs(120));

    let shared = Arc::new(Shared {
        tracker: Tracker::new(),
        stop: AtomicBool::new(false),
        clears: Mutex::new(Vec::new()),
    });
    let rust: Vec<_> = (0..readers)
        .map(|id| {
            let s = shared.clone();
            thread::spawn(move || rust_reader(s, id))
        })
        .collect();
    let ffi = {
        let s = shared.clone();
        thread::spawn(move || ffi_reader(s))
    };
    let short = {
        let s = shared.clone();
        thread::spawn(move || short_waiter(s))
    };
    let long = {
        let s = shared.clone();
        thread::spawn(move || long_waiter(s))
    };
    let w = writer(shared.clone(), seed, run_for);

    // Stop everyone, then make one more change to wake the long waiter.
    shared.stop.store(true, Ordering::SeqCst);
    let g = shared.tracker.group(GROUPS[0]).unwrap();
    assert!(g.assigned([(TOPICS[0], 0)]).unwrap());

    let mut counts = Counts::default();
    let mut handles = Vec::new();
    for r in rust {
        let (c, h) = r.join().expect("reader panicked");
        counts.add(c);
        handles.extend(h);
    }
    counts.add(ffi.join().expect("C reader panicked"));
    let short = short.join().expect("waiter panicked");
    let long = long.join().expect("long waiter panicked");
    drop(done);

    // Once the writer is idle, every handle equals the snapshot.
    let s = shared.tracker.snapshot();
    for ((g, tp, p), h) in &handles {
        let want = s.record(GROUPS[*g], TOPICS[*tp], *p).map_or(
            PartitionState {
                generation: 0,
                status: None,
            },
            |r| PartitionState {
                generation: r.generation,
                status: Some(r.status),
            },
        );
        assert_eq!(
            h.state(),
            want,
            "handle {g}/{tp}/{p} after the writer stopped"
        );
    }

    eprintln!(
        "soak: {secs} s, seed {seed}, {} writer events ({} changes, {} clears), final epoch {}; \
         {} readers + 1 C reader: {} reads ({} snapshots walked, {} lookups, {} handle reads, \
         {} generations copies, {} held snapshots re-walked); waits: {} woken / {} timed out \
         (short), {} woken (long)",
        w.events,
        w.changes,
        w.clears,
        s.epoch(),
        readers,
        counts.total(),
        counts.snapshots,
        counts.lookups,
        counts.handle_reads,
        counts.generations,
        counts.rechecked,
        short.woken,
        short.timeouts,
        long.woken,
    );
    assert!(
        w.changes > 0 && counts.snapshots > 0,
        "the soak did no work"
    );
}

/// Ping-pong: the writer makes exactly one change each time the waiter is
/// about to wait for it; a lost wake-up would leave the waiter at its old
/// epoch until the (long) timeout. Every epoch must be seen.
#[test]
fn wait_for_change_never_misses_an_epoch() {
    let rounds: u64 = if std::env::var_os("KAT_DEEP").is_some() {
        200_000
    } else {
        5_000
    };
    let done = watchdog("ping-pong", Duration::from_secs(300));
    let t = Tracker::new();
    let waiting_at = Arc::new(AtomicU64::new(u64::MAX));
    let waiter = {
        let t = t.clone();
        let waiting_at = waiting_at.clone();
        thread::spawn(move || {
            for _ in 0..rounds {
                let e = t.epoch();
                waiting_at.store(e, Ordering::SeqCst);
                let r = t.wait_for_change(e, Duration::from_secs(30));
                assert_eq!(
                    r,
                    e + 1,
                    "waiter at epoch {e} was not woken by the next change"
                );
            }
        })
    };
    let g = t.group("ping").unwrap();
    for round in 0..rounds {
        while waiting_at.load(Ordering::SeqCst) != round {
            thread::yield_now();
        }
        // Alternate two changes so each one is a real change.
        let changed = if round % 2 == 0 {
            g.assigned([("pong", 0)]).unwrap()
        } else {
            g.revoked([("pong", 0)]).unwrap()
        };
        assert!(changed);
    }
    waiter.join().expect("waiter panicked");
    drop(done);
    assert_eq!(t.epoch(), rounds);
    eprintln!("ping-pong: {rounds} changes, each one woke the waiter");
}
