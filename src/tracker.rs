//! The tracker: where rebalance events enter and snapshots are published.
//!
//! Writers (rebalance callbacks) serialise on one mutex, build the next
//! [`Snapshot`] from the current one, and publish it with one `ArcSwap`
//! store. Readers load the current snapshot wait-free and never lock.
//! Partition handles read a per-key atomic cell that writers update before
//! publishing, so a handle learns about a revocation no later than snapshots do.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use arc_swap::{ArcSwap, Guard};
use crossbeam_utils::CachePadded;

use crate::error::{Error, ErrorKind};
use crate::name::{
    group_hasher, key_hash, topic_hash, validate_group, validate_partition, validate_topic,
    GroupHasher, Name,
};
use crate::runtime::{mono_ns, GroupRuntime};
use crate::snapshot::{
    Generations, GroupStats, GroupView, ListEdit, PartitionRecord, Snapshot, Status, TopicEdit,
    TopicView,
};

static GLOBAL: OnceLock<Tracker> = OnceLock::new();

/// Default bound on retained (group, topic) generation entries.
pub const DEFAULT_GENERATIONS_TOPICS_LIMIT: usize = 100_000;

/// The process-wide (or test-local) registry of assignments and generations.
///
/// Cheap to clone (one `Arc`); all clones are the same tracker. `Send + Sync`:
/// any thread may read, and any thread may apply events (writers serialise
/// among themselves on one mutex; readers never wait for them).
#[derive(Clone)]
pub struct Tracker {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    /// The published snapshot; the only thing readers touch. In an
    /// allocation of its own, so the writer's mutex traffic never shares its
    /// cache line, and so per-thread read caches can hold it (see `read`).
    current: Arc<Published>,
    /// The epoch of the published snapshot, stored right after each publish
    /// (and raised by a reader that got a newer snapshot first: see
    /// [`Inner::saw`]); `epoch()` is this one load. On its own cache line.
    epoch: CachePadded<AtomicU64>,
    writer: Mutex<Writer>,
    /// `wait_for_change` callers waiting now (under the mutex), so a publish
    /// with nobody waiting skips the wake-up system call.
    changed: (Mutex<usize>, Condvar),
    /// Per-group state outside snapshots, by group name (see
    /// `crate::runtime`). An entry goes (with the group's history) once no
    /// `Group` value, handle or timer holds it and the snapshot no longer
    /// lists the group (`Inner::sweep_groups`).
    runtimes: Mutex<Runtimes>,
    /// Keys whose last partition handle was dropped since the writer last
    /// looked (`HandleCell::drop`): they may be evictable again.
    released: Mutex<Vec<(Name, Name)>>,
    /// Per-group rebalance history and health (`src/history.rs`).
    pub(crate) observed: crate::history::Registry,
    /// Which of the locks above a thread that `fork()` did not copy held
    /// (`src/fork.rs`).
    fork: crate::fork::ForkState,
}

/// The published snapshot, and whether its tracker is gone (set when the
/// tracker is dropped, so threads' read caches let go of it).
pub(crate) struct Published {
    swap: ArcSwap<Snapshot>,
    dropped: AtomicBool,
}

impl std::ops::Deref for Published {
    type Target = ArcSwap<Snapshot>;

    #[inline(always)]
    fn deref(&self) -> &ArcSwap<Snapshot> {
        &self.swap
    }
}

impl Drop for Inner {
    /// The tracker is gone: its published snapshot is replaced by an empty
    /// one, so that what remains of it in other threads' read caches is the
    /// snapshot each last read (released at that thread's next refresh, see
    /// [`release_thread_read_cache`]), not the latest one as well.
    fn drop(&mut self) {
        self.current.dropped.store(true, Ordering::Release);
        self.current
            .store(Arc::new(Snapshot::empty(*self.epoch.get_mut())));
    }
}

/// The per-group runtime registry and when it is next swept.
#[derive(Default)]
struct Runtimes {
    map: HashMap<Name, Arc<GroupRuntime>>,
    /// Sweep when the map reaches this size (twice its size after a sweep).
    sweep_at: usize,
}

/// Smallest registry size that triggers a sweep.
const MIN_SWEEP: usize = 64;

/// State only writers touch, under `Inner::writer`.
struct Writer {
    limit: usize,
    next_tick: u64,
    /// Eviction candidates in least-recently-assigned order: the entries
    /// with no assigned partition, except those found pinned (`parked`).
    /// Entries with an assigned partition are in neither.
    lru: BTreeMap<u64, (Name, Name)>,
    /// Entries with no assigned partition that eviction found pinned by a
    /// live handle, with their tick; back to `lru` when their last handle
    /// is dropped (`Inner::released`).
    parked: HashMap<(Name, Name), u64>,
    /// Atomic cells behind live partition handles, by (group, topic). Held
    /// weakly: a cell dies with its last handle, and its key is pruned when
    /// the release is processed.
    cells: HashMap<(Name, Name), HashMap<i32, Weak<HandleCell>>>,
    /// Set only at process exit (see [`Tracker::release_at_exit`]): a plain
    /// pointer to the start of the published snapshot's allocation.
    exit_anchor: Option<Arc<Snapshot>>,
}

/// The atomic word a [`PartitionHandle`] reads: `generation << 2 | status`.
/// (Public only so the C ABI can name it; not reachable from the crate root.)
pub struct HandleCell {
    /// Padded: handle cells are small allocations that would otherwise share
    /// cache lines, so a writer updating one key would slow readers of
    /// another key's handle.
    word: CachePadded<AtomicU64>,
    group: Name,
    topic: Name,
    partition: i32,
    /// The group's state outside snapshots (broker generation for tokens,
    /// the drain flag for leases).
    runtime: Arc<GroupRuntime>,
    /// Leases held on this key (see [`Lease`]). On its own cache line, so
    /// that lease traffic does not slow readers of `word`.
    leases: CachePadded<AtomicU64>,
    /// The tracker, for blocking waits on its change signal.
    tracker: std::sync::Weak<Inner>,
}

impl Drop for HandleCell {
    /// The last handle of this key's partition is gone: tells the writer,
    /// which may make the entry evictable again at the next change.
    fn drop(&mut self) {
        if let Some(inner) = self.tracker.upgrade() {
            if inner.forked() & crate::fork::RELEASED != 0 {
                // Forked while another thread held the list: the key stays
                // parked (not evictable) in this child.
                return;
            }
            inner
                .released
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((self.group.clone(), self.topic.clone()));
        }
    }
}

/// A worker's in-flight claim on a partition at a generation, taken with
/// [`PartitionHandle::lease`] and released when dropped.
///
/// While any lease on a partition is held, an orderly revoke handled by the
/// glue with a drain timeout ([`Group::set_drain_timeout`]) waits (up to
/// the timeout) before it gives the partition back to librdkafka, so the
/// worker can finish and commit. `Send + Sync`; borrows the handle.
#[must_use = "a lease is released when dropped"]
pub struct Lease<'a> {
    cell: &'a HandleCell,
    generation: u64,
}

impl Lease<'_> {
    /// Whether the work may still act on the partition (commit, write): the
    /// partition is assigned at the lease's generation, or an orderly revoke
    /// is draining it (librdkafka still owns it until the drain ends).
    /// False at once after a loss or expiry, and after the drain ended. One
    /// or two atomic loads.
    #[inline]
    pub fn valid(&self) -> bool {
        lease_valid(self.cell, self.generation)
    }

    /// The generation the lease was taken at.
    pub fn generation(&self) -> u64 {
        self.generation
    }
}

impl Drop for Lease<'_> {
    #[inline]
    fn drop(&mut self) {
        self.cell.leases.fetch_sub(1, Ordering::Release);
    }
}

/// See [`PartitionHandle::wait_not_owned`].
pub(crate) fn wait_not_owned(cell: &HandleCell, generation: u64, timeout: Duration) -> bool {
    let ended =
        || !PartitionState::from_word(cell.word.load(Ordering::Acquire)).is_owned_at(generation);
    if ended() {
        return true;
    }
    let Some(inner) = cell.tracker.upgrade() else {
        // No tracker, no event can come.
        return ended();
    };
    let deadline = Instant::now().checked_add(timeout);
    if inner.forked() & crate::fork::CHANGED != 0 {
        return crate::fork::poll_until(deadline, ended);
    }
    let (lock, cv) = &inner.changed;
    let mut guard = lock.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        // Checked under the lock: a publish stores the word before it takes
        // the lock to notify, so no wake-up is missed.
        if ended() {
            return true;
        }
        let wait = match deadline {
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => left,
                _ => return false,
            },
            None => Duration::from_secs(3600),
        };
        // Counted as a waiter, so publishers notify.
        *guard += 1;
        guard = cv
            .wait_timeout(guard, wait)
            .unwrap_or_else(|p| p.into_inner())
            .0;
        *guard -= 1;
    }
}

/// See [`Lease::valid`].
#[inline]
pub(crate) fn lease_valid(cell: &HandleCell, generation: u64) -> bool {
    let state = PartitionState::from_word(cell.word.load(Ordering::Acquire));
    state.generation == generation
        && (state.status == Some(Status::Assigned)
            || (state.status == Some(Status::Revoked)
                && cell.runtime.draining.load(Ordering::Acquire)))
}

/// Takes a lease on `cell` at `generation`; false (nothing held) unless the
/// key is assigned at exactly that generation.
#[inline]
pub(crate) fn lease_acquire(cell: &HandleCell, generation: u64) -> bool {
    // The increment is published before the state is read; a drain stores
    // the revoked state before it reads the counters (with a fence): either
    // this sees the revoke and backs out, or the drain sees the lease.
    cell.leases.fetch_add(1, Ordering::SeqCst);
    let word = cell.word.load(Ordering::SeqCst);
    if PartitionState::from_word(word).is_owned_at(generation) {
        return true;
    }
    cell.leases.fetch_sub(1, Ordering::Release);
    false
}

/// Releases one lease taken with [`lease_acquire`]; false (and nothing
/// changes) if none is held.
#[inline]
pub(crate) fn lease_release(cell: &HandleCell) -> bool {
    let before = cell.leases.fetch_sub(1, Ordering::Release);
    if before == 0 {
        cell.leases.fetch_add(1, Ordering::Relaxed);
        return false;
    }
    true
}

/// What a job carries into its own store's conditional write: the partition's
/// kat generation and the broker's generation of the membership (group
/// generation id under the classic protocol, member epoch under KIP-848).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FencingToken {
    /// kat's generation of the partition (times this process's group was
    /// assigned it).
    pub generation: u64,
    /// The broker's generation id or member epoch at the last rebalance the
    /// glue handled for this group; 0 when unknown (librdkafka without
    /// `rd_kafka_consumer_group_metadata_generation_id`, or no rebalance
    /// recorded through the glue yet).
    pub broker_generation: i32,
}

#[inline]
fn pack(record: Option<&PartitionRecord>) -> u64 {
    record.map_or(0, |r| (r.generation << 2) | r.status as u64)
}

/// One (group, topic) key's state as a partition handle reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartitionState {
    /// Times assigned; 0 if never (or evicted, or cleared).
    pub generation: u64,
    /// `None` when never assigned.
    pub status: Option<Status>,
}

impl PartitionState {
    /// Whether the partition is assigned now.
    #[inline]
    pub fn is_assigned(&self) -> bool {
        self.status == Some(Status::Assigned)
    }

    /// Whether the partition is assigned now, at exactly `generation`: the
    /// fencing check before a commit or a side effect.
    #[inline]
    pub fn is_owned_at(&self, generation: u64) -> bool {
        self.is_assigned() && self.generation == generation
    }

    #[inline]
    pub(crate) fn from_word(word: u64) -> PartitionState {
        PartitionState {
            generation: word >> 2,
            status: Status::from_bits(word & 3),
        }
    }
}

/// A long-lived handle on one (group, topic, partition) key.
///
/// [`state`](PartitionHandle::state) is one atomic load: the hot path for "am
/// I still the owner, at the generation I started with?". The handle stays
/// valid after revocation, reassignment and `clear()`, and its key is never
/// evicted while it lives. `Send + Sync`, cheap to clone.
#[derive(Clone)]
pub struct PartitionHandle {
    cell: Arc<HandleCell>,
}

impl PartitionHandle {
    /// The key's generation and status. One `Acquire` load; wait-free; never
    /// allocates.
    #[inline]
    pub fn state(&self) -> PartitionState {
        PartitionState::from_word(self.cell.word.load(Ordering::Acquire))
    }

    /// The group name.
    pub fn group(&self) -> &str {
        self.cell.group.as_str()
    }

    /// The fencing token while the partition is assigned, `None` otherwise.
    /// Three atomic loads (the state word is read before and after the
    /// broker generation, and again if a rebalance came in between), so the
    /// two parts belong to one moment; wait-free in practice, never locks.
    #[inline]
    pub fn token(&self) -> Option<FencingToken> {
        Self::token_of(&self.cell)
    }

    /// Takes a lease on the partition at `generation` (normally the one in
    /// the state read when the work started): `None` unless the partition
    /// is assigned at exactly that generation — not while a revoke is
    /// draining it, nor after. Lock-free: one atomic increment and one load
    /// (one decrement more on failure); the lease's drop is one decrement.
    #[inline]
    pub fn lease(&self, generation: u64) -> Option<Lease<'_>> {
        // `then`, not `then_some`: a Lease built and dropped on failure
        // would release a lease that was never taken.
        lease_acquire(&self.cell, generation).then(|| Lease {
            cell: &self.cell,
            generation,
        })
    }

    /// Blocks until the partition is no longer assigned at `generation`
    /// (revoked, lost, expired, drained, or reassigned at another
    /// generation) or `timeout` passes; returns whether ownership at
    /// `generation` ended. Returns at once if it already has. Woken by the
    /// tracker's change signal (every event), so it costs nothing while it
    /// waits and a mutex round per event; for worker and monitoring
    /// threads, never for hot paths.
    pub fn wait_not_owned(&self, generation: u64, timeout: Duration) -> bool {
        wait_not_owned(&self.cell, generation, timeout)
    }

    /// Leases held on this partition now. One atomic load.
    pub fn leases_held(&self) -> u64 {
        self.cell.leases.load(Ordering::Acquire)
    }

    /// [`token`](Self::token) straight from a cell (C ABI).
    #[inline]
    pub(crate) fn token_of(cell: &HandleCell) -> Option<FencingToken> {
        loop {
            let before = cell.word.load(Ordering::Acquire);
            let broker = cell.runtime.broker_generation.load(Ordering::Acquire);
            if cell.word.load(Ordering::Acquire) == before {
                let state = PartitionState::from_word(before);
                return state.is_assigned().then_some(FencingToken {
                    generation: state.generation,
                    broker_generation: broker as i32,
                });
            }
        }
    }

    /// Gives up the handle as a raw pointer owning one reference (C ABI).
    pub(crate) fn into_raw(self) -> *const HandleCell {
        Arc::into_raw(self.cell)
    }

    /// Reads the state straight from a cell (C ABI: one load, no `Arc`).
    #[inline]
    pub(crate) fn state_of(cell: &HandleCell) -> PartitionState {
        PartitionState::from_word(cell.word.load(Ordering::Acquire))
    }

    /// Releases a reference given out by [`into_raw`](Self::into_raw).
    ///
    /// # Safety
    /// `p` must come from `into_raw` and be released once.
    pub(crate) unsafe fn release_raw(p: *const HandleCell) {
        // SAFETY: per the contract, `p` owns one strong reference.
        drop(unsafe { Arc::from_raw(p) });
    }

    /// The topic name.
    pub fn topic(&self) -> &str {
        self.cell.topic.as_str()
    }

    /// The partition number.
    pub fn partition(&self) -> i32 {
        self.cell.partition
    }
}

impl std::fmt::Debug for PartitionHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionHandle")
            .field("group", &self.group())
            .field("topic", &self.topic())
            .field("partition", &self.partition())
            .field("state", &self.state())
            .finish()
    }
}

/// One consumer membership (one `rd_kafka_t` in one consumer group), by name.
///
/// Events are applied through a group. Two `Group` values with the same name
/// on the same tracker are the same group. Cheap to clone; `Send + Sync`.
#[derive(Clone)]
pub struct Group {
    inner: Arc<Inner>,
    name: Name,
    /// The index hasher after the group name: by-name reads hash the topic only.
    hasher: GroupHasher,
    /// State of this group outside snapshots, shared by every `Group` value
    /// of this name on this tracker.
    runtime: Arc<GroupRuntime>,
}

impl std::fmt::Debug for Group {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Group").field(&self.name.as_str()).finish()
    }
}

impl std::fmt::Debug for Tracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tracker")
            .field("epoch", &self.epoch())
            .finish_non_exhaustive()
    }
}

impl Default for Tracker {
    fn default() -> Tracker {
        Tracker::new()
    }
}

/// A group held weakly (by the deadline timer): keeps neither the tracker
/// nor the group's runtime state alive.
pub(crate) struct WeakGroup {
    inner: std::sync::Weak<Inner>,
    name: Name,
}

impl WeakGroup {
    /// The group again, if its tracker still exists.
    pub(crate) fn upgrade(&self, runtime: Arc<GroupRuntime>) -> Option<Group> {
        Some(Group {
            inner: self.inner.upgrade()?,
            hasher: group_hasher(self.name.as_str()),
            name: self.name.clone(),
            runtime,
        })
    }
}

/// Partitions of one event, validated, grouped by topic: topics sorted by
/// name (each once), each topic's partitions sorted and deduplicated. All
/// partitions share one buffer; each topic owns a range of it.
struct ByTopic<'a> {
    topics: Vec<(&'a str, std::ops::Range<usize>)>,
    parts: Vec<i32>,
}

impl<'a> ByTopic<'a> {
    fn iter(&self) -> impl Iterator<Item = (&'a str, &[i32])> + '_ {
        self.topics
            .iter()
            .map(|(t, r)| (*t, &self.parts[r.clone()]))
    }

    fn contains(&self, topic: &str) -> bool {
        self.topics
            .binary_search_by(|(t, _)| (*t).cmp(topic))
            .is_ok()
    }
}

/// Validates and groups an event's list. A run of elements of the same topic
/// (librdkafka lists are usually sorted) costs one comparison per element:
/// the topic name is validated once per run, no map is searched, and the
/// partitions go to one buffer.
fn collect<'a>(list: impl IntoIterator<Item = (&'a str, i32)>) -> Result<ByTopic<'a>, Error> {
    let list = list.into_iter();
    // Capped: an iterator may claim more elements than memory can hold.
    let mut parts: Vec<i32> = Vec::with_capacity(list.size_hint().0.min(1 << 16));
    let mut starts: Vec<(&'a str, usize)> = Vec::new();
    for (i, (topic, partition)) in list.enumerate() {
        match starts.last() {
            Some((t, _)) if *t == topic => {
                validate_partition(partition).map_err(|e| e.at(i))?;
            }
            _ => {
                validate_topic(topic).map_err(|e| e.at(i))?;
                validate_partition(partition).map_err(|e| e.at(i))?;
                starts.push((topic, parts.len()));
            }
        }
        parts.push(partition);
    }
    let ends = starts
        .iter()
        .skip(1)
        .map(|(_, s)| *s)
        .chain(std::iter::once(parts.len()));
    let mut topics: Vec<(&'a str, std::ops::Range<usize>)> = starts
        .iter()
        .zip(ends)
        .map(|((t, s), e)| (*t, *s..e))
        .collect();
    let strictly_sorted = |p: &[i32]| p.windows(2).all(|w| w[0] < w[1]);
    let tidy = topics.windows(2).all(|w| w[0].0 < w[1].0)
        && topics
            .iter()
            .all(|(_, r)| strictly_sorted(&parts[r.clone()]));
    if tidy {
        return Ok(ByTopic { topics, parts });
    }
    // Stable: runs of one topic keep their order before merging.
    topics.sort_by(|a, b| a.0.cmp(b.0));
    let mut merged_parts: Vec<i32> = Vec::with_capacity(parts.len());
    let mut merged: Vec<(&'a str, std::ops::Range<usize>)> = Vec::with_capacity(topics.len());
    let mut k = 0;
    while k < topics.len() {
        let topic = topics[k].0;
        let start = merged_parts.len();
        while k < topics.len() && topics[k].0 == topic {
            merged_parts.extend_from_slice(&parts[topics[k].1.clone()]);
            k += 1;
        }
        let run = &mut merged_parts[start..];
        run.sort_unstable();
        let mut kept = 0;
        for x in 0..run.len() {
            if kept == 0 || run[x] != run[kept - 1] {
                run[kept] = run[x];
                kept += 1;
            }
        }
        merged_parts.truncate(start + kept);
        merged.push((topic, start..merged_parts.len()));
    }
    Ok(ByTopic {
        topics: merged,
        parts: merged_parts,
    })
}

fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// What an event does to one topic's records.
enum Demote<'a> {
    /// Assigned records stay assigned.
    Nothing,
    /// Assigned records among these (sorted) partitions get this status.
    Listed(&'a [i32], Status),
    /// Every assigned record not re-assigned gets this status.
    All(Status),
}

/// Merges one topic's records with an event: partitions in `assign` (sorted)
/// get `generation + 1` and `Assigned`; assigned ones chosen by `demote` get
/// its status. Returns `None` when nothing changes.
fn merge_records(
    old: &[PartitionRecord],
    assign: &[i32],
    demote: &Demote<'_>,
) -> Option<Vec<PartitionRecord>> {
    // The exact length first (a merge count), so the records are allocated
    // once and the boxed slice needs no shrinking.
    let (mut i, mut j, mut fresh) = (0, 0, 0);
    while i < old.len() && j < assign.len() {
        match old[i].partition.cmp(&assign[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
            std::cmp::Ordering::Greater => {
                fresh += 1;
                j += 1;
            }
        }
    }
    fresh += assign.len() - j;
    let mut out = Vec::with_capacity(old.len() + fresh);
    let mut changed = !assign.is_empty();
    let (mut i, mut j) = (0, 0);
    let demoted = |r: &PartitionRecord| -> PartitionRecord {
        if r.status != Status::Assigned {
            return *r;
        }
        let to = match demote {
            Demote::Nothing => None,
            Demote::Listed(parts, s) => parts.binary_search(&r.partition).ok().map(|_| *s),
            Demote::All(s) => Some(*s),
        };
        match to {
            Some(status) => PartitionRecord { status, ..*r },
            None => *r,
        }
    };
    while i < old.len() || j < assign.len() {
        let o = old.get(i);
        let a = assign.get(j).copied();
        match (o, a) {
            (Some(r), Some(p)) if r.partition == p => {
                out.push(PartitionRecord {
                    partition: p,
                    generation: r.generation + 1,
                    status: Status::Assigned,
                });
                i += 1;
                j += 1;
            }
            (Some(r), Some(p)) if p < r.partition => {
                out.push(PartitionRecord {
                    partition: p,
                    generation: 1,
                    status: Status::Assigned,
                });
                j += 1;
            }
            (Some(r), _) => {
                let n = demoted(r);
                changed |= n != *r;
                out.push(n);
                i += 1;
            }
            (None, Some(p)) => {
                out.push(PartitionRecord {
                    partition: p,
                    generation: 1,
                    status: Status::Assigned,
                });
                j += 1;
            }
            (None, None) => unreachable!("loop condition"),
        }
    }
    changed.then_some(out)
}

/// One (group, topic) change of a [`Txn`]: the view in the current snapshot
/// and the next one (`None`: absent / removed).
type Change<'s> = (Option<&'s TopicView>, Option<Arc<TopicView>>);

/// The changes one event makes, collected before the next snapshot is built.
///
/// An event changes topics of one group only; they are kept in a plain
/// vector by topic name (no map, no (group, topic) comparisons), and entries
/// evicted by the event (of any group) apart.
struct Txn<'s> {
    cur: &'s Snapshot,
    /// The group of `changes` (the event's group).
    group: Option<Name>,
    /// The event's changes to `group`, by topic (each topic once).
    changes: Vec<(Name, Change<'s>)>,
    /// Entries evicted by the commit that the event did not change, by
    /// (group, topic), with their current view.
    evicted: Vec<(Name, Name, Option<&'s TopicView>)>,
    /// Groups whose view must be rebuilt, with their new counters.
    groups: BTreeMap<Name, GroupStats>,
}

impl<'s> Txn<'s> {
    fn new(cur: &'s Snapshot) -> Txn<'s> {
        Txn {
            cur,
            group: None,
            changes: Vec::new(),
            evicted: Vec::new(),
            groups: BTreeMap::new(),
        }
    }

    fn stats(&mut self, group: &Name) -> &mut GroupStats {
        let cur = self.cur;
        self.groups.entry(group.clone()).or_insert_with(|| {
            cur.group(group.as_str())
                .map(|g| g.stats)
                .unwrap_or_default()
        })
    }

    /// Applies `assign` / `demote` to one topic (each topic once per event,
    /// all of one group); true if it changed.
    fn topic(
        &mut self,
        w: &mut Writer,
        group: &Name,
        topic: &str,
        assign: &[i32],
        demote: &Demote<'_>,
    ) -> bool {
        let old = self.cur.topic(group.as_str(), topic);
        if old.is_none() && assign.is_empty() {
            return false;
        }
        let old_records = old.map_or(&[][..], |t| t.records());
        let Some(records) = merge_records(old_records, assign, demote) else {
            return false;
        };
        let (topic_name, tick) = match old {
            Some(t) if assign.is_empty() => (t.topic_name().clone(), t.lru_tick),
            Some(t) => (t.topic_name().clone(), w.tick()),
            None => (Name::new(topic), w.tick()),
        };
        let view = match old {
            Some(t) => TopicView::new_hashed(
                group.clone(),
                topic_name.clone(),
                records.into(),
                tick,
                t.hash,
            ),
            None => TopicView::new(group.clone(), topic_name.clone(), records.into(), tick),
        };
        debug_assert!(self.group.as_ref().map_or(true, |g| g == group));
        if self.group.is_none() {
            self.group = Some(group.clone());
        }
        self.changes.push((topic_name, (old, Some(Arc::new(view)))));
        true
    }

    /// Builds the next snapshot (evicting past the limit) and updates the
    /// writer's bookkeeping and the handle cells; `None` if nothing changes.
    fn commit(mut self, w: &mut Writer, inner: &Inner) -> Option<Snapshot> {
        w.take_released(inner);
        let cur = self.cur;
        // Topics come sorted by name, except `replace`'s two runs.
        if !self.changes.windows(2).all(|p| p[0].0 <= p[1].0) {
            self.changes.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        }

        // Eviction candidates follow the changes: an entry is a candidate
        // while it has no assigned partition.
        if let Some(g) = &self.group {
            for (t, (old, new)) in &self.changes {
                let candidate = |v: &TopicView| v.assigned_len() == 0;
                if let Some(old) = old.filter(|v| candidate(v)) {
                    if w.lru.remove(&old.lru_tick).is_none() {
                        w.parked.remove(&(g.clone(), t.clone()));
                    }
                }
                if let Some(new) = new.as_deref().filter(|v| candidate(v)) {
                    w.lru.insert(new.lru_tick, (g.clone(), t.clone()));
                }
            }
        }
        self.evict(w);
        if self.changes.is_empty() && self.evicted.is_empty() && self.groups.is_empty() {
            return None;
        }

        // Every change by (group, topic): the event's, merged with the
        // evicted entries of other topics (usually none or a few).
        self.evicted
            .sort_unstable_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        let evicted: Vec<(Option<&TopicView>, Option<Arc<TopicView>>)> =
            self.evicted.iter().map(|e| (e.2, None)).collect();
        let mut all: Vec<(&Name, &Name, &Change<'_>)> =
            Vec::with_capacity(self.changes.len() + evicted.len());
        {
            let mut ev = self.evicted.iter().zip(&evicted).peekable();
            if let Some(g) = &self.group {
                for (t, c) in &self.changes {
                    while let Some(((eg, et, _), ec)) =
                        ev.next_if(|((eg, et, _), _)| (eg, et) < (g, t))
                    {
                        all.push((eg, et, ec));
                    }
                    all.push((g, t, c));
                }
            }
            all.extend(ev.map(|((eg, et, _), ec)| (eg, et, ec)));
        }

        // Handle cells follow the changes.
        if !w.cells.is_empty() {
            for &(g, t, (_, new)) in &all {
                let key = (g.clone(), t.clone());
                match new {
                    Some(view) => {
                        if let Some(cells) = w.cells.get(&key) {
                            for (p, cell) in cells {
                                if let Some(cell) = cell.upgrade() {
                                    cell.word.store(pack(view.record(*p)), Ordering::Release);
                                }
                            }
                        }
                    }
                    None => {
                        // Only entries without live handles are evicted.
                        w.cells.remove(&key);
                    }
                }
            }
        }

        let index = cur
            .index
            .edited(all.iter().map(|&(g, t, (_, new))| (g, t, new.as_ref())));

        // Group views: rebuild the touched groups' topic lists (`all` holds
        // each group's changes as one run, sorted by topic).
        let mut by_group: Vec<(&Name, Vec<TopicEdit<'_>>)> = Vec::new();
        for &(g, t, (_, new)) in &all {
            match by_group.last_mut() {
                Some((last, edits)) if *last == g => edits.push((t.as_str(), new.as_ref())),
                _ => by_group.push((g, vec![(t.as_str(), new.as_ref())])),
            }
        }
        for (g, _) in &by_group {
            if !self.groups.contains_key(*g) {
                let stats = cur.group(g.as_str()).map(|v| v.stats).unwrap_or_default();
                self.groups.insert((*g).clone(), stats);
            }
        }
        // A group whose entries are all gone leaves the snapshot.
        let new_groups: Vec<(&Name, Option<Arc<GroupView>>)> = self
            .groups
            .iter()
            .map(|(g, stats)| {
                let old = cur.group(g.as_str());
                let edits = by_group
                    .binary_search_by(|(n, _)| (*n).cmp(g))
                    .map_or(&[][..], |i| by_group[i].1.as_slice());
                let view = GroupView::edited(g.clone(), *stats, old, edits);
                (g, (!view.known.is_empty()).then(|| Arc::new(view)))
            })
            .collect();
        let edits: Vec<ListEdit<'_, GroupView>> = new_groups
            .iter()
            .map(|(g, v)| (g.as_str(), v.as_ref()))
            .collect();
        let groups = cur.groups.edit(&edits);

        Some(Snapshot {
            epoch: cur.epoch + 1,
            groups,
            index,
        })
    }

    /// Marks least-recently-assigned entries for removal while the number of
    /// entries exceeds the limit. Only candidates (no assigned partition) are
    /// visited; one found pinned by a live handle is parked until its last
    /// handle goes, so each entry is visited once per pin: O(1) amortised.
    fn evict(&mut self, w: &mut Writer) {
        let mut count = self.cur.index.len();
        for (_, (old, new)) in &self.changes {
            match (old.is_some(), new.is_some()) {
                (false, true) => count += 1,
                (true, false) => count -= 1,
                _ => {}
            }
        }
        while count > w.limit {
            let Some((tick, key)) = w.lru.pop_first() else {
                break;
            };
            if w.pinned(&key) {
                w.parked.insert(key, tick);
                continue;
            }
            let (g, t) = key;
            let mine = if self.group.as_ref() == Some(&g) {
                self.changes.binary_search_by(|(n, _)| n.cmp(&t)).ok()
            } else {
                None
            };
            match mine {
                Some(i) => self.changes[i].1 .1 = None,
                None => {
                    let old = self.cur.topic(g.as_str(), t.as_str());
                    self.evicted.push((g, t, old));
                }
            }
            count -= 1;
        }
    }
}

impl Writer {
    fn tick(&mut self) -> u64 {
        self.next_tick += 1;
        self.next_tick
    }

    /// Whether a live handle pins this entry.
    fn pinned(&self, key: &(Name, Name)) -> bool {
        self.cells
            .get(key)
            .is_some_and(|cells| cells.values().any(|c| c.strong_count() > 0))
    }

    /// Processes the keys whose last handle was dropped: prunes their dead
    /// cells, and makes a parked entry a candidate again once nothing pins
    /// it. O(1) per dropped handle.
    fn take_released(&mut self, inner: &Inner) {
        if inner.forked() & crate::fork::RELEASED != 0 {
            return;
        }
        let keys = std::mem::take(&mut *inner.released.lock().unwrap_or_else(|p| p.into_inner()));
        for key in keys {
            if let Some(cells) = self.cells.get_mut(&key) {
                cells.retain(|_, c| c.strong_count() > 0);
                if !cells.is_empty() {
                    continue;
                }
                self.cells.remove(&key);
            }
            if let Some(tick) = self.parked.remove(&key) {
                self.lru.insert(tick, key);
            }
        }
    }
}

impl Tracker {
    /// A new, empty tracker with the default generations limit.
    pub fn new() -> Tracker {
        Tracker::with_generations_topics_limit(DEFAULT_GENERATIONS_TOPICS_LIMIT)
    }

    /// A new, empty tracker keeping at most `limit` (group, topic) generation
    /// entries (values below 1 are raised to 1).
    pub fn with_generations_topics_limit(limit: usize) -> Tracker {
        crate::fork::register();
        Tracker {
            inner: Arc::new(Inner {
                current: Arc::new(Published {
                    swap: ArcSwap::from_pointee(Snapshot::empty(0)),
                    dropped: AtomicBool::new(false),
                }),
                epoch: CachePadded::new(AtomicU64::new(0)),
                writer: Mutex::new(Writer {
                    limit: limit.max(1),
                    next_tick: 0,
                    lru: BTreeMap::new(),
                    parked: HashMap::new(),
                    cells: HashMap::new(),
                    exit_anchor: None,
                }),
                changed: (Mutex::new(0), Condvar::new()),
                runtimes: Mutex::new(Runtimes {
                    map: HashMap::new(),
                    sweep_at: MIN_SWEEP,
                }),
                released: Mutex::new(Vec::new()),
                observed: crate::history::Registry::new(),
                fork: crate::fork::ForkState::new(),
            }),
        }
    }

    /// The process-wide tracker, created on first use and never dropped.
    ///
    /// At process exit (`exit()` or a return from `main`, through the C
    /// runtime's `atexit`) it is emptied as by [`clear`](Tracker::clear), so
    /// that memory checkers such as valgrind see nothing of it left
    /// allocated; a thread still running then reads an empty tracker.
    pub fn global() -> &'static Tracker {
        GLOBAL.get_or_init(|| {
            // SAFETY: `atexit` only stores the function pointer; the function
            // is a plain `extern "C" fn()` that never unwinds (it catches
            // panics), as the C runtime requires. Registration can only fail
            // for lack of memory, which costs nothing but the release.
            unsafe { libc::atexit(release_global_at_exit) };
            Tracker::new()
        })
    }

    /// The process-wide tracker if something already created it.
    pub(crate) fn global_if_created() -> Option<&'static Tracker> {
        GLOBAL.get()
    }

    /// Every group's glue failure count ([`Group::glue_failures`]), sorted
    /// by group name: groups this tracker handed out, whether or not they
    /// had an event, until the group bound forgets them (README, "Bounded
    /// memory"). Takes the short lock of the per-group runtime registry
    /// and allocates: for scrapes, never for hot paths.
    pub(crate) fn glue_failure_counts(&self) -> Vec<(Name, u64)> {
        if self.inner.forked() & crate::fork::RUNTIMES != 0 {
            return Vec::new();
        }
        let mut v: Vec<(Name, u64)> = self
            .inner
            .runtimes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .iter()
            .map(|(n, r)| (n.clone(), r.glue_failures.load(Ordering::Relaxed)))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// The group with this name (get-or-create: no assignment state is
    /// created until its first event). Validates the name; allocates the name
    /// once; takes the short lock of the per-group runtime registry (never one
    /// readers take). When that registry doubled since its last sweep, also
    /// sweeps it under the writers' lock (amortised O(1) per call): groups
    /// nobody holds and the snapshot no longer lists are forgotten (README,
    /// "Bounded memory").
    pub fn group(&self, name: &str) -> Result<Group, Error> {
        validate_group(name)?;
        if self.inner.forked() & crate::fork::RUNTIMES != 0 {
            return Err(crate::fork::forked("creating a group value"));
        }
        let name = Name::new(name);
        let (runtime, sweep) = {
            let mut r = self
                .inner
                .runtimes
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            let runtime = r.map.entry(name.clone()).or_default().clone();
            (runtime, r.map.len() >= r.sweep_at)
        };
        if sweep {
            self.inner.sweep_groups();
        }
        Ok(Group {
            inner: self.inner.clone(),
            hasher: group_hasher(name.as_str()),
            name,
            runtime,
        })
    }

    /// The current snapshot. Wait-free (one `ArcSwap` load and a reference
    /// count increment); never allocates; the snapshot never changes.
    #[inline]
    pub fn snapshot(&self) -> Arc<Snapshot> {
        let s = self.inner.current.load_full();
        self.inner.saw(s.epoch);
        s
    }

    /// A short-lived borrow of the current snapshot, cheaper than
    /// [`snapshot`](Tracker::snapshot) for one or two lookups. Wait-free; do
    /// not hold it for long (it keeps one of the thread's few fast slots).
    #[inline]
    pub fn peek(&self) -> Guard<Arc<Snapshot>> {
        let s = self.inner.current.load();
        self.inner.saw(s.epoch);
        s
    }

    /// The current epoch: advances by one on every event that changes
    /// something. Wait-free: one atomic load. Never older than a snapshot
    /// this thread already read, never newer than the one it reads next.
    #[inline]
    pub fn epoch(&self) -> u64 {
        self.inner.epoch.load(Ordering::Acquire)
    }

    /// The generation of a key: how many times `group` was assigned the
    /// partition (0 if never, or evicted). Wait-free; never allocates.
    #[inline]
    pub fn generation(&self, group: &str, topic: &str, partition: i32) -> u64 {
        let hash = key_hash(group, topic);
        self.inner.read(|s| {
            s.record_hashed(hash, group, topic, partition)
                .map_or(0, |r| r.generation)
        })
    }

    /// Whether `group` owns the partition now. Wait-free; never allocates.
    #[inline]
    pub fn is_assigned(&self, group: &str, topic: &str, partition: i32) -> bool {
        let hash = key_hash(group, topic);
        self.inner.read(|s| {
            s.record_hashed(hash, group, topic, partition)
                .is_some_and(|r| r.status == Status::Assigned)
        })
    }

    /// Every key ever assigned (revoked and lost included, within the limit)
    /// with its generation and status: a frozen copy. Wait-free to take;
    /// allocates the copy.
    pub fn generations(&self) -> Generations {
        self.peek().generations()
    }

    /// Blocks until the epoch differs from `epoch` or `timeout` passes, and
    /// returns the epoch then. For monitoring threads, never for hot paths.
    pub fn wait_for_change(&self, epoch: u64, timeout: Duration) -> u64 {
        let deadline = Instant::now().checked_add(timeout);
        if self.inner.forked() & crate::fork::CHANGED != 0 {
            crate::fork::poll_until(deadline, || self.epoch() != epoch);
            return self.epoch();
        }
        let (lock, cv) = &self.inner.changed;
        let mut guard = lock.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            let now_epoch = self.epoch();
            if now_epoch != epoch {
                return now_epoch;
            }
            let wait = match deadline {
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => left,
                    _ => return now_epoch,
                },
                None => Duration::from_secs(3600),
            };
            *guard += 1;
            guard = cv
                .wait_timeout(guard, wait)
                .unwrap_or_else(|p| p.into_inner())
                .0;
            *guard -= 1;
        }
    }

    /// Removes everything: assignments and generations of every group.
    /// Handles stay valid and read generation 0. Advances the epoch if
    /// anything was there. Takes the writer lock. In a process forked while
    /// another thread held it, does nothing and returns false (see
    /// [`writable`](Tracker::writable)).
    pub fn clear(&self) -> bool {
        let Ok(mut w) = self.inner.lock_writer() else {
            return false;
        };
        let cur = self.inner.current.load_full();
        self.inner.observed.clear();
        let had_cells = w.cells.values().any(|c| {
            c.values().any(|x| {
                x.upgrade()
                    .is_some_and(|x| x.word.load(Ordering::Relaxed) != 0)
            })
        });
        if cur.groups.is_empty() && cur.index.len() == 0 && !had_cells {
            return false;
        }
        for cells in w.cells.values() {
            for c in cells.values().filter_map(Weak::upgrade) {
                c.word.store(0, Ordering::Release);
            }
        }
        w.cells
            .retain(|_, cells| cells.values().any(|c| c.strong_count() > 0));
        w.lru.clear();
        w.parked.clear();
        self.publish(Snapshot::empty(cur.epoch + 1));
        true
    }

    /// The bound on retained (group, topic) generation entries (0 in a
    /// process forked while another thread held the writers' lock: see
    /// [`writable`](Tracker::writable)).
    pub fn generations_topics_limit(&self) -> usize {
        self.inner.lock_writer().map_or(0, |w| w.limit)
    }

    /// `Err` with [`ErrorKind::Forked`] if this process was created by
    /// `fork()` while another thread of the parent held the tracker's
    /// writers' lock: then no event, setting or new handle can change the
    /// tracker here (they return that error, or false and change nothing
    /// where they return a `bool`), and reads keep working. `Ok` otherwise,
    /// always in a process that never forked. Two plain loads.
    pub fn writable(&self) -> Result<(), Error> {
        if self.inner.forked() & crate::fork::WRITER != 0 {
            return Err(crate::fork::forked("changing the tracker"));
        }
        Ok(())
    }

    /// Changes the bound; evicts at once if the tracker holds more evictable
    /// entries than the new bound (advancing the epoch). `limit` must be ≥ 1.
    pub fn set_generations_topics_limit(&self, limit: usize) -> Result<(), Error> {
        if limit == 0 {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "generations_topics_limit must be at least 1",
            ));
        }
        let mut w = self.inner.lock_writer()?;
        w.limit = limit;
        let cur = self.inner.current.load_full();
        if cur.index.len() > limit {
            if let Some(next) = Txn::new(&cur).commit(&mut w, &self.inner) {
                self.publish(next);
            }
        }
        Ok(())
    }

    fn publish(&self, next: Snapshot) {
        self.inner.publish(next);
    }

    /// The tracker's history and health registry (`src/history.rs`).
    pub(crate) fn observed(&self) -> &crate::history::Registry {
        &self.inner.observed
    }

    /// Runs `f` under the writers' lock (settings that must not race with
    /// an event). `Err(Forked)` if the lock cannot be had in this process
    /// (see [`writable`](Tracker::writable)).
    pub(crate) fn with_writer_lock<R>(&self, f: impl FnOnce() -> R) -> Result<R, Error> {
        let _w = self.inner.lock_writer()?;
        Ok(f())
    }

    /// Empties the tracker for process exit: what [`clear`](Tracker::clear)
    /// does, plus dropping the writer's tables.
    ///
    /// Why: the published snapshot is reachable only through the pointer
    /// `arc-swap` keeps (`Arc::into_raw`, which points past the reference
    /// counts), and hash tables only through pointers into the middle of
    /// their allocations, so memcheck reports a live global tracker's memory
    /// as "possibly lost". After this, what is left is one empty snapshot
    /// (with no table allocated) that `exit_anchor` points to from its start.
    fn release_at_exit(&self) {
        // A child forked while a lock was held leaves what it inherited.
        if self.inner.forked() != 0 {
            return;
        }
        self.clear();
        let Ok(mut w) = self.inner.lock_writer() else {
            return;
        };
        // Keep only the cells of handles still held (they keep following
        // their key); free the table's allocation if none is.
        w.cells
            .retain(|_, cells| cells.values().any(|c| c.strong_count() > 0));
        if w.cells.is_empty() {
            w.cells = HashMap::new();
        }
        w.lru = BTreeMap::new();
        w.parked = HashMap::new();
        if self.inner.forked() & crate::fork::RELEASED == 0 {
            *self
                .inner
                .released
                .lock()
                .unwrap_or_else(|p| p.into_inner()) = Vec::new();
        }
        w.exit_anchor = Some(self.inner.current.load_full());
        // The history registry's (empty) map, likewise.
        self.inner.observed.anchor_for_exit();
        drop(w);
        // The per-group runtime registry goes whole: a group the program
        // keeps until exit (a `kat_group_t` in a static, as the README
        // suggests) keeps its own runtime alive, and the table would only be
        // reachable through its control pointer.
        *self
            .inner
            .runtimes
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Runtimes {
            map: HashMap::new(),
            sweep_at: MIN_SWEEP,
        };
    }
}

/// Registered with `atexit` when the global tracker is created.
extern "C" fn release_global_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        if let Some(t) = GLOBAL.get() {
            t.release_at_exit();
        }
    });
}

/// Trackers a thread keeps a cached snapshot of (most threads read one).
const READ_CACHE_SLOTS: usize = 4;

/// A thread's cached view of one tracker's published snapshot. Holding the
/// `Published` keeps its address from being reused by another tracker.
struct CachedSnapshot {
    published: Arc<Published>,
    snapshot: Arc<Snapshot>,
}

thread_local! {
    /// Per thread, most recently used first: the last snapshot this thread
    /// read of each of up to four trackers.
    static READ_CACHE: ReadCache = const { ReadCache(RefCell::new([const { None }; READ_CACHE_SLOTS])) };
    /// The first entry of `READ_CACHE` as two plain pointers (null when
    /// empty), for the fast path: no borrow flag to write. Always updated
    /// with `READ_CACHE`'s first entry, which keeps both alive.
    static READ_FIRST: Cell<(*const Published, *const Snapshot)> =
        const { Cell::new((std::ptr::null(), std::ptr::null())) };
}

/// The per-thread cache; clears `READ_FIRST` when the thread's locals are
/// destroyed, so a read from a later thread-local destructor takes the
/// plain path instead of following a freed snapshot.
struct ReadCache(RefCell<[Option<CachedSnapshot>; READ_CACHE_SLOTS]>);

impl std::ops::Deref for ReadCache {
    type Target = RefCell<[Option<CachedSnapshot>; READ_CACHE_SLOTS]>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Drop for ReadCache {
    fn drop(&mut self) {
        let _ = READ_FIRST.try_with(|f| f.set((std::ptr::null(), std::ptr::null())));
    }
}

/// Points `READ_FIRST` at the first cache entry (or at nothing).
fn set_read_first(slots: &[Option<CachedSnapshot>; READ_CACHE_SLOTS]) {
    let first = match &slots[0] {
        Some(c) => (Arc::as_ptr(&c.published), Arc::as_ptr(&c.snapshot)),
        None => (std::ptr::null(), std::ptr::null()),
    };
    let _ = READ_FIRST.try_with(|f| f.set(first));
}

/// Drops the calling thread's cached snapshots (see [`Tracker::generation`]):
/// for a thread that read trackers by name and will not read again for a
/// long time, after a tracker it read was dropped or after a large event.
/// The thread's next read by name loads the current snapshot again.
pub fn release_thread_read_cache() {
    let _ = READ_CACHE.try_with(|cache| {
        if let Ok(mut slots) = cache.try_borrow_mut() {
            // Moved out first: dropping a snapshot runs no kat code, but the
            // borrow is released before anything is freed all the same.
            let old = std::mem::replace(&mut *slots, [const { None }; READ_CACHE_SLOTS]);
            set_read_first(&slots);
            drop(slots);
            drop(old);
        }
    });
}

impl Inner {
    /// Takes the writers' lock. A writer that panicked leaves no partial
    /// state readers could see (snapshots are published whole), so a
    /// poisoned lock is taken over. `Err(Forked)` instead of waiting for
    /// ever in a process forked while another thread held it.
    fn lock_writer(&self) -> Result<MutexGuard<'_, Writer>, Error> {
        if self.forked() & crate::fork::WRITER != 0 {
            return Err(crate::fork::forked("changing the tracker"));
        }
        Ok(self.writer.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Which of this tracker's locks (`crate::fork::{WRITER, CHANGED,
    /// RUNTIMES, RELEASED}`) threads that `fork()` did not copy held; 0 unless this
    /// process was forked. Two plain loads.
    #[inline]
    fn forked(&self) -> u64 {
        use crate::fork::{is_held, CHANGED, RELEASED, RUNTIMES, WRITER};
        self.fork.held(|| {
            // A parent thread forked between publishing a snapshot and
            // storing its epoch left `epoch()` one behind: caught up here,
            // at the child's first call that takes a lock (a snapshot read
            // catches it up too).
            self.saw(self.current.load().epoch);
            [
                (WRITER, is_held(&self.writer)),
                (CHANGED, is_held(&self.changed.0)),
                (RUNTIMES, is_held(&self.runtimes)),
                (RELEASED, is_held(&self.released)),
            ]
            .iter()
            .filter(|(_, held)| *held)
            .fold(0, |bits, (bit, _)| bits | bit)
        })
    }

    /// Runs `f` on the current snapshot.
    ///
    /// Wait-free, and while nothing changed it costs the thread-local cache
    /// check: the snapshot this thread cached at its previous read of this
    /// tracker, whose epoch is compared with the published epoch (one plain
    /// load of a read-mostly word): no atomic read-modify-write, no write to
    /// shared memory. After a change the thread loads the new snapshot once.
    /// Since `epoch` is stored after the snapshot and raised by any reader
    /// that got a newer snapshot first ([`saw`](Self::saw)), a thread never
    /// reads an older snapshot than one it already saw through any read of
    /// this tracker. (Partition handles are written before the snapshot is
    /// published, so a read here may be one event behind a handle read
    /// before it: see the README's "Consistency" and `tests/consistency.rs`.)
    ///
    /// Each reading thread keeps the last snapshot it read of up to four
    /// trackers alive until its next read of that tracker after a change,
    /// its next refresh of any tracker once that one was dropped, its call
    /// to [`release_thread_read_cache`], or its exit. `f` must not read a
    /// tracker itself.
    #[inline(always)]
    fn read<R>(&self, f: impl FnOnce(&Snapshot) -> R) -> R {
        // Fast path: this tracker is the thread's first entry and its
        // snapshot is still the published one. Two thread-local words, the
        // snapshot's epoch and the published epoch.
        if let Ok((published, snapshot)) = READ_FIRST.try_with(Cell::get) {
            if std::ptr::eq(published, &*self.current) {
                // SAFETY: `READ_FIRST` mirrors the first `READ_CACHE` entry,
                // which holds this snapshot; the entry changes only in
                // `refresh` and `release_thread_read_cache`, which `f` (kat's
                // own record lookups) never calls.
                let snapshot = unsafe { &*snapshot };
                if snapshot.epoch == self.epoch.load(Ordering::Acquire) {
                    return f(snapshot);
                }
            }
        }
        self.read_slow(f)
    }

    /// [`read`](Self::read) through the cache's entries.
    #[inline(never)]
    fn read_slow<R>(&self, f: impl FnOnce(&Snapshot) -> R) -> R {
        let mut f = Some(f);
        let cached = READ_CACHE.try_with(|cache| {
            let Ok(mut slots) = cache.try_borrow_mut() else {
                return None;
            };
            let fresh = match &slots[0] {
                Some(c) => {
                    std::ptr::eq(&*c.published, &*self.current)
                        && c.snapshot.epoch == self.epoch.load(Ordering::Acquire)
                }
                None => false,
            };
            if !fresh {
                self.refresh(&mut slots);
            }
            let snap = &slots[0].as_ref()?.snapshot;
            f.take().map(|f| f(snap))
        });
        match (cached, f) {
            (Ok(Some(r)), _) => r,
            // The thread is exiting (no cache any more): a plain load.
            (_, Some(f)) => f(&self.current.load()),
            (_, None) => unreachable!("f runs once"),
        }
    }

    /// The slow path of [`read`](Self::read): puts this tracker's entry
    /// first, with the published snapshot, and drops entries of trackers
    /// that were dropped.
    #[cold]
    #[inline(never)]
    fn refresh(&self, slots: &mut [Option<CachedSnapshot>; READ_CACHE_SLOTS]) {
        let mine = |c: &Option<CachedSnapshot>| {
            c.as_ref()
                .is_some_and(|c| std::ptr::eq(&*c.published, &*self.current))
        };
        match slots.iter().position(mine) {
            Some(i) => slots[..=i].rotate_right(1),
            None => slots.rotate_right(1),
        }
        let snapshot = self.current.load_full();
        self.saw(snapshot.epoch);
        let old = slots[0].replace(CachedSnapshot {
            published: self.current.clone(),
            snapshot,
        });
        let mut gone: [Option<CachedSnapshot>; READ_CACHE_SLOTS - 1] = Default::default();
        for (slot, out) in slots[1..].iter_mut().zip(gone.iter_mut()) {
            if slot
                .as_ref()
                .is_some_and(|c| c.published.dropped.load(Ordering::Acquire))
            {
                *out = slot.take();
            }
        }
        set_read_first(slots);
        // Freed here, after the cache is consistent again.
        drop(old);
        drop(gone);
    }

    /// A reader got a snapshot at `epoch`: makes sure `epoch()` does not
    /// report an older one from now on (the writer stores the epoch right
    /// after the snapshot; this covers the nanoseconds in between). One
    /// load when the epoch is already there, as it nearly always is.
    #[inline(always)]
    fn saw(&self, epoch: u64) {
        if self.epoch.load(Ordering::Relaxed) < epoch {
            self.epoch.fetch_max(epoch, Ordering::AcqRel);
        }
    }

    /// Forgets the groups nobody holds that the snapshot no longer lists:
    /// their runtime state (glue failure counts, poll marks, settings) and
    /// their history. A group is held by a `Group` value, a partition
    /// handle or the deadline timer (each holds its runtime state); the
    /// snapshot lists it while any of its (group, topic) entries is
    /// retained. Then sets the next sweep at twice the registry's size, so
    /// the cost is amortised over the `Tracker::group` calls that grew it.
    fn sweep_groups(&self) {
        let Ok(_w) = self.lock_writer() else {
            return;
        };
        let cur = self.current.load();
        let mut r = self.runtimes.lock().unwrap_or_else(|p| p.into_inner());
        let mut gone = Vec::new();
        r.map.retain(|name, rt| {
            // Held by the registry, and by the group's log if it has one.
            let own = 1 + usize::from(self.observed.holds(name.as_str(), rt));
            let keep = Arc::strong_count(rt) > own || cur.group(name.as_str()).is_some();
            if !keep {
                gone.push(name.clone());
            }
            keep
        });
        self.observed.forget(&gone);
        r.sweep_at = (r.map.len() * 2).max(MIN_SWEEP);
    }

    /// Stores the next snapshot and wakes `wait_for_change` callers. The wait
    /// mutex is taken after the store, so a waiter that saw the old epoch is
    /// already waiting (and counted) when the count is read; with nobody
    /// waiting there is no wake-up (no system call).
    fn publish(&self, next: Snapshot) {
        let epoch = next.epoch;
        self.current.store(Arc::new(next));
        self.epoch.fetch_max(epoch, Ordering::Release);
        if self.forked() & crate::fork::CHANGED != 0 {
            // Forked with this lock held: waiters here poll instead.
            return;
        }
        let (lock, cv) = &self.changed;
        let waiting = *lock.lock().unwrap_or_else(|p| p.into_inner());
        if waiting > 0 {
            cv.notify_all();
        }
    }
}

/// The topics a group owns a partition of in `cur`.
fn owned_topics(cur: &Snapshot, group: &Name) -> Vec<Name> {
    cur.group(group.as_str())
        .map(|v| v.topics().iter().map(|t| t.topic_name().clone()).collect())
        .unwrap_or_default()
}

/// Which event a group applies.
enum Event<'a> {
    Assigned(ByTopic<'a>),
    Revoked(ByTopic<'a>),
    Replace(ByTopic<'a>),
    Lost,
    Reset,
    /// The poll deadline passed (`src/deadline.rs`): applied as `Lost`,
    /// recorded in the history as `expired`.
    Expired,
}

impl Group {
    /// The group name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// The name with a trailing NUL, for the C ABI.
    pub(crate) fn name_with_nul(&self) -> &str {
        self.name.with_nul()
    }

    /// Records that the consumer polled now (the glue calls this after every
    /// poll). Lock-free: one monotonic clock read and two atomic operations
    /// on the group's runtime state; publishes nothing, so the epoch does not
    /// advance. Any thread.
    #[inline]
    pub fn mark_poll(&self) {
        self.runtime.mark_poll();
    }

    /// How many poll marks the group received ([`mark_poll`](Self::mark_poll)).
    /// One atomic load.
    pub fn poll_count(&self) -> u64 {
        self.runtime.polls.load(Ordering::Relaxed)
    }

    /// Time since the last poll mark, or `None` if the group was never
    /// marked. One atomic load and one clock read.
    pub fn since_last_poll(&self) -> Option<Duration> {
        self.runtime
            .last_poll_ns()
            .map(|t| Duration::from_nanos(mono_ns().saturating_sub(t)))
    }

    /// Counts one rebalance the librdkafka glue failed to handle for this
    /// group (the glue calls it; see [`glue_failures`](Self::glue_failures)).
    /// One atomic add on the group's runtime state; publishes nothing, so
    /// the epoch does not advance. Any thread.
    #[inline]
    pub fn record_glue_failure(&self) {
        self.runtime.glue_failures.fetch_add(1, Ordering::Relaxed);
    }

    /// How many rebalances the librdkafka glue failed to handle for this
    /// group (an assign call librdkafka refused, a list kat rejected, a
    /// missing argument): the way to see failures of a ready callback, which
    /// cannot return them. Shared by every `Group` value of this name; kept
    /// by `Tracker::clear`. One atomic load.
    pub fn glue_failures(&self) -> u64 {
        self.runtime.glue_failures.load(Ordering::Relaxed)
    }

    /// The group's state outside snapshots (shared by every `Group` value of
    /// this name on this tracker).
    pub(crate) fn runtime(&self) -> &Arc<GroupRuntime> {
        &self.runtime
    }

    pub(crate) fn downgrade(&self) -> WeakGroup {
        WeakGroup {
            inner: Arc::downgrade(&self.inner),
            name: self.name.clone(),
        }
    }

    /// Arms (or changes) the poll deadline: if no poll mark
    /// ([`mark_poll`](Self::mark_poll)) comes for `max_poll_interval − margin`,
    /// kat's timer thread marks every partition of the group lost (as
    /// [`lost`](Self::lost) does: status `lost`, counted in `lost_events` and
    /// in [`PollStats::expirations`](crate::PollStats); the history entry's
    /// kind is [`Expired`](crate::HistoryKind::Expired)), with no call from
    /// the thread that stopped polling. While armed, health also reports
    /// `stalled` after half of the deadline without a poll
    /// ([`set_stall_fraction`](Self::set_stall_fraction)). Pass `max_poll_interval` as the
    /// consumer's `max.poll.interval.ms`; `margin` expires that much earlier.
    /// A zero `max_poll_interval` disarms. The deadline runs from the last
    /// poll mark, or from now if the group was never marked. After an expiry
    /// the deadline runs again from the next poll mark.
    ///
    /// The first armed deadline in the process starts one timer thread
    /// (`kat-deadline`); it ends when no group is armed. A deadline is
    /// disarmed when the last `Group` value of its name is dropped.
    ///
    /// Errors: `InvalidArgument` if `margin` is not below a non-zero
    /// `max_poll_interval`; `Forked` when arming in a child forked mid-event
    /// (README, "fork()"). Any thread; takes the timer's lock.
    pub fn set_poll_deadline(
        &self,
        max_poll_interval: Duration,
        margin: Duration,
    ) -> Result<(), Error> {
        let rt = &self.runtime;
        if max_poll_interval.is_zero() {
            rt.deadline_ns.store(0, Ordering::Release);
            crate::deadline::wake();
            return Ok(());
        }
        // An expiry is an event: pointless where events cannot apply.
        self.tracker().writable()?;
        crate::deadline::usable()?;
        if margin >= max_poll_interval {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "the margin ({} ms) must be below max.poll.interval ({} ms)",
                    margin.as_millis(),
                    max_poll_interval.as_millis()
                ),
            ));
        }
        let deadline = (max_poll_interval - margin)
            .as_nanos()
            .min(u64::MAX as u128 / 2) as u64;
        if rt.last_poll_raw() == 0 {
            rt.mark_poll();
        }
        rt.deadline_ns.store(deadline.max(1), Ordering::Release);
        crate::deadline::arm(self);
        Ok(())
    }

    /// Records the broker's view of this membership at a rebalance: the
    /// group generation id (classic protocol) or member epoch (KIP-848), 0
    /// if unknown, and the member id if known. The glue calls it before it
    /// records each rebalance, so a reader that sees the rebalance's
    /// partitions assigned also sees this generation in their tokens. Does
    /// not advance the epoch. Lock-free; allocates when the member id
    /// changes.
    pub fn record_broker_generation(&self, generation: i32, member_id: Option<&str>) {
        self.runtime.record_broker(generation, member_id);
    }

    /// How often the glue refreshes the broker generation from its poll-loop
    /// call, besides every rebalance.
    pub const BROKER_REFRESH: Duration = Duration::from_secs(1);

    /// Whether the poll-loop glue should refresh the broker generation now
    /// (true at most once per [`BROKER_REFRESH`](Self::BROKER_REFRESH) of
    /// poll marks, to one caller). Two atomic loads when not due.
    pub fn broker_refresh_due(&self) -> bool {
        self.runtime.broker_refresh_due(Self::BROKER_REFRESH)
    }

    /// The broker generation recorded at the last rebalance (0: unknown).
    /// One atomic load.
    pub fn broker_generation(&self) -> i32 {
        self.runtime.broker_generation.load(Ordering::Acquire) as i32
    }

    /// The member id recorded at the last rebalance, if any. One lock-free
    /// load and a reference-count increment.
    pub fn member_id(&self) -> Option<Arc<String>> {
        self.runtime.member_id.load_full()
    }

    /// Sets how long an orderly revoke handled by the glue waits for leases
    /// on the revoked partitions to be released before it makes the
    /// unassign call ([`drain`](Self::drain)); zero turns the drain off (the
    /// default). Keep it well below `max.poll.interval.ms`: the rebalance
    /// callback blocks for that long at most. Any thread; one store.
    pub fn set_drain_timeout(&self, timeout: Duration) {
        let ns = timeout.as_nanos().min(u128::from(u64::MAX / 2)) as u64;
        self.runtime.drain_timeout_ns.store(ns, Ordering::Release);
    }

    /// The drain timeout and what the drains found. A few atomic loads.
    pub fn drain_stats(&self) -> crate::DrainStats {
        let rt = &self.runtime;
        let ns = rt.drain_timeout_ns.load(Ordering::Acquire);
        crate::DrainStats {
            timeout: (ns != 0).then(|| Duration::from_nanos(ns)),
            drains: rt.drains.load(Ordering::Acquire),
            timeouts: rt.drain_timeouts.load(Ordering::Acquire),
            last_held: rt.last_drain_held.load(Ordering::Acquire),
            held_total: rt.drain_held_total.load(Ordering::Acquire),
        }
    }

    /// The drain barrier of an orderly revoke, for the glue to call before
    /// the unassign call. With a drain timeout set: records the revoke now
    /// (the partitions stop being assigned for every reader, new leases
    /// fail, leases already held stay valid while the drain runs), then
    /// waits until no lease on those partitions is held or the timeout
    /// passes, and returns how many were still held (also counted in
    /// [`drain_stats`](Self::drain_stats)). Without a timeout it does
    /// nothing and returns `Ok(None)`; the glue records the revoke after the
    /// unassign call as usual. Validates the list first; on error nothing
    /// changes. Blocks the calling (rebalance) thread; takes the writers'
    /// lock for the record step only.
    pub fn drain<'a>(
        &self,
        partitions: impl IntoIterator<Item = (&'a str, i32)>,
    ) -> Result<Option<u64>, Error> {
        let rt = &self.runtime;
        let ns = rt.drain_timeout_ns.load(Ordering::Acquire);
        if ns == 0 {
            return Ok(None);
        }
        let by_topic = collect(partitions)?;
        self.tracker().writable()?;
        let deadline = Instant::now() + Duration::from_nanos(ns);
        rt.draining.store(true, Ordering::SeqCst);
        let cells: Vec<Arc<HandleCell>> = {
            let w = self.inner.lock_writer()?;
            by_topic
                .iter()
                .flat_map(|(topic, parts)| {
                    let cells = w.cells.get(&(self.name.clone(), Name::new(topic)));
                    parts
                        .iter()
                        .filter_map(move |p| cells.and_then(|c| c.get(p)).and_then(Weak::upgrade))
                })
                .collect()
        };
        self.apply(Event::Revoked(by_topic))?;
        // Pairs with `lease_acquire`: the revoked words are stored before
        // the counters are read.
        std::sync::atomic::fence(Ordering::SeqCst);
        let held = |cells: &[Arc<HandleCell>]| -> u64 {
            cells.iter().map(|c| c.leases.load(Ordering::SeqCst)).sum()
        };
        let mut left = held(&cells);
        while left > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_micros(200));
            left = held(&cells);
        }
        rt.draining.store(false, Ordering::SeqCst);
        rt.drains.fetch_add(1, Ordering::Relaxed);
        rt.last_drain_held.store(left, Ordering::Relaxed);
        if left > 0 {
            rt.drain_timeouts.fetch_add(1, Ordering::Relaxed);
            rt.drain_held_total.fetch_add(left, Ordering::Relaxed);
        }
        Ok(Some(left))
    }

    /// Sets (or with `None` removes) the callback told when the group loses
    /// partitions: after every event that took partitions away (an orderly
    /// revoke, a loss, a reset, a poll-deadline expiry, the start of a
    /// drain), on the thread that applied it (the rebalance thread, or kat's
    /// deadline timer), after the writers' lock is released. It must be
    /// quick and must not block; a panic in it is caught. Readers then check
    /// their handles. Lock-free swap; any thread.
    pub fn set_loss_notifier(&self, notifier: Option<crate::LossNotifier>) {
        self.runtime.on_loss.0.store(notifier.map(Arc::new));
    }

    /// The group's poll marks, armed deadline and expiries. A few atomic
    /// loads and one clock read; never locks.
    pub fn poll_stats(&self) -> crate::PollStats {
        self.runtime.poll_stats()
    }

    /// The tracker this group belongs to.
    pub fn tracker(&self) -> Tracker {
        Tracker {
            inner: self.inner.clone(),
        }
    }

    /// Partitions were assigned (incrementally, or eagerly on top of what the
    /// group has): each distinct listed key gets generation + 1 and becomes
    /// assigned. Validates every element first; on error nothing changes.
    /// Returns whether anything changed (false only for an empty list).
    pub fn assigned<'a>(
        &self,
        partitions: impl IntoIterator<Item = (&'a str, i32)>,
    ) -> Result<bool, Error> {
        let by_topic = collect(partitions)?;
        self.apply(Event::Assigned(by_topic))
    }

    /// Partitions were revoked in an orderly way: listed assigned keys become
    /// `revoked`; generations are kept; unknown keys are ignored.
    pub fn revoked<'a>(
        &self,
        partitions: impl IntoIterator<Item = (&'a str, i32)>,
    ) -> Result<bool, Error> {
        let by_topic = collect(partitions)?;
        self.apply(Event::Revoked(by_topic))
    }

    /// The group's assignment becomes exactly the list (an EAGER assign):
    /// listed keys get generation + 1, assigned keys not listed become
    /// `revoked`.
    pub fn replace<'a>(
        &self,
        partitions: impl IntoIterator<Item = (&'a str, i32)>,
    ) -> Result<bool, Error> {
        let by_topic = collect(partitions)?;
        self.apply(Event::Replace(by_topic))
    }

    /// The assignment was lost: every assigned key becomes `lost`. (False,
    /// and nothing changes, where [`Tracker::writable`] is an error.)
    pub fn lost(&self) -> bool {
        self.apply(Event::Lost).unwrap_or(false)
    }

    /// The poll deadline passed: every assigned key becomes `lost` (as
    /// [`lost`](Self::lost), counted in `lost_events`), recorded in the
    /// history as [`HistoryKind::Expired`](crate::HistoryKind::Expired).
    /// Called by the deadline timer.
    pub(crate) fn expire(&self) -> bool {
        self.apply(Event::Expired).unwrap_or(false)
    }

    /// The client was reset or re-created: every assigned key becomes `lost`
    /// (no clean hand-over happened); counted as a reset. (False, and
    /// nothing changes, where [`Tracker::writable`] is an error.)
    pub fn reset(&self) -> bool {
        self.apply(Event::Reset).unwrap_or(false)
    }

    /// The generation of one of this group's partitions (0 if never assigned).
    /// Wait-free; never allocates.
    #[inline]
    pub fn generation(&self, topic: &str, partition: i32) -> u64 {
        let hash = topic_hash(&self.hasher, topic);
        self.inner.read(|s| {
            s.record_hashed(hash, self.name.as_str(), topic, partition)
                .map_or(0, |r| r.generation)
        })
    }

    /// Whether this group owns the partition now. Wait-free; never allocates.
    #[inline]
    pub fn is_assigned(&self, topic: &str, partition: i32) -> bool {
        let hash = topic_hash(&self.hasher, topic);
        self.inner.read(|s| {
            s.record_hashed(hash, self.name.as_str(), topic, partition)
                .is_some_and(|r| r.status == Status::Assigned)
        })
    }

    /// The group's counters (all zero before its first change). Wait-free.
    pub fn stats(&self) -> GroupStats {
        self.tracker_peek()
            .group(self.name.as_str())
            .map(|g| g.stats())
            .unwrap_or_default()
    }

    /// A handle on one key, for one-load ownership checks. Validates the
    /// names; takes the writer lock and allocates the first time a key gets a
    /// handle; later calls for the same key share its cell.
    pub fn partition(&self, topic: &str, partition: i32) -> Result<PartitionHandle, Error> {
        validate_topic(topic)?;
        validate_partition(partition)?;
        let mut w = self.inner.lock_writer()?;
        let cur = self.inner.current.load_full();
        w.take_released(&self.inner);
        let view = cur.topic(self.name.as_str(), topic);
        let topic_name = view.map_or_else(|| Name::new(topic), |v| v.topic_name().clone());
        let cells = w
            .cells
            .entry((self.name.clone(), topic_name.clone()))
            .or_default();
        if let Some(cell) = cells.get(&partition).and_then(Weak::upgrade) {
            return Ok(PartitionHandle { cell });
        }
        let cell = Arc::new(HandleCell {
            word: CachePadded::new(AtomicU64::new(pack(view.and_then(|v| v.record(partition))))),
            group: self.name.clone(),
            topic: topic_name,
            partition,
            runtime: self.runtime.clone(),
            leases: CachePadded::new(AtomicU64::new(0)),
            tracker: Arc::downgrade(&self.inner),
        });
        cells.insert(partition, Arc::downgrade(&cell));
        Ok(PartitionHandle { cell })
    }

    /// The tracker's history and health registry (`src/history.rs`).
    pub(crate) fn observed(&self) -> &crate::history::Registry {
        &self.inner.observed
    }

    #[inline]
    fn tracker_peek(&self) -> Guard<Arc<Snapshot>> {
        let s = self.inner.current.load();
        self.inner.saw(s.epoch);
        s
    }

    fn apply(&self, event: Event<'_>) -> Result<bool, Error> {
        let took = matches!(
            event,
            Event::Revoked(_) | Event::Replace(_) | Event::Lost | Event::Reset | Event::Expired
        );
        let (changed, removed) = self.apply_locked(event)?;
        if changed && removed && took {
            if let Some(notify) = self.runtime.on_loss.0.load().as_deref() {
                // A panicking callback must not poison the rebalance.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    notify(self.name.as_str())
                }));
            }
        }
        Ok(changed)
    }

    /// Applies an event under the writers' lock; returns (changed, removed
    /// something).
    fn apply_locked(&self, event: Event<'_>) -> Result<(bool, bool), Error> {
        let mut w = self.inner.lock_writer()?;
        let cur = self.inner.current.load_full();
        let mut txn = Txn::new(&cur);
        let g = &self.name;
        let mut assigned_any = false;
        let mut removed_any = false;
        match &event {
            Event::Assigned(by_topic) => {
                for (topic, parts) in by_topic.iter() {
                    assigned_any |= txn.topic(&mut w, g, topic, parts, &Demote::Nothing);
                }
            }
            Event::Revoked(by_topic) => {
                for (topic, parts) in by_topic.iter() {
                    removed_any |= txn.topic(
                        &mut w,
                        g,
                        topic,
                        &[],
                        &Demote::Listed(parts, Status::Revoked),
                    );
                }
            }
            Event::Replace(by_topic) => {
                let owned = owned_topics(&cur, g);
                let listed = |t: &Name| by_topic.contains(t.as_str());
                for t in owned.iter().filter(|t| !listed(t)) {
                    removed_any |=
                        txn.topic(&mut w, g, t.as_str(), &[], &Demote::All(Status::Revoked));
                }
                for (topic, parts) in by_topic.iter() {
                    // Did this topic lose an owned partition the list leaves out?
                    removed_any |= cur.topic(g.as_str(), topic).is_some_and(|v| {
                        v.partitions()
                            .iter()
                            .any(|p| parts.binary_search(&p.partition).is_err())
                    });
                    assigned_any |=
                        txn.topic(&mut w, g, topic, parts, &Demote::All(Status::Revoked));
                }
            }
            Event::Lost | Event::Reset | Event::Expired => {
                let owned = owned_topics(&cur, g);
                for t in &owned {
                    removed_any |=
                        txn.topic(&mut w, g, t.as_str(), &[], &Demote::All(Status::Lost));
                }
            }
        }
        let now = now_unix_ms();
        if !assigned_any && !removed_any {
            self.observe(&event, &cur, &cur, now);
            return Ok((false, false));
        }
        let stats = txn.stats(g);
        match event {
            Event::Assigned(_) => stats.assigned_events += 1,
            Event::Revoked(_) => stats.revoked_events += 1,
            Event::Replace(_) => {
                stats.assigned_events += u64::from(assigned_any);
                stats.revoked_events += u64::from(removed_any);
            }
            Event::Lost | Event::Expired => stats.lost_events += 1,
            Event::Reset => stats.reset_events += 1,
        }
        stats.last_change_unix_ms = now;
        let next = txn
            .commit(&mut w, &self.inner)
            .expect("an event that changed something");
        self.inner.publish(next);
        self.observe(&event, &cur, &self.inner.current.load(), now);
        Ok((true, removed_any))
    }

    /// Hands the event to the history and health of the group (writer lock
    /// held).
    fn observe(&self, event: &Event<'_>, before: &Snapshot, after: &Snapshot, now: u64) {
        use crate::history::{HistoryKind, Observed};
        let (kind, by_topic) = match event {
            Event::Assigned(b) => (HistoryKind::Assign, Some(b)),
            Event::Revoked(b) => (HistoryKind::Revoke, Some(b)),
            Event::Replace(b) => (HistoryKind::Replace, Some(b)),
            Event::Lost => (HistoryKind::Lost, None),
            Event::Reset => (HistoryKind::Reset, None),
            Event::Expired => (HistoryKind::Expired, None),
        };
        let listed: Vec<(&str, &[i32])> = by_topic.map_or_else(Vec::new, |b| b.iter().collect());
        let observed = Observed {
            kind,
            listed: &listed,
            unix_ms: now,
        };
        self.inner
            .observed
            .record(&self.name, &self.runtime, &observed, before, after);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the global tracker goes through at process exit leaves a working
    /// tracker: empty, handles reading generation 0, and events after it
    /// (a consumer closed by another exit handler) recorded as usual.
    #[test]
    fn release_at_exit_empties_the_tracker_and_keeps_it_usable() {
        let t = Tracker::new();
        let g = t.group("exit").expect("group");
        g.assigned([("orders", 0), ("orders", 1)]).expect("assign");
        let h = g.partition("orders", 0).expect("handle");
        drop(g.partition("orders", 1).expect("handle"));
        let epoch = t.epoch();
        t.release_at_exit();
        assert!(t.snapshot().groups.is_empty());
        assert_eq!(t.epoch(), epoch + 1);
        assert_eq!(h.state().generation, 0);
        assert!(!g.is_assigned("orders", 1));
        {
            let w = t.inner.lock_writer().expect("writer");
            // Only the cell of the handle still held is left.
            assert_eq!(w.cells.len(), 1);
            assert!(w.lru.is_empty());
            let anchored = w.exit_anchor.as_ref().expect("anchored");
            assert!(Arc::ptr_eq(anchored, &t.snapshot()));
        }
        g.assigned([("orders", 0)]).expect("assign after release");
        assert_eq!(g.generation("orders", 0), 1);
        assert!(g.is_assigned("orders", 0));
        // The handle held across the release follows its key again.
        assert_eq!(h.state().generation, 1);
        assert!(h.state().is_assigned());
        assert_eq!(t.inner.runtimes.lock().expect("lock").map.capacity(), 0);
        drop(h);
        // Nothing assigned, a handle taken and dropped: its table goes too.
        let fresh = Tracker::new();
        drop(
            fresh
                .group("x")
                .expect("group")
                .partition("t", 0)
                .expect("handle"),
        );
        assert!(fresh.inner.lock_writer().expect("writer").cells.capacity() > 0);
        fresh.release_at_exit();
        assert_eq!(
            fresh.inner.lock_writer().expect("writer").cells.capacity(),
            0
        );
        g.revoked([("orders", 0)]).expect("revoke after release");
        assert!(!g.is_assigned("orders", 0));
    }

    fn grouped<'a>(list: &[(&'a str, i32)]) -> Vec<(&'a str, Vec<i32>)> {
        let by_topic = collect(list.iter().copied()).expect("valid list");
        by_topic.iter().map(|(t, p)| (t, p.to_vec())).collect()
    }

    #[test]
    fn collect_groups_sorts_and_deduplicates() {
        assert_eq!(grouped(&[]), vec![]);
        assert_eq!(
            grouped(&[("a", 0), ("a", 1), ("b", 0)]),
            vec![("a", vec![0, 1]), ("b", vec![0])]
        );
        assert_eq!(
            grouped(&[
                ("b", 2),
                ("a", 3),
                ("b", 1),
                ("a", 3),
                ("b", 2),
                ("c", 0),
                ("a", 0)
            ]),
            vec![("a", vec![0, 3]), ("b", vec![1, 2]), ("c", vec![0])]
        );
        assert_eq!(grouped(&[("x", 5), ("x", 5)]), vec![("x", vec![5])]);
    }

    #[test]
    fn collect_reports_the_first_bad_element() {
        let e = collect([("a", 0), ("a", -1), ("b c", 0)])
            .err()
            .expect("invalid");
        assert_eq!(e.kind(), ErrorKind::InvalidPartition);
        assert_eq!(e.element(), Some(1));
        let e = collect([("a", 0), ("b c", 0), ("a", -1)])
            .err()
            .expect("invalid");
        assert_eq!(e.kind(), ErrorKind::InvalidTopic);
        assert_eq!(e.element(), Some(1));
    }
}

#[cfg(test)]
mod bound_tests {
    use super::*;

    fn registry_len(t: &Tracker) -> usize {
        t.inner.runtimes.lock().expect("lock").map.len()
    }

    /// Per-member group names created and abandoned (assigned, revoked,
    /// dropped) stay bounded: the snapshot lists only groups with retained
    /// entries, and the runtime and history registries forget groups nobody
    /// holds once the snapshot no longer lists them.
    #[test]
    fn abandoned_groups_stay_bounded() {
        const LIMIT: usize = 500;
        let t = Tracker::with_generations_topics_limit(LIMIT);
        let keep = t.group("app/keeper").expect("group");
        keep.record_glue_failure();
        for i in 0..100_000 {
            let g = t.group(&format!("app/member-{i}")).expect("group");
            g.assigned([("orders", i % 7)]).expect("assign");
            g.revoked([("orders", i % 7)]).expect("revoke");
            if i % 1000 == 0 {
                g.record_glue_failure();
            }
        }
        let s = t.snapshot();
        assert_eq!(s.generations_topics(), LIMIT);
        assert_eq!(s.groups().len(), LIMIT);
        // The most recent LIMIT groups are the ones kept.
        assert_eq!(s.groups()[0].name(), "app/member-99500");
        assert!(registry_len(&t) <= 2 * (LIMIT + 1), "{}", registry_len(&t));
        assert!(t.inner.observed.len() <= 2 * (LIMIT + 1));
        {
            let w = t.inner.lock_writer().expect("writer");
            assert!(w.cells.is_empty());
            assert_eq!(w.lru.len(), LIMIT);
        }
        // A group held by a `Group` value is never forgotten.
        assert_eq!(keep.glue_failures(), 1);
        assert!(t
            .glue_failure_counts()
            .iter()
            .any(|(n, c)| n.as_str() == "app/keeper" && *c == 1));
        // A forgotten group comes back fresh.
        let old = t.group("app/member-0").expect("group");
        assert_eq!(old.glue_failures(), 0);
        assert_eq!(old.generation("orders", 0), 0);
        assert_eq!(old.stats(), GroupStats::default());
    }

    /// A group re-created by name keeps its generations, counters, history
    /// and glue failure count while its entries are retained; once they are
    /// evicted it leaves the snapshot and, unheld, the registries.
    #[test]
    fn a_recreated_group_keeps_what_is_retained() {
        let t = Tracker::with_generations_topics_limit(100);
        let g = t.group("app/member-a").expect("group");
        g.assigned([("orders", 0), ("orders", 1)]).expect("assign");
        g.revoked([("orders", 0), ("orders", 1)]).expect("revoke");
        g.record_glue_failure();
        drop(g);
        for i in 0..99 {
            let o = t.group(&format!("other-{i}")).expect("group");
            o.assigned([("t", 0)]).expect("assign");
            o.lost();
        }
        let g = t.group("app/member-a").expect("group");
        assert_eq!(g.generation("orders", 1), 1);
        assert_eq!(g.stats().assigned_events, 1);
        assert_eq!(g.glue_failures(), 1);
        assert_eq!(g.history().len(), 2);
        g.assigned([("orders", 1)]).expect("assign");
        assert_eq!(g.generation("orders", 1), 2);
        g.revoked([("orders", 1)]).expect("revoke");
        drop(g);
        // 101 more entries push app/member-a's out (it is the oldest now
        // that the others were assigned after it).
        for i in 0..200 {
            let o = t.group(&format!("later-{i}")).expect("group");
            o.assigned([("t", 0)]).expect("assign");
            o.lost();
        }
        assert!(t.snapshot().group("app/member-a").is_none());
        assert_eq!(t.generation("app/member-a", "orders", 1), 0);
        let g = t.group("app/member-a").expect("group");
        assert_eq!(g.stats(), GroupStats::default());
        assert_eq!(g.glue_failures(), 0);
        assert_eq!(g.history().len(), 0);
    }

    /// Eviction visits candidates only: entries owning a partition are not
    /// in the order at all, and an entry pinned by a handle is parked once
    /// and evicted at the first change after its last handle is dropped.
    #[test]
    fn eviction_visits_candidates_only() {
        let t = Tracker::with_generations_topics_limit(10);
        let g = t.group("g").expect("group");
        let owned: Vec<String> = (0..2_000).map(|i| format!("owned-{i:05}")).collect();
        g.assigned(owned.iter().map(|t| (t.as_str(), 0)))
            .expect("assign");
        {
            let w = t.inner.lock_writer().expect("writer");
            assert!(w.lru.is_empty() && w.parked.is_empty());
        }
        g.assigned([("pinned", 0)]).expect("assign");
        let h = g.partition("pinned", 0).expect("handle");
        g.revoked([("pinned", 0)]).expect("revoke");
        // Over the limit already: the pinned entry is parked, not evicted.
        {
            let w = t.inner.lock_writer().expect("writer");
            assert!(w.lru.is_empty());
            assert_eq!(w.parked.len(), 1);
        }
        assert_eq!(t.generation("g", "pinned", 0), 1);
        drop(h);
        // Left over the limit until the next change.
        assert_eq!(t.generation("g", "pinned", 0), 1);
        g.assigned([("fresh", 0)]).expect("assign");
        assert_eq!(t.generation("g", "pinned", 0), 0);
        {
            let w = t.inner.lock_writer().expect("writer");
            assert!(w.lru.is_empty() && w.parked.is_empty() && w.cells.is_empty());
        }
        assert_eq!(t.snapshot().generations_topics(), 2_001);
    }
}
