//! The immutable views readers get: snapshots and generation lists.
//!
//! A [`Snapshot`] is built by the writer after each event and published
//! through `ArcSwap`; nothing in it ever changes afterwards. Unchanged groups
//! and topics are shared between consecutive snapshots (`Arc`), so an event
//! costs the size of what it touches plus one pointer per topic of its group.

use std::sync::Arc;

use hashbrown::HashTable;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartitionRecord {
    /// The partition number.
    pub partition: i32,
    /// Times assigned (never 0 here).
    pub generation: u64,
    /// What happened last.
    pub status: Status,
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
    /// Sorted by partition; only `Status::Assigned` ones.
    pub(crate) assigned: Box<[AssignedPartition]>,
    /// Sorted by partition; every partition with a generation.
    pub(crate) records: Box<[PartitionRecord]>,
    /// Position in the least-recently-assigned order (larger is more recent).
    pub(crate) lru_tick: u64,
}

impl TopicView {
    pub(crate) fn new(
        group: Name,
        topic: Name,
        records: Box<[PartitionRecord]>,
        lru_tick: u64,
    ) -> TopicView {
        let assigned = records
            .iter()
            .filter(|r| r.status == Status::Assigned)
            .map(|r| AssignedPartition {
                partition: r.partition,
                generation: r.generation,
            })
            .collect();
        TopicView {
            hash: key_hash(group.as_str(), topic.as_str()),
            group,
            topic,
            assigned,
            records,
            lru_tick,
        }
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
    pub fn partitions(&self) -> &[AssignedPartition] {
        &self.assigned
    }

    /// Every partition ever assigned (within the retention limit), sorted.
    pub fn records(&self) -> &[PartitionRecord] {
        &self.records
    }

    /// The record of one partition. O(1) when partitions are numbered densely
    /// from 0 (the usual case), O(log n) otherwise. Never allocates.
    #[inline]
    pub fn record(&self, partition: i32) -> Option<&PartitionRecord> {
        let recs = &self.records;
        if let Some(r) = recs.get(partition as usize) {
            if r.partition == partition {
                return Some(r);
            }
        }
        recs.binary_search_by_key(&partition, |r| r.partition)
            .ok()
            .map(|i| &recs[i])
    }

    pub(crate) fn group_name(&self) -> &Name {
        &self.group
    }

    pub(crate) fn topic_name(&self) -> &Name {
        &self.topic
    }
}

/// One group in a snapshot.
#[derive(Debug)]
pub struct GroupView {
    pub(crate) name: Name,
    pub(crate) stats: GroupStats,
    /// Sorted by name; topics with at least one assigned partition.
    pub(crate) assigned: Vec<Arc<TopicView>>,
    /// Sorted by name; every topic with generations (assigned ones included).
    pub(crate) known: Vec<Arc<TopicView>>,
}

impl GroupView {
    pub(crate) fn new(name: Name, stats: GroupStats, known: Vec<Arc<TopicView>>) -> GroupView {
        let assigned = known
            .iter()
            .filter(|t| !t.assigned.is_empty())
            .cloned()
            .collect();
        GroupView {
            name,
            stats,
            assigned,
            known,
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
    pub fn topics(&self) -> &[Arc<TopicView>] {
        &self.assigned
    }

    /// Every topic with generations, assigned or not, sorted by name.
    pub fn known_topics(&self) -> &[Arc<TopicView>] {
        &self.known
    }

    /// Finds an assigned topic by name (binary search).
    pub fn topic(&self, name: &str) -> Option<&TopicView> {
        self.assigned
            .binary_search_by(|t| t.name().cmp(name))
            .ok()
            .map(|i| &*self.assigned[i])
    }

    /// Number of partitions assigned to this group now.
    pub fn partition_count(&self) -> usize {
        self.assigned.iter().map(|t| t.assigned.len()).sum()
    }

    pub(crate) fn name_ref(&self) -> &Name {
        &self.name
    }
}

/// Number of index shards: an event clones only the shards it touches.
pub(crate) const SHARDS: usize = 16;

pub(crate) type Shard = Arc<HashTable<Arc<TopicView>>>;

/// An immutable view of the whole tracker at one epoch.
///
/// Got from `Tracker::snapshot` with a wait-free load; holding it never
/// blocks writers and it never changes. Lookups by name are O(1) hash probes
/// and never allocate.
#[derive(Debug)]
pub struct Snapshot {
    pub(crate) epoch: u64,
    /// Sorted by name: every group that has ever changed.
    pub(crate) groups: Vec<Arc<GroupView>>,
    /// (group, topic) → topic view, split by hash.
    pub(crate) index: [Shard; SHARDS],
    /// Number of (group, topic) entries with generations.
    pub(crate) entries: usize,
}

#[inline]
pub(crate) fn shard_of(hash: u64) -> usize {
    (hash >> 60) as usize & (SHARDS - 1)
}

impl Snapshot {
    pub(crate) fn empty(epoch: u64) -> Snapshot {
        Snapshot {
            epoch,
            groups: Vec::new(),
            index: std::array::from_fn(|_| Arc::new(HashTable::new())),
            entries: 0,
        }
    }

    /// The tracker epoch this snapshot was published at.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Every group that has had at least one change, sorted by name; groups
    /// that own nothing now are included (with no topics).
    pub fn groups(&self) -> &[Arc<GroupView>] {
        &self.groups
    }

    /// Finds a group by name (binary search).
    pub fn group(&self, name: &str) -> Option<&GroupView> {
        self.groups
            .binary_search_by(|g| g.name().cmp(name))
            .ok()
            .map(|i| &*self.groups[i])
    }

    /// Finds the view of a (group, topic) entry, assigned or not. One hash
    /// probe; never allocates.
    #[inline]
    pub fn topic(&self, group: &str, topic: &str) -> Option<&TopicView> {
        let hash = key_hash(group, topic);
        self.index[shard_of(hash)]
            .find(hash, |t| {
                t.topic.as_str() == topic && t.group.as_str() == group
            })
            .map(|t| &**t)
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

    /// Number of partitions assigned now, over all groups.
    pub fn partition_count(&self) -> usize {
        self.groups.iter().map(|g| g.partition_count()).sum()
    }

    /// Number of (group, topic) entries that hold generations.
    pub fn generations_topics(&self) -> usize {
        self.entries
    }

    /// A frozen, flat copy of every generation in this snapshot (revoked and
    /// lost included), sorted by group, topic and partition. Allocates.
    pub fn generations(&self) -> Generations {
        let mut entries = Vec::new();
        for g in &self.groups {
            for t in &g.known {
                for r in t.records.iter() {
                    entries.push(GenerationEntry {
                        group: g.name.clone(),
                        topic: t.topic.clone(),
                        partition: r.partition,
                        generation: r.generation,
                        status: r.status,
                    });
                }
            }
        }
        Generations {
            epoch: self.epoch,
            entries,
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
                for (pi, p) in t.assigned.iter().enumerate() {
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

/// One key of a [`Generations`] list.
#[derive(Debug, Clone)]
pub struct GenerationEntry {
    pub(crate) group: Name,
    pub(crate) topic: Name,
    /// The partition number.
    pub partition: i32,
    /// Times assigned (at least 1).
    pub generation: u64,
    /// Assigned now, revoked or lost.
    pub status: Status,
}

impl GenerationEntry {
    /// The group name.
    pub fn group(&self) -> &str {
        self.group.as_str()
    }
    /// The topic name.
    pub fn topic(&self) -> &str {
        self.topic.as_str()
    }
    pub(crate) fn group_name(&self) -> &Name {
        &self.group
    }
    pub(crate) fn topic_name(&self) -> &Name {
        &self.topic
    }
}

/// A frozen copy of every generation the tracker holds at one epoch, sorted
/// by group, topic and partition. Owns its data; names are shared, not copied.
#[derive(Debug, Clone)]
pub struct Generations {
    epoch: u64,
    entries: Vec<GenerationEntry>,
}

impl Generations {
    /// The epoch the list was taken at.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The entries, sorted by group, topic and partition.
    pub fn entries(&self) -> &[GenerationEntry] {
        &self.entries
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was ever assigned (or everything was cleared).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// As JSON: `{"epoch":N,"groups":{"group":{"topic":{"partition":
    /// {"generation":G,"status":"assigned|revoked|lost"},…},…},…}}`.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(64 + 48 * self.entries.len());
        out.push_str("{\"epoch\":");
        push_u64(&mut out, self.epoch);
        out.push_str(",\"groups\":{");
        let mut prev: Option<&GenerationEntry> = None;
        for e in &self.entries {
            let same_group = prev.is_some_and(|p| p.group == e.group);
            let same_topic = same_group && prev.is_some_and(|p| p.topic == e.topic);
            match prev {
                None => {}
                Some(_) if same_topic => out.push(','),
                Some(_) if same_group => out.push_str("},"),
                Some(_) => out.push_str("}},"),
            }
            if !same_group {
                crate::json::push_str(&mut out, e.group());
                out.push_str(":{");
            }
            if !same_topic {
                crate::json::push_str(&mut out, e.topic());
                out.push_str(":{");
            }
            out.push('"');
            push_u64(&mut out, e.partition as u64);
            out.push_str("\":{\"generation\":");
            push_u64(&mut out, e.generation);
            out.push_str(",\"status\":\"");
            out.push_str(e.status.as_str());
            out.push_str("\"}");
            prev = Some(e);
        }
        if prev.is_some() {
            out.push_str("}}");
        }
        out.push_str("}}");
        out
    }
}
