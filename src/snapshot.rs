//! The immutable views readers get: snapshots and generation lists.
//!
//! A [`Snapshot`] is built by the writer after each event and published
//! through `ArcSwap`; nothing in it ever changes afterwards. Unchanged groups
//! and topics are shared between consecutive snapshots (`Arc`), so an event
//! costs the size of what it touches plus one pointer per topic of its group.

use std::sync::Arc;

use crate::index::Index;
use crate::name::{key_hash, Name};

/// The state of a (group, topic, partition) key that was assigned at least once.
#[repr(u8)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// Currently owned by the group.
    Assigned = 1,
    /// Handed back in an orderly revocation.
    Revoked = 2,
    /// Taken away without a clean hand-over: assignment lost, or client reset.
    Lost = 3,
}

impl Status {
    /// The lower-case name used in JSON: `assigned`, `revoked`, `lost`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Assigned => "assigned",
            Status::Revoked => "revoked",
            Status::Lost => "lost",
        }
    }

    pub(crate) fn from_bits(bits: u64) -> Option<Status> {
        match bits {
            1 => Some(Status::Assigned),
            2 => Some(Status::Revoked),
            3 => Some(Status::Lost),
            _ => None,
        }
    }
}

/// One currently assigned partition and the generation it was assigned at.
///
/// The layout is `#[repr(C)]` so the C ABI lends arrays of it without copying.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AssignedPartition {
    /// The partition number.
    pub partition: i32,
    /// How many times this group was assigned this partition, this one included.
    pub generation: u64,
}

/// Everything kept about one partition of one group's topic.
///
/// `#[repr(C)]` with the partition at offset 0 and the generation at offset
/// 8, as in [`AssignedPartition`] (the status sits in what is padding
/// there): a topic whose records are all assigned lends its record array as
/// its [`TopicView::partitions`] array instead of keeping a copy.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartitionRecord {
    /// The partition number.
    pub partition: i32,
    /// What happened last.
    pub status: Status,
    /// Times assigned (never 0 here).
    pub generation: u64,
}

const _: () = {
    use std::mem::{align_of, offset_of, size_of};
    assert!(size_of::<PartitionRecord>() == size_of::<AssignedPartition>());
    assert!(align_of::<PartitionRecord>() == align_of::<AssignedPartition>());
    assert!(offset_of!(PartitionRecord, partition) == offset_of!(AssignedPartition, partition));
    assert!(offset_of!(PartitionRecord, generation) == offset_of!(AssignedPartition, generation));
};

impl std::fmt::Debug for PartitionRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartitionRecord")
            .field("partition", &self.partition)
            .field("generation", &self.generation)
            .field("status", &self.status)
            .finish()
    }
}

/// Event counters of a group, as of a snapshot. Only events that changed
/// something are counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct GroupStats {
    /// `assigned` events, and `replace` events that assigned something.
    pub assigned_events: u64,
    /// `revoked` events, and `replace` events that removed something.
    pub revoked_events: u64,
    /// `lost` events.
    pub lost_events: u64,
    /// `reset` events.
    pub reset_events: u64,
    /// Wall-clock time of the group's last change, in milliseconds since the
    /// Unix epoch; 0 if it never changed.
    pub last_change_unix_ms: u64,
}

/// One topic of one group in a snapshot: the partitions assigned now, and
/// every partition ever assigned with its generation and status.
#[derive(Debug)]
pub struct TopicView {
    pub(crate) group: Name,
    pub(crate) topic: Name,
    pub(crate) hash: u64,
    /// Sorted by partition; every partition with a generation.
    pub(crate) records: Box<[PartitionRecord]>,
    /// The partitions assigned now (sorted, `Status::Assigned` only), in one
    /// allocation: unless every record is assigned (then `records` itself is
    /// the [`AssignedPartition`] array, see [`PartitionRecord`]), first that
    /// array as two words per partition; then their generations; then their
    /// numbers packed two `i32` per word (see [`TopicView::partition_numbers`]),
    /// left out when they are `0..n` with `n <= DENSE.len()`.
    owned: Box<[u64]>,
    /// Number of partitions assigned now.
    assigned_len: usize,
    /// Position in the least-recently-assigned order (larger is more recent).
    pub(crate) lru_tick: u64,
}

/// `DENSE[i] == i`: the partition numbers of every topic whose assigned
/// partitions are exactly `0..n` (the usual case), shared instead of stored
/// per topic (16 KiB of read-only data).
static DENSE: [i32; 4096] = {
    let mut a = [0i32; 4096];
    let mut i = 0;
    while i < a.len() {
        a[i] = i as i32;
        i += 1;
    }
    a
};

impl TopicView {
    pub(crate) fn new(
        group: Name,
        topic: Name,
        records: Box<[PartitionRecord]>,
        lru_tick: u64,
    ) -> TopicView {
        let hash = key_hash(group.as_str(), topic.as_str());
        TopicView::new_hashed(group, topic, records, lru_tick, hash)
    }

    /// [`new`](Self::new) with the (group, topic) key hash already known
    /// (from the entry's previous view).
    pub(crate) fn new_hashed(
        group: Name,
        topic: Name,
        records: Box<[PartitionRecord]>,
        lru_tick: u64,
        hash: u64,
    ) -> TopicView {
        let count = records
            .iter()
            .filter(|r| r.status == Status::Assigned)
            .count();
        let assigned = || records.iter().filter(|r| r.status == Status::Assigned);
        let lends = count == records.len();
        let dense = count <= DENSE.len()
            && assigned()
                .zip(0..)
                .all(|(r, i): (&PartitionRecord, i32)| r.partition == i);
        let numbers_words = if dense { 0 } else { count.div_ceil(2) };
        // Sized exactly first: one allocation, no growth and no shrinking.
        let mut owned =
            Vec::with_capacity(if lends { 0 } else { 2 * count } + count + numbers_words);
        if !lends {
            // An `AssignedPartition` (`repr(C)`) is two words: the partition
            // in the first 4 bytes of the first (padding zeroed), the
            // generation in the second.
            for r in assigned() {
                let mut first = [0u8; 8];
                first[..4].copy_from_slice(&r.partition.to_ne_bytes());
                owned.push(u64::from_ne_bytes(first));
                owned.push(r.generation);
            }
        }
        owned.extend(assigned().map(|r| r.generation));
        let numbers: Vec<i32> = if dense {
            Vec::new()
        } else {
            assigned().map(|r| r.partition).collect()
        };
        owned.extend(numbers.chunks(2).map(|pair| {
            let mut word = [0u8; 8];
            word[..4].copy_from_slice(&pair[0].to_ne_bytes());
            if let Some(second) = pair.get(1) {
                word[4..].copy_from_slice(&second.to_ne_bytes());
            }
            u64::from_ne_bytes(word)
        }));
        debug_assert_eq!(owned.len(), owned.capacity());
        let owned = owned.into_boxed_slice();
        TopicView {
            hash,
            group,
            topic,
            records,
            owned,
            assigned_len: count,
            lru_tick,
        }
    }

    /// Whether `records` is the assigned array (every record assigned).
    #[inline(always)]
    fn lends_records(&self) -> bool {
        self.assigned_len == self.records.len()
    }

    /// Words of `owned` before the generations.
    #[inline(always)]
    fn generations_at(&self) -> usize {
        if self.lends_records() {
            0
        } else {
            2 * self.assigned_len
        }
    }

    /// Number of partitions assigned now.
    #[inline]
    pub(crate) fn assigned_len(&self) -> usize {
        self.assigned_len
    }

    /// The topic name.
    pub fn name(&self) -> &str {
        self.topic.as_str()
    }

    /// The name of the group this topic belongs to.
    pub fn group(&self) -> &str {
        self.group.as_str()
    }

    /// The partitions assigned now, sorted ascending, with their generations.
    /// Borrowed; no allocation.
    #[inline]
    pub fn partitions(&self) -> &[AssignedPartition] {
        let n = self.assigned_len;
        let ptr: *const AssignedPartition = if self.lends_records() {
            self.records.as_ptr().cast()
        } else {
            self.owned.as_ptr().cast()
        };
        // SAFETY: either `records` holds `n` records, all assigned, laid out
        // as `AssignedPartition`s (same size, alignment and offsets of
        // partition and generation, checked at compile time; the status byte
        // lies in what is padding there), or `owned` starts with `2 * n`
        // words written by `new_hashed` as `n` `AssignedPartition`s. The
        // borrow of `self` keeps the allocation alive and unchanged.
        unsafe { std::slice::from_raw_parts(ptr, n) }
    }

    /// The numbers of the partitions assigned now, sorted ascending: the
    /// same partitions as [`partitions`](Self::partitions), in their own
    /// array, parallel to [`partition_generations`](Self::partition_generations).
    /// Borrowed; no allocation.
    #[inline]
    pub fn partition_numbers(&self) -> &[i32] {
        let n = self.assigned_len;
        let words = &self.owned[self.generations_at() + n..];
        if words.is_empty() {
            // Numbered 0..n: the shared table.
            return &DENSE[..n];
        }
        debug_assert_eq!(words.len(), n.div_ceil(2));
        // SAFETY: `words` holds `n.div_ceil(2)` u64 words, that is at least
        // `n` i32s, written by `new` as their native-endian bytes in order;
        // u64 alignment satisfies i32's and every bit pattern is an i32. The
        // borrow of `self` keeps the allocation alive and unchanged.
        unsafe { std::slice::from_raw_parts(words.as_ptr().cast::<i32>(), n) }
    }

    /// The generations of the partitions assigned now, parallel to
    /// [`partition_numbers`](Self::partition_numbers). Borrowed; no
    /// allocation.
    #[inline]
    pub fn partition_generations(&self) -> &[u64] {
        let at = self.generations_at();
        &self.owned[at..at + self.assigned_len]
    }

    /// The partitions assigned now as `(partition, generation)` pairs, sorted
    /// by partition: [`partitions`](Self::partitions) read from the parallel
    /// arrays, the fastest way to visit them all (the loop vectorizes).
    /// Borrowed; no allocation.
    #[inline]
    pub fn assigned(
        &self,
    ) -> std::iter::Zip<
        std::iter::Copied<std::slice::Iter<'_, i32>>,
        std::iter::Copied<std::slice::Iter<'_, u64>>,
    > {
        self.partition_numbers()
            .iter()
            .copied()
            .zip(self.partition_generations().iter().copied())
    }

    /// Every partition ever assigned (within the retention limit), sorted.
    pub fn records(&self) -> &[PartitionRecord] {
        &self.records
    }

    /// The record of one partition. O(1) when partitions are numbered densely
    /// from 0 (the usual case), O(log n) otherwise. Never allocates.
    #[inline]
    pub fn record(&self, partition: i32) -> Option<&PartitionRecord> {
        record_in(&self.records, partition)
    }

    pub(crate) fn group_name(&self) -> &Name {
        &self.group
    }

    pub(crate) fn topic_name(&self) -> &Name {
        &self.topic
    }
}

/// The record of `partition` in `recs` (sorted by partition): O(1) when
/// partitions are numbered densely from 0, O(log n) otherwise.
#[inline(always)]
pub(crate) fn record_in(recs: &[PartitionRecord], partition: i32) -> Option<&PartitionRecord> {
    if let Some(r) = recs.get(partition as usize) {
        if r.partition == partition {
            return Some(r);
        }
    }
    recs.binary_search_by_key(&partition, |r| r.partition)
        .ok()
        .map(|i| &recs[i])
}

/// What a [`SortedList`] holds: items ordered by a name.
pub trait Named {
    /// Items per chunk when a chunk is (re)built; a rebuilt chunk smaller
    /// than a quarter of it is merged with a neighbour. An event copies the
    /// chunks it touches plus one pointer per chunk.
    const CHUNK: usize = 64;

    /// The name the list is sorted by.
    fn list_name(&self) -> &str;
}

impl Named for TopicView {
    #[inline]
    fn list_name(&self) -> &str {
        self.topic.as_str()
    }
}

impl Named for GroupView {
    /// Larger: a snapshot may list up to the generations limit of groups.
    const CHUNK: usize = 256;

    #[inline]
    fn list_name(&self) -> &str {
        self.name.as_str()
    }
}

/// Items sorted by name (one group's topics, or a snapshot's groups): a list
/// of immutable chunks shared between consecutive snapshots, so an event
/// copies only the chunks it changes (plus one pointer per chunk), not one
/// pointer per item.
///
/// Indexable (`list[i]`, O(log chunks)) and iterable in name order.
#[derive(Debug)]
pub struct SortedList<T> {
    /// Never empty chunks; names ascend across and within chunks.
    chunks: Vec<Arc<[Arc<T>]>>,
    /// `ends[c]`: number of items in `chunks[..=c]`.
    ends: Vec<usize>,
}

/// One group's topics, sorted by name.
pub type TopicList = SortedList<TopicView>;
/// A snapshot's groups, sorted by name.
pub type GroupList = SortedList<GroupView>;
/// Iterator over a [`TopicList`], in name order.
pub type TopicIter<'a> = ListIter<'a, TopicView>;

impl<T> Clone for SortedList<T> {
    fn clone(&self) -> Self {
        SortedList {
            chunks: self.chunks.clone(),
            ends: self.ends.clone(),
        }
    }
}

impl<T> Default for SortedList<T> {
    fn default() -> Self {
        SortedList {
            chunks: Vec::new(),
            ends: Vec::new(),
        }
    }
}

/// An item's change in a list, sorted by name: `None` removes it.
pub(crate) type ListEdit<'a, T> = (&'a str, Option<&'a Arc<T>>);
/// A topic's change inside a group.
pub(crate) type TopicEdit<'a> = ListEdit<'a, TopicView>;

impl<T: Named> SortedList<T> {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }

    /// Whether there are no items.
    pub fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// The item at position `i` in name order.
    pub fn get(&self, i: usize) -> Option<&Arc<T>> {
        let c = self.ends.partition_point(|&e| e <= i);
        let start = if c == 0 { 0 } else { self.ends[c - 1] };
        self.chunks.get(c)?.get(i - start)
    }

    /// The items in name order.
    pub fn iter(&self) -> ListIter<'_, T> {
        ListIter {
            chunks: self.chunks.iter(),
            cur: [].iter(),
            left: self.len(),
        }
    }

    /// Finds an item by name (binary search).
    pub fn find(&self, name: &str) -> Option<&Arc<T>> {
        let c = self
            .chunks
            .partition_point(|c| c[0].list_name() <= name)
            .checked_sub(1)?;
        let chunk = &self.chunks[c];
        chunk
            .binary_search_by(|t| t.list_name().cmp(name))
            .ok()
            .map(|i| &chunk[i])
    }

    /// This list with `edits` (sorted by name, unique) applied. Chunks no
    /// edit falls in are shared with `self`.
    pub(crate) fn edit(&self, edits: &[ListEdit<'_, T>]) -> SortedList<T> {
        if edits.is_empty() {
            return self.clone();
        }
        let mut out = SortedList {
            chunks: Vec::with_capacity(self.chunks.len() + 1),
            ends: Vec::with_capacity(self.chunks.len() + 1),
        };
        let mut pending: Vec<Arc<T>> = Vec::new();
        let mut j = 0;
        let mut ci = 0;
        let chunks = &self.chunks;
        while ci < chunks.len() {
            // The chunk the next edit falls in (the last one whose first
            // name is not above it): found by binary search, so untouched
            // chunks cost one pointer copy each and no comparison.
            let target = match edits.get(j) {
                Some((n, _)) => ci.max(chunks[1..].partition_point(|c| c[0].list_name() <= *n)),
                None => chunks.len(),
            };
            if target > ci {
                if !pending.is_empty() && pending.len() < (T::CHUNK / 4) {
                    pending.extend(chunks[ci].iter().cloned());
                    out.flush(&mut pending);
                    ci += 1;
                } else {
                    out.flush(&mut pending);
                }
                for c in &chunks[ci..target] {
                    out.push(c.clone());
                }
                ci = target;
                continue;
            }
            let chunk = &chunks[ci];
            let upper = chunks.get(ci + 1).map(|c| c[0].list_name());
            let below = |n: &str| match upper {
                Some(u) => n < u,
                None => true,
            };
            let k = j + edits[j..].partition_point(|(n, _)| below(n));
            let mut i = 0;
            for &(name, new) in &edits[j..k] {
                while i < chunk.len() && chunk[i].list_name() < name {
                    pending.push(chunk[i].clone());
                    i += 1;
                }
                if i < chunk.len() && chunk[i].list_name() == name {
                    i += 1;
                }
                pending.extend(new.cloned());
            }
            pending.extend(chunk[i..].iter().cloned());
            j = k;
            ci += 1;
        }
        pending.extend(edits[j..].iter().filter_map(|(_, new)| new.cloned()));
        if !pending.is_empty() && pending.len() < (T::CHUNK / 4) {
            if let Some(last) = out.chunks.pop() {
                out.ends.pop();
                pending.splice(0..0, last.iter().cloned());
            }
        }
        out.flush(&mut pending);
        out
    }

    fn push(&mut self, chunk: Arc<[Arc<T>]>) {
        self.ends.push(self.len() + chunk.len());
        self.chunks.push(chunk);
    }

    /// Moves `pending` into chunks of at most `T::CHUNK` items, as even as
    /// possible.
    fn flush(&mut self, pending: &mut Vec<Arc<T>>) {
        let n = pending.len();
        if n == 0 {
            return;
        }
        let pieces = n.div_ceil(T::CHUNK);
        let mut items = pending.drain(..);
        for p in 0..pieces {
            let size = n * (p + 1) / pieces - n * p / pieces;
            let chunk: Arc<[Arc<T>]> = items.by_ref().take(size).collect();
            self.push(chunk);
        }
    }
}

impl<T: Named> std::ops::Index<usize> for SortedList<T> {
    type Output = Arc<T>;

    fn index(&self, i: usize) -> &Arc<T> {
        match self.get(i) {
            Some(t) => t,
            None => panic!("index {i} out of range for {} items", self.len()),
        }
    }
}

impl<'a, T: Named> IntoIterator for &'a SortedList<T> {
    type Item = &'a Arc<T>;
    type IntoIter = ListIter<'a, T>;

    fn into_iter(self) -> ListIter<'a, T> {
        self.iter()
    }
}

/// Iterator over a [`SortedList`], in name order.
#[derive(Debug)]
pub struct ListIter<'a, T> {
    chunks: std::slice::Iter<'a, Arc<[Arc<T>]>>,
    cur: std::slice::Iter<'a, Arc<T>>,
    left: usize,
}

impl<T> Clone for ListIter<'_, T> {
    fn clone(&self) -> Self {
        ListIter {
            chunks: self.chunks.clone(),
            cur: self.cur.clone(),
            left: self.left,
        }
    }
}

impl<'a, T> Iterator for ListIter<'a, T> {
    type Item = &'a Arc<T>;

    #[inline]
    fn next(&mut self) -> Option<&'a Arc<T>> {
        loop {
            if let Some(t) = self.cur.next() {
                self.left -= 1;
                return Some(t);
            }
            self.cur = self.chunks.next()?.iter();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl<T> ExactSizeIterator for ListIter<'_, T> {}

/// One group in a snapshot.
#[derive(Debug)]
pub struct GroupView {
    pub(crate) name: Name,
    pub(crate) stats: GroupStats,
    /// Topics with at least one assigned partition.
    pub(crate) assigned: TopicList,
    /// Every topic with generations (assigned ones included).
    pub(crate) known: TopicList,
}

impl GroupView {
    /// The group view after `edits` (sorted by topic name) to `old`'s topics.
    pub(crate) fn edited(
        name: Name,
        stats: GroupStats,
        old: Option<&GroupView>,
        edits: &[TopicEdit<'_>],
    ) -> GroupView {
        let (known, assigned) = match old {
            Some(g) => (&g.known, &g.assigned),
            None => (&TopicList::default(), &TopicList::default()),
        };
        let assigned_edits: Vec<TopicEdit<'_>> = edits
            .iter()
            .map(|&(n, v)| (n, v.filter(|v| v.assigned_len() != 0)))
            .collect();
        GroupView {
            name,
            stats,
            assigned: assigned.edit(&assigned_edits),
            known: known.edit(edits),
        }
    }

    /// The group name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// The group's event counters as of this snapshot.
    pub fn stats(&self) -> GroupStats {
        self.stats
    }

    /// The topics with at least one assigned partition, sorted by name.
    pub fn topics(&self) -> &TopicList {
        &self.assigned
    }

    /// Every topic with generations, assigned or not, sorted by name.
    pub fn known_topics(&self) -> &TopicList {
        &self.known
    }

    /// Finds an assigned topic by name (binary search).
    pub fn topic(&self, name: &str) -> Option<&TopicView> {
        self.assigned.find(name).map(|t| &**t)
    }

    /// Number of partitions assigned to this group now.
    pub fn partition_count(&self) -> usize {
        self.assigned.iter().map(|t| t.assigned_len()).sum()
    }

    pub(crate) fn name_ref(&self) -> &Name {
        &self.name
    }
}

/// An immutable view of the whole tracker at one epoch.
///
/// Got from `Tracker::snapshot` with a wait-free load; holding it never
/// blocks writers and it never changes. Lookups by name are O(1) hash probes
/// and never allocate.
#[derive(Debug)]
pub struct Snapshot {
    pub(crate) epoch: u64,
    /// Sorted by name: every group that holds generations.
    pub(crate) groups: GroupList,
    /// (group, topic) → topic view (`src/index.rs`).
    pub(crate) index: Index,
}

impl Snapshot {
    pub(crate) fn empty(epoch: u64) -> Snapshot {
        Snapshot {
            epoch,
            groups: GroupList::default(),
            index: Index::empty(),
        }
    }

    /// The tracker epoch this snapshot was published at.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Every group that holds generations, sorted by name: groups that own
    /// nothing now are included (with no assigned topics) while any of
    /// their (group, topic) entries is retained; a group whose entries were
    /// all evicted (or cleared) is not listed (README, "Bounded memory").
    pub fn groups(&self) -> &GroupList {
        &self.groups
    }

    /// Finds a group by name (binary search).
    pub fn group(&self, name: &str) -> Option<&GroupView> {
        self.groups.find(name).map(|g| &**g)
    }

    /// Finds the view of a (group, topic) entry, assigned or not. One hash
    /// probe; never allocates.
    #[inline]
    pub fn topic(&self, group: &str, topic: &str) -> Option<&TopicView> {
        self.topic_hashed(key_hash(group, topic), group, topic)
    }

    /// [`topic`](Self::topic) with the key's hash already computed.
    #[inline(always)]
    pub(crate) fn topic_hashed(&self, hash: u64, group: &str, topic: &str) -> Option<&TopicView> {
        self.index.find(hash, group, topic)
    }

    /// The generation of a key (0 if never assigned or evicted).
    #[inline]
    pub fn generation(&self, group: &str, topic: &str, partition: i32) -> u64 {
        self.record(group, topic, partition)
            .map_or(0, |r| r.generation)
    }

    /// Whether the key is assigned in this snapshot.
    #[inline]
    pub fn is_assigned(&self, group: &str, topic: &str, partition: i32) -> bool {
        self.record(group, topic, partition)
            .is_some_and(|r| r.status == Status::Assigned)
    }

    /// The record of a key, if it was ever assigned.
    #[inline]
    pub fn record(&self, group: &str, topic: &str, partition: i32) -> Option<&PartitionRecord> {
        self.topic(group, topic)?.record(partition)
    }

    /// [`record`](Self::record) with the key's hash already computed.
    #[inline(always)]
    pub(crate) fn record_hashed(
        &self,
        hash: u64,
        group: &str,
        topic: &str,
        partition: i32,
    ) -> Option<&PartitionRecord> {
        self.index.find_record(hash, group, topic, partition)
    }

    /// Number of partitions assigned now, over all groups.
    pub fn partition_count(&self) -> usize {
        self.groups.iter().map(|g| g.partition_count()).sum()
    }

    /// Number of (group, topic) entries that hold generations.
    pub fn generations_topics(&self) -> usize {
        self.index.len()
    }

    /// A frozen copy of every generation in this snapshot (revoked and lost
    /// included), sorted by group, topic and partition. Costs one reference
    /// count per (group, topic), not per partition; allocates two arrays.
    pub fn generations(&self) -> Generations {
        let mut topics = Vec::with_capacity(self.index.len());
        let mut ends = Vec::with_capacity(self.index.len());
        let mut total = 0;
        for g in &self.groups {
            for t in &g.known {
                if !t.records.is_empty() {
                    total += t.records.len();
                    topics.push(t.clone());
                    ends.push(total);
                }
            }
        }
        Generations {
            epoch: self.epoch,
            topics,
            ends,
        }
    }

    /// The current assignments as JSON:
    /// `{"epoch":N,"groups":{"group":{"topic":{"partition":generation,…},…},…}}`.
    /// Groups that own nothing appear as `{}`. Allocates.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64 + 24 * self.partition_count());
        out.push_str("{\"epoch\":");
        push_u64(&mut out, self.epoch);
        out.push_str(",\"groups\":{");
        for (gi, g) in self.groups.iter().enumerate() {
            if gi > 0 {
                out.push(',');
            }
            crate::json::push_str(&mut out, g.name());
            out.push_str(":{");
            for (ti, t) in g.assigned.iter().enumerate() {
                if ti > 0 {
                    out.push(',');
                }
                crate::json::push_str(&mut out, t.name());
                out.push_str(":{");
                for (pi, p) in t.partitions().iter().enumerate() {
                    if pi > 0 {
                        out.push(',');
                    }
                    out.push('"');
                    push_u64(&mut out, p.partition as u64);
                    out.push_str("\":");
                    push_u64(&mut out, p.generation);
                }
                out.push('}');
            }
            out.push('}');
        }
        out.push_str("}}");
        out
    }
}

fn push_u64(out: &mut String, v: u64) {
    use std::fmt::Write;
    let _ = write!(out, "{v}");
}

/// One key of a [`Generations`] list, borrowed from it.
#[derive(Clone, Copy)]
pub struct GenerationEntry<'a> {
    view: &'a TopicView,
    /// The partition number.
    pub partition: i32,
    /// Times assigned (at least 1).
    pub generation: u64,
    /// Assigned now, revoked or lost.
    pub status: Status,
}

impl<'a> GenerationEntry<'a> {
    fn new(view: &'a TopicView, r: &PartitionRecord) -> GenerationEntry<'a> {
        GenerationEntry {
            view,
            partition: r.partition,
            generation: r.generation,
            status: r.status,
        }
    }

    /// The group name.
    pub fn group(&self) -> &'a str {
        self.view.group.as_str()
    }
    /// The topic name.
    pub fn topic(&self) -> &'a str {
        self.view.topic.as_str()
    }
    pub(crate) fn group_name(&self) -> &'a Name {
        &self.view.group
    }
    pub(crate) fn topic_name(&self) -> &'a Name {
        &self.view.topic
    }
}

impl std::fmt::Debug for GenerationEntry<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GenerationEntry")
            .field("group", &self.group())
            .field("topic", &self.topic())
            .field("partition", &self.partition)
            .field("generation", &self.generation)
            .field("status", &self.status)
            .finish()
    }
}

/// A frozen copy of every generation the tracker holds at one epoch, sorted
/// by group, topic and partition.
///
/// Taking it costs one reference count per (group, topic), not one per
/// partition: it holds the snapshot's topic views, which never change, plus
/// the running entry count at the end of each. Later events build new views
/// and leave these alone, so the list never changes; it keeps those views
/// (and nothing else of the snapshot) alive until dropped.
#[derive(Debug, Clone)]
pub struct Generations {
    epoch: u64,
    /// Views with at least one record, sorted by group, then topic.
    topics: Vec<Arc<TopicView>>,
    /// `ends[i]`: number of entries in `topics[..=i]`.
    ends: Vec<usize>,
}

impl Generations {
    /// The epoch the list was taken at.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The entries, sorted by group, topic and partition.
    pub fn entries(&self) -> GenerationsIter<'_> {
        GenerationsIter {
            topics: self.topics.iter(),
            cur: None,
            records: [].iter(),
            left: self.len(),
        }
    }

    /// Entry `index` in the [`entries`](Self::entries) order. O(log topics).
    pub fn get(&self, index: usize) -> Option<GenerationEntry<'_>> {
        let t = self.ends.partition_point(|&e| e <= index);
        let view = self.topics.get(t)?;
        let start = if t == 0 { 0 } else { self.ends[t - 1] };
        Some(GenerationEntry::new(view, &view.records[index - start]))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.ends.last().copied().unwrap_or(0)
    }

    /// Whether nothing was ever assigned (or everything was cleared).
    pub fn is_empty(&self) -> bool {
        self.topics.is_empty()
    }

    /// As JSON: `{"epoch":N,"groups":{"group":{"topic":{"partition":
    /// {"generation":G,"status":"assigned|revoked|lost"},…},…},…}}`.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64 + 48 * self.len());
        out.push_str("{\"epoch\":");
        push_u64(&mut out, self.epoch);
        out.push_str(",\"groups\":{");
        let mut prev: Option<&TopicView> = None;
        for t in &self.topics {
            let same_group = prev.is_some_and(|p| p.group == t.group);
            match prev {
                None => {}
                Some(_) if same_group => out.push_str("},"),
                Some(_) => out.push_str("}},"),
            }
            if !same_group {
                crate::json::push_str(&mut out, t.group());
                out.push_str(":{");
            }
            crate::json::push_str(&mut out, t.name());
            out.push_str(":{");
            for (i, r) in t.records.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('"');
                push_u64(&mut out, r.partition as u64);
                out.push_str("\":{\"generation\":");
                push_u64(&mut out, r.generation);
                out.push_str(",\"status\":\"");
                out.push_str(r.status.as_str());
                out.push_str("\"}");
            }
            prev = Some(t);
        }
        if prev.is_some() {
            out.push_str("}}");
        }
        out.push_str("}}");
        out
    }
}

impl<'a> IntoIterator for &'a Generations {
    type Item = GenerationEntry<'a>;
    type IntoIter = GenerationsIter<'a>;

    fn into_iter(self) -> GenerationsIter<'a> {
        self.entries()
    }
}

/// Iterator over a [`Generations`] list, sorted by group, topic and partition.
#[derive(Debug, Clone)]
pub struct GenerationsIter<'a> {
    topics: std::slice::Iter<'a, Arc<TopicView>>,
    cur: Option<&'a TopicView>,
    records: std::slice::Iter<'a, PartitionRecord>,
    left: usize,
}

impl<'a> Iterator for GenerationsIter<'a> {
    type Item = GenerationEntry<'a>;

    #[inline]
    fn next(&mut self) -> Option<GenerationEntry<'a>> {
        loop {
            if let (Some(view), Some(r)) = (self.cur, self.records.next()) {
                self.left -= 1;
                return Some(GenerationEntry::new(view, r));
            }
            let view = self.topics.next()?;
            self.cur = Some(view);
            self.records = view.records.iter();
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for GenerationsIter<'_> {}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn view(topic: &str, tag: u64) -> Arc<TopicView> {
        Arc::new(TopicView::new(
            Name::new("g"),
            Name::new(topic),
            Box::new([]),
            tag,
        ))
    }

    /// Checks a list against the map it should mirror, and the chunk bounds.
    fn check(list: &TopicList, model: &BTreeMap<String, u64>) {
        let got: Vec<(String, u64)> = list
            .iter()
            .map(|t| (t.name().to_owned(), t.lru_tick))
            .collect();
        let want: Vec<(String, u64)> = model.iter().map(|(k, v)| (k.clone(), *v)).collect();
        assert_eq!(got, want);
        assert_eq!(list.len(), model.len());
        assert_eq!(list.iter().len(), model.len());
        for (i, (name, tag)) in model.iter().enumerate() {
            assert_eq!(list[i].name(), name);
            assert_eq!(list.find(name).map(|t| t.lru_tick), Some(*tag));
        }
        assert!(list.get(model.len()).is_none());
        assert!(list.find("zz-missing").is_none());
        assert!(list.find("").is_none());
        for c in &list.chunks {
            assert!(
                !c.is_empty() && c.len() <= <TopicView as Named>::CHUNK,
                "chunk of {}",
                c.len()
            );
        }
        if list.chunks.len() > 1 {
            assert!(
                list.chunks
                    .iter()
                    .all(|c| c.len() >= <TopicView as Named>::CHUNK / 4),
                "small chunk among {:?}",
                list.chunks.iter().map(|c| c.len()).collect::<Vec<_>>()
            );
        }
    }

    #[test]
    fn parallel_arrays_hold_the_assigned_partitions() {
        let status = [Status::Assigned, Status::Revoked, Status::Lost];
        // Mixed statuses (an array of their own), then every record assigned
        // (the record array lent as the assigned array).
        // Numbers 0..n (the shared table) when `dense`, spread otherwise;
        // past the table's length, stored.
        let cases = (0..12usize)
            .chain([4095, 4096, 4097])
            .flat_map(|n| [(n, false), (n, true)])
            .flat_map(|(n, all)| [(n, all, false), (n, all, true)]);
        for (n, all, dense) in cases {
            let records: Vec<PartitionRecord> = (0..n)
                .map(|i| PartitionRecord {
                    partition: if dense {
                        i as i32
                    } else if i == n - 1 {
                        i32::MAX
                    } else {
                        3 * i as i32
                    },
                    generation: (i as u64 + 1) << (4 * (i % 16)),
                    status: if all {
                        Status::Assigned
                    } else {
                        status[(i * i + n) % 3]
                    },
                })
                .collect();
            let v = TopicView::new(Name::new("g"), Name::new("t"), records.clone().into(), 0);
            assert_eq!(v.records(), &records[..]);
            assert_eq!(v.assigned_len(), v.partitions().len());
            if all {
                assert_eq!(
                    v.partitions().as_ptr().cast::<u8>(),
                    v.records().as_ptr().cast::<u8>()
                );
            }
            let want: Vec<(i32, u64)> = records
                .iter()
                .filter(|r| r.status == Status::Assigned)
                .map(|r| (r.partition, r.generation))
                .collect();
            let aos: Vec<(i32, u64)> = v
                .partitions()
                .iter()
                .map(|p| (p.partition, p.generation))
                .collect();
            assert_eq!(aos, want, "{n} records");
            assert_eq!(v.assigned().collect::<Vec<_>>(), want, "{n} records");
            assert_eq!(v.assigned().len(), want.len());
            let numbers: Vec<i32> = want.iter().map(|w| w.0).collect();
            let gens: Vec<u64> = want.iter().map(|w| w.1).collect();
            assert_eq!(v.partition_numbers(), numbers);
            if dense && all && n <= DENSE.len() {
                assert_eq!(v.partition_numbers().as_ptr(), DENSE.as_ptr());
            }
            assert_eq!(v.partition_generations(), gens);
        }
    }

    #[test]
    fn topic_list_edits_match_a_sorted_map() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut list = TopicList::default();
        let mut model: BTreeMap<String, u64> = BTreeMap::new();
        for round in 0..400u64 {
            // Bursts of inserts, then of removals, of varying widths.
            let size = [1, 3, 40, 150, 700][next(5) as usize];
            let remove_bias = if (round / 50) % 2 == 1 { 7 } else { 3 };
            let mut edits: BTreeMap<String, Option<Arc<TopicView>>> = BTreeMap::new();
            for _ in 0..next(size) + 1 {
                let name = format!("t{:04}", next(2_000));
                let new = (next(10) >= remove_bias).then(|| view(&name, round));
                edits.insert(name, new);
            }
            for (name, new) in &edits {
                match new {
                    Some(_) => model.insert(name.clone(), round),
                    None => model.remove(name),
                };
            }
            let edits: Vec<TopicEdit<'_>> = edits
                .iter()
                .map(|(n, v)| (n.as_str(), v.as_ref()))
                .collect();
            let before = list.clone();
            list = list.edit(&edits);
            check(&list, &model);
            // Chunks no edit falls in are shared, not copied.
            let untouched = before
                .chunks
                .iter()
                .filter(|c| list.chunks.iter().any(|n| Arc::ptr_eq(c, n)))
                .count();
            if edits.len() == 1 && before.chunks.len() > 4 {
                assert!(
                    untouched + 2 >= before.chunks.len(),
                    "one edit copied many chunks"
                );
            }
        }
    }
}
