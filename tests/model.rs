//! Differential test of the tracker against a reference model.
//!
//! The model below is written from SPEC §3–5 alone: plain ordered maps, no
//! concurrency, no code shared with the crate. Random sequences of events
//! (valid and invalid elements mixed, eager `replace` and cooperative
//! `assigned`/`revoked`, `lost`, `reset`, `clear`), partition handles being
//! created, cloned and dropped, and changes of a small generations limit are
//! applied to both; after every step every read of the tracker is compared
//! with the model: the snapshot (groups, topics, partitions, records,
//! counters, JSON), point lookups, `generations()`, every live handle, the
//! epoch and the limit. Snapshots taken along the way are re-checked at the
//! end of each case (a held snapshot never changes).
//!
//! `cargo test --test model` runs 256 cases of up to 40 steps; `KAT_DEEP=1`
//! runs 20 000 cases of up to 120 steps. `KAT_MODEL_CASES=n` overrides the
//! number of cases.
//!
//! Decisions the SPEC leaves open, modelled as the implementation documents
//! them:
//! - a snapshot lists every group that holds at least one (group, topic)
//!   entry, including groups that own nothing now (`Snapshot::groups`); a
//!   group whose entries were all evicted leaves it, with its counters;
//! - topics that became legal-looking but are reserved by Kafka (`.` and `..`)
//!   are rejected, as Kafka does;
//! - entries assigned in the same event are ordered by topic name for
//!   least-recently-assigned eviction;
//! - lowering the limit evicts at once and, if it evicted anything, counts as
//!   one change (one epoch); an entry whose last handle was dropped becomes
//!   evictable at the next change.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use kat::{ErrorKind, Group, PartitionHandle, PartitionState, Snapshot, Status, Tracker};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestError, TestRunner};

const GROUPS: [&str; 3] = ["billing", "audit-eu", "Zeta.g"];

fn legal_topics() -> Vec<String> {
    vec![
        "orders".to_owned(),
        "Orders.v2".to_owned(),
        "a".to_owned(),
        "..a".to_owned(),
        "pay_ments-1".to_owned(),
        "x".repeat(249),
    ]
}

fn illegal_topics() -> Vec<String> {
    vec![
        String::new(),
        ".".to_owned(),
        "..".to_owned(),
        "a b".to_owned(),
        "x/y".to_owned(),
        "naïve".to_owned(),
        "tab\t".to_owned(),
        "y".repeat(250),
    ]
}

/// Partitions checked by point lookups: the ones the ops use plus one never used.
const PROBE_PARTITIONS: [i32; 9] = [0, 1, 2, 3, 4, 5, 6, 7, 1000];
/// A legal topic no op ever uses.
const NEVER_TOPIC: &str = "never-assigned";

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

/// Kafka's topic rule as the SPEC states it (`[A-Za-z0-9._-]{1,249}`), plus
/// Kafka's own refusal of `.` and `..`.
fn model_topic_ok(t: &str) -> bool {
    (1..=249).contains(&t.len())
        && t != "."
        && t != ".."
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Rec {
    generation: u64,
    status: Status,
}

#[derive(Debug, Clone, Default)]
struct Entry {
    parts: BTreeMap<i32, Rec>,
    /// When a partition of this entry was last assigned (model clock).
    last_assigned: u64,
}

impl Entry {
    fn has_assigned(&self) -> bool {
        self.parts.values().any(|r| r.status == Status::Assigned)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct GroupModel {
    assigned_events: u64,
    revoked_events: u64,
    lost_events: u64,
    reset_events: u64,
    /// Wall-clock bounds (ms) around the group's last change.
    last_change: (u64, u64),
}

#[derive(Debug, Clone)]
struct Model {
    epoch: u64,
    limit: usize,
    clock: u64,
    /// (group, topic) → entry: every entry that holds generations.
    entries: BTreeMap<(String, String), Entry>,
    /// Groups that changed since the last clear.
    groups: BTreeMap<String, GroupModel>,
}

type Validated = BTreeMap<String, BTreeSet<i32>>;

enum Kind {
    Assigned,
    Revoked,
    Replace,
    Lost,
    Reset,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Model {
    fn new(limit: usize) -> Model {
        Model {
            epoch: 0,
            limit,
            clock: 0,
            entries: BTreeMap::new(),
            groups: BTreeMap::new(),
        }
    }

    /// The first invalid element and why, or the list grouped by topic.
    fn validate(list: &[(String, i32)]) -> Result<Validated, (usize, ErrorKind)> {
        let mut out = Validated::new();
        for (i, (t, p)) in list.iter().enumerate() {
            if !model_topic_ok(t) {
                return Err((i, ErrorKind::InvalidTopic));
            }
            if *p < 0 {
                return Err((i, ErrorKind::InvalidPartition));
            }
            out.entry(t.clone()).or_default().insert(*p);
        }
        Ok(out)
    }

    fn assigned_keys(&self, g: &str) -> Vec<(String, i32)> {
        self.entries
            .iter()
            .filter(|((eg, _), _)| eg == g)
            .flat_map(|((_, t), e)| {
                e.parts
                    .iter()
                    .filter(|(_, r)| r.status == Status::Assigned)
                    .map(move |(p, _)| (t.clone(), *p))
            })
            .collect()
    }

    fn set_status(&mut self, g: &str, keys: &[(String, i32)], status: Status) {
        for (t, p) in keys {
            let e = self.entries.get_mut(&(g.to_owned(), t.clone())).unwrap();
            e.parts.get_mut(p).unwrap().status = status;
        }
    }

    fn assign(&mut self, g: &str, list: &Validated) {
        // Topics in name order: entries assigned by one event are ordered by
        // name for eviction.
        for (t, parts) in list {
            self.clock += 1;
            let e = self.entries.entry((g.to_owned(), t.clone())).or_default();
            e.last_assigned = self.clock;
            for p in parts {
                let r = e.parts.entry(*p).or_insert(Rec {
                    generation: 0,
                    status: Status::Assigned,
                });
                r.generation += 1;
                r.status = Status::Assigned;
            }
        }
    }

    /// Applies a group event; returns whether something changed.
    fn event(
        &mut self,
        kind: Kind,
        g: &str,
        list: &Validated,
        pinned: &BTreeSet<(String, String)>,
        before_ms: u64,
        after_ms: u64,
    ) -> bool {
        let owned = self.assigned_keys(g);
        let (assigned, removed) = match kind {
            Kind::Assigned => {
                self.assign(g, list);
                (!list.is_empty(), false)
            }
            Kind::Revoked => {
                let gone: Vec<_> = owned
                    .into_iter()
                    .filter(|(t, p)| list.get(t).is_some_and(|ps| ps.contains(p)))
                    .collect();
                self.set_status(g, &gone, Status::Revoked);
                (false, !gone.is_empty())
            }
            Kind::Replace => {
                let gone: Vec<_> = owned
                    .into_iter()
                    .filter(|(t, p)| !list.get(t).is_some_and(|ps| ps.contains(p)))
                    .collect();
                self.set_status(g, &gone, Status::Revoked);
                self.assign(g, list);
                (!list.is_empty(), !gone.is_empty())
            }
            Kind::Lost | Kind::Reset => {
                self.set_status(g, &owned, Status::Lost);
                (false, !owned.is_empty())
            }
        };
        if !assigned && !removed {
            return false;
        }
        let gm = self.groups.entry(g.to_owned()).or_default();
        match kind {
            Kind::Assigned => gm.assigned_events += 1,
            Kind::Revoked => gm.revoked_events += 1,
            Kind::Replace => {
                gm.assigned_events += u64::from(assigned);
                gm.revoked_events += u64::from(removed);
            }
            Kind::Lost => gm.lost_events += 1,
            Kind::Reset => gm.reset_events += 1,
        }
        gm.last_change = (before_ms, after_ms);
        self.epoch += 1;
        self.evict(pinned);
        true
    }

    /// SPEC §5: past the limit, evict least-recently-assigned entries that
    /// have no assigned partition and no live handle. Returns whether any was.
    fn evict(&mut self, pinned: &BTreeSet<(String, String)>) -> bool {
        let mut any = false;
        while self.entries.len() > self.limit {
            let victim = self
                .entries
                .iter()
                .filter(|(k, e)| !e.has_assigned() && !pinned.contains(*k))
                .min_by_key(|(_, e)| e.last_assigned)
                .map(|(k, _)| k.clone());
            match victim {
                Some(k) => {
                    self.entries.remove(&k);
                    any = true;
                }
                None => break,
            }
        }
        // A group with no entry left leaves the snapshot, counters and all.
        let entries = &self.entries;
        self.groups
            .retain(|g, _| entries.keys().any(|(eg, _)| eg == g));
        any
    }

    fn set_limit(&mut self, limit: usize, pinned: &BTreeSet<(String, String)>) {
        self.limit = limit;
        if self.evict(pinned) {
            self.epoch += 1;
        }
    }

    fn clear(&mut self) -> bool {
        if self.groups.is_empty() && self.entries.is_empty() {
            return false;
        }
        self.groups.clear();
        self.entries.clear();
        self.epoch += 1;
        true
    }

    fn record(&self, g: &str, t: &str, p: i32) -> Option<Rec> {
        self.entries
            .get(&(g.to_owned(), t.to_owned()))
            .and_then(|e| e.parts.get(&p).copied())
    }

    fn state(&self, g: &str, t: &str, p: i32) -> PartitionState {
        let r = self.record(g, t, p);
        PartitionState {
            generation: r.map_or(0, |r| r.generation),
            status: r.map(|r| r.status),
        }
    }

    fn view(&self) -> View {
        let groups = self
            .groups
            .iter()
            .map(|(g, gm)| {
                let known: Vec<_> = self
                    .entries
                    .iter()
                    .filter(|((eg, _), _)| eg == g)
                    .map(|((_, t), e)| {
                        let recs = e
                            .parts
                            .iter()
                            .map(|(p, r)| (*p, r.generation, r.status))
                            .collect();
                        (t.clone(), recs)
                    })
                    .collect();
                let topics = known
                    .iter()
                    .map(|(t, recs): &(String, Vec<(i32, u64, Status)>)| {
                        let ps: Vec<_> = recs
                            .iter()
                            .filter(|r| r.2 == Status::Assigned)
                            .map(|r| (r.0, r.1))
                            .collect();
                        (t.clone(), ps)
                    })
                    .filter(|(_, ps)| !ps.is_empty())
                    .collect();
                GroupV {
                    name: g.clone(),
                    counters: [
                        gm.assigned_events,
                        gm.revoked_events,
                        gm.lost_events,
                        gm.reset_events,
                    ],
                    topics,
                    known,
                }
            })
            .collect();
        View {
            epoch: self.epoch,
            entries: self.entries.len(),
            groups,
        }
    }
}

// ---------------------------------------------------------------------------
// Normalised views, built from the model and from the tracker
// ---------------------------------------------------------------------------

type Records = Vec<(i32, u64, Status)>;

#[derive(Debug, Clone, PartialEq, Eq)]
struct GroupV {
    name: String,
    counters: [u64; 4],
    /// Topics with assigned partitions: (topic, [(partition, generation)]).
    topics: Vec<(String, Vec<(i32, u64)>)>,
    /// Every topic with generations.
    known: Vec<(String, Records)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct View {
    epoch: u64,
    entries: usize,
    groups: Vec<GroupV>,
}

impl View {
    fn of(s: &Snapshot) -> View {
        let groups = s
            .groups()
            .iter()
            .map(|g| {
                let st = g.stats();
                GroupV {
                    name: g.name().to_owned(),
                    counters: [
                        st.assigned_events,
                        st.revoked_events,
                        st.lost_events,
                        st.reset_events,
                    ],
                    topics: g
                        .topics()
                        .iter()
                        .map(|t| {
                            let ps: Vec<(i32, u64)> = t
                                .partitions()
                                .iter()
                                .map(|p| (p.partition, p.generation))
                                .collect();
                            // The parallel arrays hold the same entries.
                            assert_eq!(t.assigned().collect::<Vec<_>>(), ps);
                            assert_eq!(t.partition_numbers().len(), ps.len());
                            assert_eq!(t.partition_generations().len(), ps.len());
                            (t.name().to_owned(), ps)
                        })
                        .collect(),
                    known: g
                        .known_topics()
                        .iter()
                        .map(|t| {
                            let rs = t
                                .records()
                                .iter()
                                .map(|r| (r.partition, r.generation, r.status))
                                .collect();
                            (t.name().to_owned(), rs)
                        })
                        .collect(),
                }
            })
            .collect();
        View {
            epoch: s.epoch(),
            entries: s.generations_topics(),
            groups,
        }
    }

    /// The JSON `Snapshot::to_json` documents, built independently.
    fn assignments_json(&self) -> String {
        let groups: Vec<String> = self
            .groups
            .iter()
            .map(|g| {
                let topics: Vec<String> = g
                    .topics
                    .iter()
                    .map(|(t, ps)| {
                        let ps: Vec<String> =
                            ps.iter().map(|(p, gen)| format!("\"{p}\":{gen}")).collect();
                        format!("\"{t}\":{{{}}}", ps.join(","))
                    })
                    .collect();
                format!("\"{}\":{{{}}}", g.name, topics.join(","))
            })
            .collect();
        format!(
            "{{\"epoch\":{},\"groups\":{{{}}}}}",
            self.epoch,
            groups.join(",")
        )
    }

    /// The JSON `Generations::to_json` documents, built independently (groups
    /// without generations do not appear).
    fn generations_json(&self) -> String {
        let groups: Vec<String> = self
            .groups
            .iter()
            .filter(|g| !g.known.is_empty())
            .map(|g| {
                let topics: Vec<String> = g
                    .known
                    .iter()
                    .map(|(t, rs)| {
                        let rs: Vec<String> = rs
                            .iter()
                            .map(|(p, gen, st)| {
                                format!(
                                    "\"{p}\":{{\"generation\":{gen},\"status\":\"{}\"}}",
                                    st.as_str()
                                )
                            })
                            .collect();
                        format!("\"{t}\":{{{}}}", rs.join(","))
                    })
                    .collect();
                format!("\"{}\":{{{}}}", g.name, topics.join(","))
            })
            .collect();
        format!(
            "{{\"epoch\":{},\"groups\":{{{}}}}}",
            self.epoch,
            groups.join(",")
        )
    }

    fn flat_generations(&self) -> Vec<(String, String, i32, u64, Status)> {
        let mut out = Vec::new();
        for g in &self.groups {
            for (t, rs) in &g.known {
                for (p, gen, st) in rs {
                    out.push((g.name.clone(), t.clone(), *p, *gen, *st));
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Op {
    Assigned(usize, Vec<(String, i32)>),
    Revoked(usize, Vec<(String, i32)>),
    Replace(usize, Vec<(String, i32)>),
    Lost(usize),
    Reset(usize),
    Clear,
    /// Takes a handle (the topic or partition may be invalid).
    Handle(usize, String, i32),
    /// Clones the live handle at this index (modulo the count).
    CloneHandle(usize),
    /// Drops the live handle at this index (modulo the count).
    DropHandle(usize),
    SetLimit(usize),
}

fn topic_strategy() -> impl Strategy<Value = String> {
    let legal = legal_topics();
    let illegal = illegal_topics();
    prop_oneof![
        20 => (0..legal.len()).prop_map(move |i| legal[i].clone()),
        1 => (0..illegal.len()).prop_map(move |i| illegal[i].clone()),
    ]
}

fn partition_strategy() -> impl Strategy<Value = i32> {
    prop_oneof![
        30 => 0..8i32,
        1 => prop_oneof![Just(-1), Just(i32::MIN), -50..0i32],
    ]
}

fn list_strategy() -> impl Strategy<Value = Vec<(String, i32)>> {
    prop::collection::vec((topic_strategy(), partition_strategy()), 0..7)
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let g = 0..GROUPS.len();
    prop_oneof![
        8 => (g.clone(), list_strategy()).prop_map(|(g, l)| Op::Assigned(g, l)),
        6 => (g.clone(), list_strategy()).prop_map(|(g, l)| Op::Revoked(g, l)),
        4 => (g.clone(), list_strategy()).prop_map(|(g, l)| Op::Replace(g, l)),
        1 => g.clone().prop_map(Op::Lost),
        1 => g.clone().prop_map(Op::Reset),
        1 => Just(Op::Clear),
        3 => (g, topic_strategy(), partition_strategy()).prop_map(|(g, t, p)| Op::Handle(g, t, p)),
        1 => any::<usize>().prop_map(Op::CloneHandle),
        2 => any::<usize>().prop_map(Op::DropHandle),
        1 => (0..6usize).prop_map(Op::SetLimit),
    ]
}

// ---------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------

struct Live {
    group: usize,
    topic: String,
    partition: i32,
    handle: PartitionHandle,
}

fn pinned(handles: &[Live]) -> BTreeSet<(String, String)> {
    handles
        .iter()
        .map(|h| (GROUPS[h.group].to_owned(), h.topic.clone()))
        .collect()
}

fn fail(msg: String) -> TestCaseError {
    TestCaseError::fail(msg)
}

fn check_error(
    got: Result<bool, kat::Error>,
    expected: Result<Validated, (usize, ErrorKind)>,
    op: &Op,
) -> Result<Option<(Validated, bool)>, TestCaseError> {
    match (got, expected) {
        (Ok(changed), Ok(list)) => Ok(Some((list, changed))),
        (Err(e), Err((i, kind))) => {
            prop_assert_eq!(e.element(), Some(i), "element of {} in {:?}", e, op);
            prop_assert_eq!(e.kind(), kind, "kind of {} in {:?}", e, op);
            prop_assert!(
                e.to_string().starts_with(&format!("element {i}: ")),
                "message {:?} should name element {}",
                e.to_string(),
                i
            );
            Ok(None)
        }
        (got, expected) => Err(fail(format!(
            "{op:?}: tracker returned {got:?}, model expected {expected:?}"
        ))),
    }
}

fn apply(
    op: &Op,
    t: &Tracker,
    groups: &[Group],
    m: &mut Model,
    handles: &mut Vec<Live>,
) -> Result<(), TestCaseError> {
    let pins = pinned(handles);
    match op {
        Op::Assigned(g, list) | Op::Revoked(g, list) | Op::Replace(g, list) => {
            let (kind, before) = (
                match op {
                    Op::Assigned(..) => Kind::Assigned,
                    Op::Revoked(..) => Kind::Revoked,
                    _ => Kind::Replace,
                },
                now_ms(),
            );
            let items = list.iter().map(|(t, p)| (t.as_str(), *p));
            let got = match kind {
                Kind::Assigned => groups[*g].assigned(items),
                Kind::Revoked => groups[*g].revoked(items),
                _ => groups[*g].replace(items),
            };
            let after = now_ms();
            if let Some((list, changed)) = check_error(got, Model::validate(list), op)? {
                let expected = m.event(kind, GROUPS[*g], &list, &pins, before, after);
                prop_assert_eq!(changed, expected, "changed flag of {:?}", op);
            }
        }
        Op::Lost(g) | Op::Reset(g) => {
            let before = now_ms();
            let (changed, kind) = match op {
                Op::Lost(_) => (groups[*g].lost(), Kind::Lost),
                _ => (groups[*g].reset(), Kind::Reset),
            };
            let after = now_ms();
            let expected = m.event(kind, GROUPS[*g], &Validated::new(), &pins, before, after);
            prop_assert_eq!(changed, expected, "changed flag of {:?}", op);
        }
        Op::Clear => {
            let changed = t.clear();
            prop_assert_eq!(changed, m.clear(), "changed flag of clear");
        }
        Op::Handle(g, topic, p) => match groups[*g].partition(topic, *p) {
            Ok(handle) => {
                prop_assert!(
                    model_topic_ok(topic) && *p >= 0,
                    "handle accepted for {:?}",
                    op
                );
                prop_assert_eq!(handle.group(), GROUPS[*g]);
                prop_assert_eq!(handle.topic(), topic.as_str());
                prop_assert_eq!(handle.partition(), *p);
                handles.push(Live {
                    group: *g,
                    topic: topic.clone(),
                    partition: *p,
                    handle,
                });
            }
            Err(e) => {
                let kind = if !model_topic_ok(topic) {
                    ErrorKind::InvalidTopic
                } else if *p < 0 {
                    ErrorKind::InvalidPartition
                } else {
                    return Err(fail(format!("{op:?} refused: {e}")));
                };
                prop_assert_eq!(e.kind(), kind, "{:?}", op);
            }
        },
        Op::CloneHandle(i) => {
            if !handles.is_empty() {
                let h = &handles[i % handles.len()];
                let copy = Live {
                    group: h.group,
                    topic: h.topic.clone(),
                    partition: h.partition,
                    handle: h.handle.clone(),
                };
                handles.push(copy);
            }
        }
        Op::DropHandle(i) => {
            if !handles.is_empty() {
                let n = handles.len();
                drop(handles.swap_remove(i % n));
            }
        }
        Op::SetLimit(limit) => match t.set_generations_topics_limit(*limit) {
            Ok(()) => {
                prop_assert!(*limit >= 1, "limit {} accepted", limit);
                m.set_limit(*limit, &pins);
            }
            Err(e) => {
                prop_assert_eq!(*limit, 0);
                prop_assert_eq!(e.kind(), ErrorKind::InvalidArgument);
            }
        },
    }
    Ok(())
}

/// Compares every read of the tracker with the model.
fn check(
    t: &Tracker,
    groups: &[Group],
    m: &Model,
    handles: &[Live],
    topics: &[String],
) -> Result<Arc<Snapshot>, TestCaseError> {
    let snap = t.snapshot();
    let expected = m.view();
    prop_assert_eq!(t.epoch(), m.epoch, "epoch");
    prop_assert_eq!(&View::of(&snap), &expected, "snapshot");
    prop_assert_eq!(t.generations_topics_limit(), m.limit, "limit");
    let assigned: usize = expected
        .groups
        .iter()
        .flat_map(|g| g.topics.iter().map(|(_, ps)| ps.len()))
        .sum();
    prop_assert_eq!(snap.partition_count(), assigned, "partition_count");
    prop_assert_eq!(snap.to_json(), expected.assignments_json(), "snapshot JSON");

    // Point lookups, on every key the ops can touch and a few they never do.
    for (gi, g) in GROUPS.iter().enumerate() {
        let gv = snap.group(g);
        prop_assert_eq!(
            gv.is_some(),
            m.groups.contains_key(*g),
            "group {} listed",
            g
        );
        for topic in topics.iter().map(String::as_str).chain([NEVER_TOPIC]) {
            let assigned_topic = expected
                .groups
                .iter()
                .find(|v| v.name == *g)
                .is_some_and(|v| v.topics.iter().any(|(n, _)| n == topic));
            prop_assert_eq!(
                gv.and_then(|v| v.topic(topic)).is_some(),
                assigned_topic,
                "GroupView::topic({}, {})",
                g,
                topic
            );
            prop_assert_eq!(
                snap.topic(g, topic).is_some(),
                m.entries.contains_key(&(g.to_string(), topic.to_owned())),
                "Snapshot::topic({}, {})",
                g,
                topic
            );
            for p in PROBE_PARTITIONS {
                let want = m.record(g, topic, p);
                let gen = want.map_or(0, |r| r.generation);
                let owned = want.is_some_and(|r| r.status == Status::Assigned);
                let rec = snap.record(g, topic, p).map(|r| Rec {
                    generation: r.generation,
                    status: r.status,
                });
                prop_assert_eq!(rec, want, "record {}/{}/{}", g, topic, p);
                prop_assert_eq!(snap.generation(g, topic, p), gen);
                prop_assert_eq!(snap.is_assigned(g, topic, p), owned);
                // The tracker and group lookups are the same probe on the
                // current snapshot: a few partitions per topic suffice.
                if p % 3 == 0 {
                    prop_assert_eq!(t.generation(g, topic, p), gen);
                    prop_assert_eq!(t.is_assigned(g, topic, p), owned);
                    prop_assert_eq!(groups[gi].generation(topic, p), gen);
                    prop_assert_eq!(groups[gi].is_assigned(topic, p), owned);
                }
            }
        }
        let st = groups[gi].stats();
        match m.groups.get(*g) {
            Some(gm) => {
                prop_assert_eq!(
                    [
                        st.assigned_events,
                        st.revoked_events,
                        st.lost_events,
                        st.reset_events
                    ],
                    [
                        gm.assigned_events,
                        gm.revoked_events,
                        gm.lost_events,
                        gm.reset_events
                    ],
                    "stats of {}",
                    g
                );
                let (lo, hi) = gm.last_change;
                prop_assert!(
                    (lo..=hi).contains(&st.last_change_unix_ms),
                    "last change of {} at {} outside [{}, {}]",
                    g,
                    st.last_change_unix_ms,
                    lo,
                    hi
                );
            }
            None => prop_assert_eq!(st, kat::GroupStats::default(), "stats of {}", g),
        }
    }

    // generations(): a frozen copy with statuses.
    let gens = t.generations();
    prop_assert_eq!(gens.epoch(), m.epoch);
    let flat: Vec<_> = gens
        .entries()
        .map(|e| {
            (
                e.group().to_owned(),
                e.topic().to_owned(),
                e.partition,
                e.generation,
                e.status,
            )
        })
        .collect();
    prop_assert_eq!(flat, expected.flat_generations(), "generations()");
    prop_assert_eq!(gens.len(), gens.entries().len());
    prop_assert_eq!(gens.is_empty(), gens.entries().next().is_none());
    // Random access agrees with iteration, and ends at len().
    for (i, e) in gens.entries().enumerate() {
        let got = gens
            .get(i)
            .map(|g| (g.group(), g.topic(), g.partition, g.generation, g.status));
        prop_assert_eq!(
            got,
            Some((e.group(), e.topic(), e.partition, e.generation, e.status))
        );
    }
    prop_assert!(gens.get(gens.len()).is_none());
    prop_assert_eq!(
        gens.to_json(),
        expected.generations_json(),
        "generations JSON"
    );

    // Every live handle reads the live state.
    for h in handles {
        prop_assert_eq!(
            h.handle.state(),
            m.state(GROUPS[h.group], &h.topic, h.partition),
            "handle {}/{}/{}",
            GROUPS[h.group],
            h.topic,
            h.partition
        );
    }
    Ok(snap)
}

fn run_case(limit: usize, ops: &[Op]) -> Result<(), TestCaseError> {
    let topics = legal_topics();
    let t = Tracker::with_generations_topics_limit(limit);
    let groups: Vec<Group> = GROUPS.iter().map(|g| t.group(g).unwrap()).collect();
    let mut m = Model::new(limit);
    let mut handles: Vec<Live> = Vec::new();
    let mut held: Vec<(Arc<Snapshot>, View)> = Vec::new();
    held.push((check(&t, &groups, &m, &handles, &topics)?, m.view()));
    for (step, op) in ops.iter().enumerate() {
        let epoch = m.epoch;
        apply(op, &t, &groups, &mut m, &mut handles)
            .map_err(|e| fail(format!("step {step} {op:?}: {e}")))?;
        prop_assert!(
            m.epoch - epoch <= 1,
            "one step advances the epoch by 0 or 1"
        );
        let snap = check(&t, &groups, &m, &handles, &topics)
            .map_err(|e| fail(format!("after step {step} {op:?}: {e}")))?;
        held.push((snap, m.view()));
    }
    for (snap, view) in &held {
        prop_assert_eq!(&View::of(snap), view, "a held snapshot changed");
        prop_assert_eq!(snap.to_json(), view.assignments_json());
    }
    Ok(())
}

fn cases_and_len() -> (u32, usize) {
    let deep = std::env::var_os("KAT_DEEP").is_some_and(|v| v != "0");
    let cases = std::env::var("KAT_MODEL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if deep { 20_000 } else { 256 });
    (cases, if deep { 120 } else { 40 })
}

#[test]
fn tracker_matches_the_reference_model() {
    let (cases, max_len) = cases_and_len();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = (
        1..=4usize,
        prop::collection::vec(op_strategy(), 1..=max_len),
    );
    let ran = std::sync::atomic::AtomicUsize::new(0);
    let steps = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&strategy, |(limit, ops)| {
        ran.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        steps.fetch_add(ops.len(), std::sync::atomic::Ordering::Relaxed);
        run_case(limit, &ops)
    });
    match result {
        Ok(()) => eprintln!(
            "model: {} cases passed, {} steps, every read compared after every step",
            ran.into_inner(),
            steps.into_inner()
        ),
        Err(TestError::Fail(why, (limit, ops))) => {
            panic!("tracker and model disagree: {why}\nminimal case: limit {limit}, ops:\n{ops:#?}")
        }
        Err(e) => panic!("{e}"),
    }
}

/// The model itself: a fixed sequence with hand-computed results, so a model
/// bug that the tracker happens to share cannot pass unnoticed.
#[test]
fn model_follows_the_spec_on_a_known_sequence() {
    let none = BTreeSet::new();
    let list = |items: &[(&str, i32)]| {
        Model::validate(
            &items
                .iter()
                .map(|(t, p)| (t.to_string(), *p))
                .collect::<Vec<_>>(),
        )
        .unwrap()
    };
    let mut m = Model::new(2);
    assert!(m.event(
        Kind::Assigned,
        "g",
        &list(&[("a", 0), ("a", 0), ("b", 1)]),
        &none,
        1,
        1
    ));
    assert_eq!(m.record("g", "a", 0).unwrap().generation, 1);
    assert!(m.event(Kind::Replace, "g", &list(&[("a", 0)]), &none, 2, 2));
    assert_eq!(m.state("g", "a", 0).generation, 2);
    assert_eq!(m.state("g", "b", 1).status, Some(Status::Revoked));
    assert!(!m.event(Kind::Revoked, "g", &list(&[("b", 1)]), &none, 3, 3));
    assert!(m.event(Kind::Lost, "g", &Validated::new(), &none, 4, 4));
    assert_eq!(m.state("g", "a", 0).status, Some(Status::Lost));
    assert_eq!(m.epoch, 3);
    let gm = m.groups["g"];
    assert_eq!(
        (gm.assigned_events, gm.revoked_events, gm.lost_events),
        (2, 1, 1)
    );
    // A third entry evicts the least recently assigned unassigned one: b
    // (assigned at tick 2) before a (re-assigned at tick 3).
    assert!(m.event(Kind::Assigned, "g", &list(&[("c", 0)]), &none, 5, 5));
    assert_eq!(m.entries.len(), 2);
    assert_eq!(m.state("g", "b", 1).generation, 0);
    assert_eq!(m.state("g", "a", 0).generation, 2);
    // A pinned entry is skipped; the limit is exceeded while nothing is evictable.
    let pins: BTreeSet<_> = [("g".to_owned(), "a".to_owned())].into();
    assert!(m.event(Kind::Assigned, "g", &list(&[("d", 0)]), &pins, 6, 6));
    assert_eq!(m.entries.len(), 3);
    assert_eq!(m.state("g", "a", 0).generation, 2);
    assert!(Model::validate(&[("ok".into(), 1), ("..".into(), 0)]).is_err_and(|e| e.0 == 1));
    assert!(m.clear());
    assert!(!m.clear());
}
