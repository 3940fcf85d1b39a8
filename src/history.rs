//! Per-group rebalance history and health, kept beside the snapshots.
//!
//! Writers (the tracker's event path, under its writer lock) append one
//! [`HistoryEntry`] per event to a bounded ring and update a packed health
//! word; readers get both wait-free: the registry of groups is published
//! copy-on-write through `ArcSwap` (a new group copies it once), each ring is
//! an immutable list of shared entries published the same way, and the
//! health word is one atomic load.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::name::Name;
use crate::Snapshot;

/// Default number of entries kept per group.
pub const DEFAULT_HISTORY_LIMIT: usize = 64;
/// At most this many partitions are listed in one entry (the counts are
/// always exact).
pub const HISTORY_PARTITIONS_LIMIT: usize = 32;

/// What a history entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HistoryKind {
    /// An incremental (or manual) assign: `Group::assigned`.
    Assign,
    /// An orderly revoke: `Group::revoked`.
    Revoke,
    /// An eager assign that replaced the assignment: `Group::replace`.
    Replace,
    /// The assignment was lost: `Group::lost`.
    Lost,
    /// The client was reset or re-created: `Group::reset`.
    Reset,
    /// The group's poll deadline passed with no poll and kat's timer took
    /// its partitions away (`Group::set_poll_deadline`). The partitions get
    /// status `lost`, as with [`Lost`](Self::Lost); only the history tells
    /// the two apart.
    Expired,
    /// A rebalance the glue could not apply (librdkafka refused the assign
    /// call): nothing changed in the tracker; `error` says why.
    Error,
}

impl HistoryKind {
    /// The lower-case name used in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryKind::Assign => "assign",
            HistoryKind::Revoke => "revoke",
            HistoryKind::Replace => "replace",
            HistoryKind::Lost => "lost",
            HistoryKind::Reset => "reset",
            HistoryKind::Expired => "expired",
            HistoryKind::Error => "error",
        }
    }
}

/// One partition named in a history entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPartition {
    topic: Name,
    /// The partition number.
    pub partition: i32,
}

impl HistoryPartition {
    /// The topic name.
    pub fn topic(&self) -> &str {
        self.topic.as_str()
    }
}

/// One event of a group's rebalance history. Immutable once recorded.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    /// Wall-clock time of the event, ms since the Unix epoch.
    pub unix_ms: u64,
    /// The tracker epoch the event was published at (unchanged for an
    /// event that changed nothing).
    pub epoch: u64,
    /// What happened.
    pub kind: HistoryKind,
    /// Partitions that got a new generation (assign, replace).
    pub assigned: usize,
    /// Partitions that went from assigned to revoked.
    pub revoked: usize,
    /// Partitions that went from assigned to lost.
    pub lost: usize,
    /// For an assign or replace that ended a rebalance (a revoke, loss or
    /// reset came before it, with no assign in between): milliseconds from
    /// that revoke to this assign.
    pub rebalance_ms: Option<u64>,
    /// Up to [`HISTORY_PARTITIONS_LIMIT`] of the partitions the event
    /// assigned or took away, sorted by topic and partition.
    pub partitions: Vec<HistoryPartition>,
    /// Whether `partitions` was cut at the limit.
    pub partitions_truncated: bool,
    /// The rebalance protocol the glue reported for the group's consumer
    /// (`eager` or `cooperative`), if any glue reported one.
    pub protocol: Option<&'static str>,
    /// For [`HistoryKind::Error`]: what the glue reported.
    pub error: Option<String>,
    /// The broker's generation of the membership known when the entry was
    /// recorded (group generation id under the classic protocol, member
    /// epoch under KIP-848), as the fencing token carries it; 0: unknown
    /// (no glue recorded one, or librdkafka older than 2.12). The glue
    /// records it before it applies a rebalance, so a rebalance's entry
    /// carries the generation that rebalance started.
    pub broker_generation: i32,
}

/// A group's health, as one wait-free read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Health {
    /// No event was ever recorded for the group (or since `clear()`).
    NeverJoined = 0,
    /// Joined, owns nothing, no rebalance in progress.
    Standby = 1,
    /// Owns at least one partition, no rebalance in progress.
    Assigned = 2,
    /// Between a revoke and the following assign.
    Rebalancing = 3,
    /// The assignment was lost (or the client reset) and nothing was
    /// assigned since.
    Lost = 4,
    /// Joined, but its consumer has not polled for longer than the group's
    /// stall threshold (`Group::set_stall_after`, or by default half of an
    /// armed poll deadline, `Group::set_stall_fraction`; only when polls are
    /// marked): it may still believe it owns what the group has given away.
    Stalled = 5,
}

impl Health {
    /// Every state, in code order.
    pub const ALL: [Health; 6] = [
        Health::NeverJoined,
        Health::Standby,
        Health::Assigned,
        Health::Rebalancing,
        Health::Lost,
        Health::Stalled,
    ];

    /// The snake-case name used in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Health::NeverJoined => "never_joined",
            Health::Standby => "standby",
            Health::Assigned => "assigned",
            Health::Rebalancing => "rebalancing",
            Health::Lost => "lost",
            Health::Stalled => "stalled",
        }
    }

    fn from_bits(bits: u64) -> Health {
        match bits {
            1 => Health::Standby,
            2 => Health::Assigned,
            3 => Health::Rebalancing,
            4 => Health::Lost,
            5 => Health::Stalled,
            _ => Health::NeverJoined,
        }
    }
}

/// A group's health and since when it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HealthState {
    /// The state.
    pub health: Health,
    /// When it began, ms since the Unix epoch (0 for `NeverJoined`).
    pub since_unix_ms: u64,
}

/// Default fraction of the poll deadline after which a group with an armed
/// deadline and no explicit stall threshold is `Stalled`.
pub const DEFAULT_STALL_FRACTION: f64 = 0.5;

/// The stall threshold in ns: the explicit one, else the configured
/// fraction of an armed poll deadline; 0: none.
fn stall_threshold_ns(rt: &crate::runtime::GroupRuntime) -> u64 {
    let explicit = rt.stall_after_ns.load(Ordering::Relaxed);
    if explicit != 0 {
        return explicit;
    }
    let deadline = rt.deadline_ns.load(Ordering::Relaxed);
    if deadline == 0 {
        return 0;
    }
    let fraction = match rt.stall_fraction_ppm.load(Ordering::Relaxed) {
        0 => (DEFAULT_STALL_FRACTION * 1e6) as u64,
        STALL_FRACTION_OFF => return 0,
        ppm => ppm,
    };
    (u128::from(deadline) * u128::from(fraction) / 1_000_000).max(1) as u64
}

/// `stall_fraction_ppm` value that turns the derived threshold off.
pub(crate) const STALL_FRACTION_OFF: u64 = u64::MAX;

/// `Stalled` (since the last poll) when the group's polls are marked and the
/// last one is older than its stall threshold.
fn stalled(rt: &crate::runtime::GroupRuntime) -> Option<HealthState> {
    let after = stall_threshold_ns(rt);
    if after == 0 {
        return None;
    }
    let last = rt.last_poll_ns()?;
    let idle = crate::runtime::mono_ns().saturating_sub(last);
    (idle > after).then(|| HealthState {
        health: Health::Stalled,
        since_unix_ms: crate::metrics::now_unix_ms().saturating_sub(idle / 1_000_000),
    })
}

/// Bits of the health word holding the state; the rest is the time.
const HEALTH_BITS: u32 = 3;

fn pack_health(h: Health, since_ms: u64) -> u64 {
    (since_ms << HEALTH_BITS) | h as u64
}

fn unpack_health(word: u64) -> HealthState {
    HealthState {
        health: Health::from_bits(word & ((1 << HEALTH_BITS) - 1)),
        since_unix_ms: word >> HEALTH_BITS,
    }
}

/// A frozen copy of a group's history, oldest entry first.
#[derive(Debug, Clone, Default)]
pub struct History {
    entries: Arc<[Arc<HistoryEntry>]>,
}

impl History {
    /// The entries, oldest first.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = &HistoryEntry> + '_ {
        self.entries.iter().map(|e| &**e)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The most recent entry.
    pub fn last(&self) -> Option<&HistoryEntry> {
        self.entries.last().map(|e| &**e)
    }

    /// As a JSON array, oldest first: `[{"unix_ms":…,"epoch":…,"kind":
    /// "assign|revoke|replace|lost|reset|expired|error","assigned":N,"revoked":N,"lost":N,
    /// "rebalance_ms":N|null,"partitions":[["topic",p],…],
    /// "partitions_truncated":bool,"protocol":"eager|cooperative"|null,
    /// "error":"…"|null,"broker_generation":N},…]`.
    pub fn to_json(&self) -> String {
        let mut out = String::with_capacity(2 + 160 * self.entries.len());
        out.push('[');
        for (i, e) in self.entries().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_entry_json(&mut out, e);
        }
        out.push(']');
        out
    }
}

fn push_entry_json(out: &mut String, e: &HistoryEntry) {
    use std::fmt::Write;
    let _ = write!(
        out,
        "{{\"unix_ms\":{},\"epoch\":{},\"kind\":\"{}\",\"assigned\":{},\"revoked\":{},\"lost\":{},\"rebalance_ms\":",
        e.unix_ms,
        e.epoch,
        e.kind.as_str(),
        e.assigned,
        e.revoked,
        e.lost
    );
    match e.rebalance_ms {
        Some(ms) => {
            let _ = write!(out, "{ms}");
        }
        None => out.push_str("null"),
    }
    out.push_str(",\"partitions\":[");
    for (i, p) in e.partitions.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        crate::json::push_str(out, p.topic());
        let _ = write!(out, ",{}]", p.partition);
    }
    let _ = write!(
        out,
        "],\"partitions_truncated\":{},\"protocol\":",
        e.partitions_truncated
    );
    match e.protocol {
        Some(p) => crate::json::push_str(out, p),
        None => out.push_str("null"),
    }
    out.push_str(",\"error\":");
    match &e.error {
        Some(m) => crate::json::push_str(out, m),
        None => out.push_str("null"),
    }
    let _ = write!(out, ",\"broker_generation\":{}}}", e.broker_generation);
}

/// One group's observed state.
pub(crate) struct GroupLog {
    ring: ArcSwap<Vec<Arc<HistoryEntry>>>,
    health: AtomicU64,
    /// Timed rebalances (entries with `rebalance_ms`) and their sum, ms.
    timed: AtomicU64,
    timed_ms: AtomicU64,
    /// Writer-only (under the tracker's writer lock): when the pending
    /// rebalance started, 0 if none.
    rebalance_started_ms: AtomicU64,
    /// The last librdkafka statistics handed to the group (`src/stats.rs`).
    pub(crate) cgrp: crate::stats::LastCgrp,
    /// The protocol the glue last reported: 0 none, 1 eager, 2 cooperative.
    protocol: std::sync::atomic::AtomicU8,
    /// The group's runtime state (poll marks, stall threshold).
    runtime: Arc<crate::runtime::GroupRuntime>,
}

impl GroupLog {
    fn new(runtime: Arc<crate::runtime::GroupRuntime>) -> GroupLog {
        GroupLog {
            runtime,
            ring: ArcSwap::from_pointee(Vec::new()),
            health: AtomicU64::new(0),
            timed: AtomicU64::new(0),
            timed_ms: AtomicU64::new(0),
            rebalance_started_ms: AtomicU64::new(0),
            cgrp: crate::stats::LastCgrp::empty(),
            protocol: std::sync::atomic::AtomicU8::new(0),
        }
    }

    fn protocol(&self) -> Option<&'static str> {
        match self.protocol.load(Ordering::Relaxed) {
            1 => Some("eager"),
            2 => Some("cooperative"),
            _ => None,
        }
    }

    /// Appends an entry, dropping the oldest past `limit` (writer lock held).
    fn push(&self, entry: HistoryEntry, limit: usize) {
        let cur = self.ring.load();
        let skip = (cur.len() + 1).saturating_sub(limit);
        let mut next = Vec::with_capacity(cur.len() + 1 - skip);
        next.extend(cur.iter().skip(skip).cloned());
        next.push(Arc::new(entry));
        self.ring.store(Arc::new(next));
    }

    /// The health word, then `stalled` if polls are marked and overdue.
    pub(crate) fn health(&self) -> HealthState {
        let base = unpack_health(self.health.load(Ordering::Acquire));
        match base.health {
            Health::Standby | Health::Assigned | Health::Rebalancing => {
                stalled(&self.runtime).unwrap_or(base)
            }
            _ => base,
        }
    }

    /// Seconds since the consumer's last poll mark, if it was ever marked.
    pub(crate) fn since_last_poll(&self) -> Option<std::time::Duration> {
        self.runtime
            .last_poll_ns()
            .map(|t| std::time::Duration::from_nanos(crate::runtime::mono_ns().saturating_sub(t)))
    }

    pub(crate) fn history(&self) -> History {
        History {
            entries: self.ring.load_full().as_slice().into(),
        }
    }

    /// (timed rebalances, their total ms, the longest in the ring in ms).
    pub(crate) fn latency(&self) -> (u64, u64, Option<u64>) {
        let max = self.ring.load().iter().filter_map(|e| e.rebalance_ms).max();
        (
            self.timed.load(Ordering::Relaxed),
            self.timed_ms.load(Ordering::Relaxed),
            max,
        )
    }
}

/// Group name → its log.
type GroupMap = HashMap<Name, Arc<GroupLog>>;

/// Shards of the registry: a new group copies one shard's map, not all.
const REGISTRY_SHARDS: usize = 256;

/// The registry shard of a group name.
fn shard_of(group: &str) -> usize {
    // FNV-1a: cheap, and only spreads the copy cost (not read by name).
    let mut h: u32 = 0x811c_9dc5;
    for b in group.bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h as usize % REGISTRY_SHARDS
}

/// Every observed group of a tracker, by name.
pub(crate) struct Registry {
    /// Copy-on-write maps, by [`shard_of`] the name.
    groups: Box<[ArcSwap<GroupMap>]>,
    /// Set at process exit only (see `anchor_for_exit`).
    exit_anchor: std::sync::Mutex<Vec<Arc<GroupMap>>>,
    /// Entries kept per group; writer-only updates.
    limit: AtomicU64,
}

/// An event as the history sees it, described by the tracker's writer.
pub(crate) struct Observed<'a> {
    pub(crate) kind: HistoryKind,
    /// The event's partitions (assign / revoke / replace lists), by topic.
    pub(crate) listed: &'a [(&'a str, &'a [i32])],
    pub(crate) unix_ms: u64,
}

impl Registry {
    pub(crate) fn new() -> Registry {
        Registry {
            groups: {
                // One empty map shared by every shard until a group lands
                // in it (a tracker costs one allocation here, not 256).
                let empty: Arc<GroupMap> = Arc::new(HashMap::new());
                (0..REGISTRY_SHARDS)
                    .map(|_| ArcSwap::new(empty.clone()))
                    .collect()
            },
            exit_anchor: std::sync::Mutex::new(Vec::new()),
            limit: AtomicU64::new(DEFAULT_HISTORY_LIMIT as u64),
        }
    }

    /// The log of a group, if it ever had an event. Wait-free.
    pub(crate) fn get(&self, group: &str) -> Option<Arc<GroupLog>> {
        self.groups[shard_of(group)].load().get(group).cloned()
    }

    /// Every group with its log, sorted by name. Wait-free load, then a copy
    /// of the pointers.
    pub(crate) fn sorted(&self) -> Vec<(Name, Arc<GroupLog>)> {
        let mut v: Vec<(Name, Arc<GroupLog>)> = self
            .groups
            .iter()
            .flat_map(|shard| {
                shard
                    .load()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect::<Vec<_>>()
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit.load(Ordering::Relaxed) as usize
    }

    /// Changes the ring size; rings longer than it are cut at their next
    /// event. Writer lock held.
    pub(crate) fn set_limit(&self, limit: usize) {
        self.limit.store(limit.max(1) as u64, Ordering::Relaxed);
    }

    /// Forgets every group (`Tracker::clear`). Writer lock held.
    pub(crate) fn clear(&self) {
        for shard in self.groups.iter() {
            shard.store(Arc::new(HashMap::new()));
        }
    }

    /// Keeps a plain `Arc` of the current (empty, after `clear`) map for
    /// process exit, so that memcheck sees it reachable from its start
    /// rather than only through `arc-swap`'s interior pointer ("possibly
    /// lost"). Writer lock held.
    pub(crate) fn anchor_for_exit(&self) {
        let current = self.groups.iter().map(|s| s.load_full()).collect();
        *self.exit_anchor.lock().unwrap_or_else(|p| p.into_inner()) = current;
    }

    /// The log of a group, created if needed. Call under the tracker's
    /// writer lock.
    pub(crate) fn get_or_create(
        &self,
        group: &str,
        runtime: &Arc<crate::runtime::GroupRuntime>,
    ) -> Arc<GroupLog> {
        if let Some(log) = self.get(group) {
            return log;
        }
        let log = Arc::new(GroupLog::new(runtime.clone()));
        let shard = &self.groups[shard_of(group)];
        let mut map = HashMap::clone(&shard.load());
        map.insert(Name::new(group), log.clone());
        shard.store(Arc::new(map));
        log
    }

    /// Whether the group's log (if any) holds this runtime state.
    pub(crate) fn holds(&self, group: &str, runtime: &Arc<crate::runtime::GroupRuntime>) -> bool {
        self.get(group)
            .is_some_and(|log| Arc::ptr_eq(&log.runtime, runtime))
    }

    /// Forgets these groups' logs (the group bound: see the README,
    /// "Bounded memory"). Writer lock held.
    pub(crate) fn forget(&self, groups: &[Name]) {
        let mut by_shard: Vec<Vec<&Name>> = vec![Vec::new(); REGISTRY_SHARDS];
        for g in groups {
            by_shard[shard_of(g.as_str())].push(g);
        }
        for (shard, names) in self.groups.iter().zip(by_shard) {
            let cur = shard.load();
            if !names.iter().any(|n| cur.contains_key(n.as_str())) {
                continue;
            }
            let mut map = HashMap::clone(&cur);
            for n in names {
                map.remove(n.as_str());
            }
            shard.store(Arc::new(map));
        }
    }

    /// Number of groups with a log.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.groups.iter().map(|s| s.load().len()).sum()
    }

    /// Records one event of `group`: `before` and `after` are the snapshots
    /// around it (the same one when it changed nothing). Called by the
    /// tracker's writer, under its lock.
    pub(crate) fn record(
        &self,
        group: &Name,
        runtime: &Arc<crate::runtime::GroupRuntime>,
        ev: &Observed<'_>,
        before: &Snapshot,
        after: &Snapshot,
    ) {
        let log = self.get_or_create(group.as_str(), runtime);
        let old = before.group(group.as_str());
        let new = after.group(group.as_str());
        // Costs stay in proportion to the event: whole-group counts only for
        // the events that replace or drop the whole assignment.
        let owned_before = || old.map_or(0, |g| g.partition_count());
        let owns_after = new.is_some_and(|g| !g.topics().is_empty());
        // How many of a topic's listed partitions the group owned before.
        let owned_of = |t: &str, ps: &[i32]| -> Vec<i32> {
            match old.and_then(|g| g.topic(t)) {
                Some(v) => ps
                    .iter()
                    .copied()
                    .filter(|p| {
                        v.record(*p)
                            .is_some_and(|r| r.status == crate::Status::Assigned)
                    })
                    .collect(),
                None => Vec::new(),
            }
        };

        let mut partitions: Vec<HistoryPartition> = Vec::new();
        let mut truncated = false;
        // The topic's name shared with the snapshots (one reference count,
        // not a copy of the name per listed partition).
        let shared = |t: &str| -> Name {
            after
                .topic(group.as_str(), t)
                .or_else(|| before.topic(group.as_str(), t))
                .map_or_else(|| Name::new(t), |v| v.topic_name().clone())
        };
        let mut push = |t: &str, p: i32| {
            if partitions.len() < HISTORY_PARTITIONS_LIMIT {
                let topic = match partitions.last() {
                    Some(last) if last.topic.as_str() == t => last.topic.clone(),
                    _ => shared(t),
                };
                partitions.push(HistoryPartition {
                    topic,
                    partition: p,
                });
            } else {
                truncated = true;
            }
        };
        let listed_count: usize = ev.listed.iter().map(|(_, p)| p.len()).sum();
        let (mut assigned, mut revoked, mut lost) = (0, 0, 0);
        match ev.kind {
            HistoryKind::Assign => {
                assigned = listed_count;
                for (t, ps) in ev.listed {
                    ps.iter().for_each(|p| push(t, *p));
                }
            }
            HistoryKind::Replace => {
                assigned = listed_count;
                let kept = ev
                    .listed
                    .iter()
                    .map(|(t, ps)| owned_of(t, ps).len())
                    .sum::<usize>();
                revoked = owned_before() - kept;
                for (t, ps) in ev.listed {
                    ps.iter().for_each(|p| push(t, *p));
                }
            }
            HistoryKind::Revoke => {
                for (t, ps) in ev.listed {
                    for p in owned_of(t, ps) {
                        revoked += 1;
                        push(t, p);
                    }
                }
            }
            HistoryKind::Error => {}
            HistoryKind::Lost | HistoryKind::Reset | HistoryKind::Expired => {
                lost = owned_before();
                if let Some(g) = old {
                    for t in g.topics() {
                        t.partitions()
                            .iter()
                            .for_each(|p| push(t.name(), p.partition));
                    }
                }
            }
        }

        // Health, and the rebalance a revoke opens and an assign closes.
        let started = log.rebalance_started_ms.load(Ordering::Relaxed);
        let mut rebalance_ms = None;
        let health = match ev.kind {
            HistoryKind::Assign | HistoryKind::Replace => {
                if started != 0 {
                    let ms = ev.unix_ms.saturating_sub(started);
                    rebalance_ms = Some(ms);
                    log.rebalance_started_ms.store(0, Ordering::Relaxed);
                    log.timed.fetch_add(1, Ordering::Relaxed);
                    log.timed_ms.fetch_add(ms, Ordering::Relaxed);
                }
                if owns_after {
                    Health::Assigned
                } else {
                    Health::Standby
                }
            }
            HistoryKind::Revoke => {
                if started == 0 {
                    log.rebalance_started_ms
                        .store(ev.unix_ms.max(1), Ordering::Relaxed);
                }
                Health::Rebalancing
            }
            HistoryKind::Lost | HistoryKind::Reset | HistoryKind::Expired => {
                if started == 0 {
                    log.rebalance_started_ms
                        .store(ev.unix_ms.max(1), Ordering::Relaxed);
                }
                Health::Lost
            }
            HistoryKind::Error => log.health().health,
        };
        let prev = log.health();
        if prev.health != health {
            log.health
                .store(pack_health(health, ev.unix_ms), Ordering::Release);
        }

        let changed = before.epoch() != after.epoch();
        // An event that changed nothing is history only when it ends a
        // rebalance (the empty assign that closes a cooperative round).
        if !changed && rebalance_ms.is_none() {
            return;
        }
        let entry = HistoryEntry {
            unix_ms: ev.unix_ms,
            epoch: after.epoch(),
            kind: ev.kind,
            assigned,
            revoked,
            lost,
            rebalance_ms,
            partitions,
            partitions_truncated: truncated,
            protocol: log.protocol(),
            error: None,
            broker_generation: runtime.broker_generation.load(Ordering::Acquire) as i32,
        };
        log.push(entry, self.limit());
    }

    /// Sets the protocol later entries of `group` carry (writer lock held).
    pub(crate) fn note_protocol(&self, group: &crate::Group, cooperative: bool) {
        let log = self.get_or_create(group.name(), group.runtime());
        log.protocol
            .store(if cooperative { 2 } else { 1 }, Ordering::Relaxed);
    }

    /// Records a rebalance the glue could not apply (writer lock held).
    pub(crate) fn note_error(&self, group: &crate::Group, epoch: u64, unix_ms: u64, error: &str) {
        let log = self.get_or_create(group.name(), group.runtime());
        let entry = HistoryEntry {
            unix_ms,
            epoch,
            kind: HistoryKind::Error,
            assigned: 0,
            revoked: 0,
            lost: 0,
            rebalance_ms: None,
            partitions: Vec::new(),
            partitions_truncated: false,
            protocol: log.protocol(),
            error: Some(error.to_owned()),
            broker_generation: group.runtime().broker_generation.load(Ordering::Acquire) as i32,
        };
        log.push(entry, self.limit());
    }
}

impl crate::Group {
    /// The group's health: never joined, standby, assigned, rebalancing,
    /// lost or stalled, and since when. Wait-free: one lookup in a published
    /// map, one atomic load, and (with a stall threshold set) one more load
    /// and a clock read; never allocates.
    pub fn health(&self) -> HealthState {
        self.observed()
            .get(self.name())
            .map_or(unpack_health(0), |log| log.health())
    }

    /// The group's rebalance history, oldest first (at most
    /// [`history_limit`](crate::Tracker::history_limit) entries). Wait-free
    /// to take (a published list of shared entries); copies the pointers.
    pub fn history(&self) -> History {
        self.observed()
            .get(self.name())
            .map_or_else(History::default, |log| log.history())
    }
}

impl crate::Group {
    /// Makes [`health`](Self::health) report [`Health::Stalled`] once the
    /// consumer's last poll mark ([`mark_poll`](Self::mark_poll), which the
    /// glue calls) is older than `after` — a fraction of the consumer's
    /// `max.poll.interval.ms` (half of it warns well before librdkafka gives
    /// the partitions away). `None` turns it off (the default). Groups whose
    /// polls are never marked are never stalled. One atomic store; any
    /// thread; kept across `Tracker::clear` (it describes the consumer).
    pub fn set_stall_after(&self, after: Option<std::time::Duration>) {
        let ns = after.map_or(0, |d| {
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
        });
        self.runtime().stall_after_ns.store(ns, Ordering::Relaxed);
    }

    /// The stall threshold set by [`set_stall_after`](Self::set_stall_after).
    pub fn stall_after(&self) -> Option<std::time::Duration> {
        match self.runtime().stall_after_ns.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(std::time::Duration::from_nanos(ns)),
        }
    }

    /// When a poll deadline is armed ([`set_poll_deadline`](Self::set_poll_deadline))
    /// and no explicit threshold is set ([`set_stall_after`](Self::set_stall_after)
    /// wins), [`health`](Self::health) reports [`Health::Stalled`] once the
    /// last poll mark is older than `fraction` of the deadline (default
    /// [`DEFAULT_STALL_FRACTION`], half of it: a warning well before the
    /// expiry). `None` turns the derived threshold off; values are clamped to
    /// `[0.000001, 1]` (NaN is rejected as `None`). One atomic store; any
    /// thread; kept across `Tracker::clear`.
    pub fn set_stall_fraction(&self, fraction: Option<f64>) {
        let ppm = match fraction {
            Some(f) if !f.is_nan() => (f.clamp(1e-6, 1.0) * 1e6).round() as u64,
            _ => STALL_FRACTION_OFF,
        };
        self.runtime()
            .stall_fraction_ppm
            .store(ppm.max(1), Ordering::Relaxed);
    }

    /// The fraction of the poll deadline after which the group is stalled
    /// when no explicit threshold is set (`None`: derived threshold off).
    pub fn stall_fraction(&self) -> Option<f64> {
        match self.runtime().stall_fraction_ppm.load(Ordering::Relaxed) {
            0 => Some(DEFAULT_STALL_FRACTION),
            STALL_FRACTION_OFF => None,
            ppm => Some(ppm as f64 / 1e6),
        }
    }

    /// The threshold [`health`](Self::health) uses now: the explicit one,
    /// else the stall fraction of the armed poll deadline; `None`: the group
    /// is never reported stalled.
    pub fn effective_stall_after(&self) -> Option<std::time::Duration> {
        match stall_threshold_ns(self.runtime()) {
            0 => None,
            ns => Some(std::time::Duration::from_nanos(ns)),
        }
    }

    /// Tells the history which rebalance protocol the group's consumer
    /// follows (`cooperative`: incremental, as cooperative-sticky and KIP-848;
    /// otherwise eager); later entries carry it. The librdkafka glue calls it
    /// on every rebalance. Takes the writers' lock.
    pub fn note_rebalance_protocol(&self, cooperative: bool) {
        let tracker = self.tracker();
        // Not recorded in a process forked with the lock held (src/fork.rs).
        let _ = tracker.with_writer_lock(|| self.observed().note_protocol(self, cooperative));
    }

    /// Records in the history a rebalance that could not be applied (the
    /// glue's error, e.g. librdkafka refusing the assign call): an entry of
    /// kind `error` with `detail`; the tracker itself does not change. The
    /// librdkafka glue calls it. Takes the writers' lock.
    pub fn note_rebalance_error(&self, detail: &str) {
        let tracker = self.tracker();
        let epoch = tracker.epoch();
        // Not recorded in a process forked with the lock held (src/fork.rs).
        let _ = tracker.with_writer_lock(|| {
            self.observed()
                .note_error(self, epoch, crate::metrics::now_unix_ms(), detail)
        });
    }
}

impl crate::Tracker {
    /// Entries kept in each group's rebalance history (default
    /// [`DEFAULT_HISTORY_LIMIT`]).
    pub fn history_limit(&self) -> usize {
        self.observed().limit()
    }

    /// Changes the number of entries kept per group (values below 1 are
    /// raised to 1); longer histories are cut at their group's next event.
    /// Takes the writers' lock (ignored where [`writable`](Self::writable)
    /// is an error).
    pub fn set_history_limit(&self, limit: usize) {
        let _ = self.with_writer_lock(|| self.observed().set_limit(limit));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_word_packs_state_and_time() {
        for h in Health::ALL {
            let s = unpack_health(pack_health(h, 1_700_000_000_123));
            assert_eq!(s.health, h);
            assert_eq!(s.since_unix_ms, 1_700_000_000_123);
        }
        assert_eq!(unpack_health(0).health, Health::NeverJoined);
    }
}
