//! The (group, topic) index of a snapshot: what a read by name probes.
//!
//! Immutable once built; [`Index::edited`] gives the next snapshot's index
//! from the current one and an event's changes. Readers only call
//! [`Index::find`] and [`Index::find_record`]; writers only call `edited`.
//!
//! Layout, for few dependent loads on a read: the index holds 256 shard
//! pointers inline (with their lengths); a shard is one flat array of slots
//! with linear probing, each slot holding the key's full 64-bit hash, the
//! topic view, and the view's record array (pointer and length) so a read
//! reaches a partition's record straight from the slot. The chain of a read
//! is: snapshot → slot → record (the name check, off that chain, reads the
//! view's names). Shards are filled to at most half, so with the keyed,
//! per-process random hash (`src/name.rs`) a probe visits about 1.5 slots,
//! and a miss ends at the first empty one.

use std::sync::Arc;

use crate::name::{key_hash, same_bytes, Name};
use crate::snapshot::{PartitionRecord, TopicView};

/// Number of index shards: an event copies the array of shard pointers and
/// only the shards it touches, so many small shards keep an event's cost near
/// what it touches even when a group has thousands of topics.
const SHARDS: usize = 256;

/// One slot of a shard: empty when `view` is `None`.
struct Slot {
    hash: u64,
    /// `view`'s record array, so reads skip a load through the view.
    records: *const PartitionRecord,
    records_len: usize,
    view: Option<Arc<TopicView>>,
}

// SAFETY: `records` points into the boxed record array of `view`, which the
// slot keeps alive and which never changes (views are immutable); `TopicView`
// is `Send + Sync`.
unsafe impl Send for Slot {}
// SAFETY: as above; the slot is never mutated once its shard is shared.
unsafe impl Sync for Slot {}

impl Slot {
    const EMPTY: Slot = Slot {
        hash: 0,
        records: std::ptr::null(),
        records_len: 0,
        view: None,
    };

    fn new(hash: u64, view: Arc<TopicView>) -> Slot {
        Slot {
            hash,
            records: view.records.as_ptr(),
            records_len: view.records.len(),
            view: Some(view),
        }
    }

    fn clone_entry(&self) -> Slot {
        Slot {
            hash: self.hash,
            records: self.records,
            records_len: self.records_len,
            view: self.view.clone(),
        }
    }

    #[inline(always)]
    fn is(&self, group: &Name, topic: &Name) -> bool {
        self.view
            .as_ref()
            .is_some_and(|v| v.topic_name() == topic && v.group_name() == group)
    }
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.view {
            Some(v) => write!(f, "{}/{}", v.group(), v.name()),
            None => f.write_str("-"),
        }
    }
}

/// A power-of-two array of slots, at most half full (at least one empty).
type Shard = Arc<[Slot]>;

/// (group, topic) → topic view, split by hash into copy-on-write shards.
#[derive(Debug, Clone)]
pub(crate) struct Index {
    shards: [Shard; SHARDS],
    /// Number of (group, topic) entries.
    entries: usize,
}

/// The shard of a key hash: middle bits, independent of the low bits a shard
/// uses for the home slot.
#[inline(always)]
fn shard_of(hash: u64) -> usize {
    (hash >> 32) as usize & (SHARDS - 1)
}

/// Slots for `n` entries: a power of two, at least twice `n`.
fn slots_for(n: usize) -> usize {
    (2 * n).next_power_of_two().max(1)
}

/// Puts `slot` in the first empty slot from its home (never a duplicate).
fn insert(table: &mut [Slot], slot: Slot) {
    let mask = table.len() - 1;
    let mut i = slot.hash as usize & mask;
    while table[i].view.is_some() {
        i = (i + 1) & mask;
    }
    table[i] = slot;
}

/// Removes the (group, topic) entry if present, shifting later entries of the
/// probe run back so no search stops early; returns whether it was there.
fn remove(table: &mut [Slot], hash: u64, group: &Name, topic: &Name) -> bool {
    let mask = table.len() - 1;
    let mut i = hash as usize & mask;
    loop {
        let s = &table[i];
        if s.view.is_none() {
            return false;
        }
        if s.hash == hash && s.is(group, topic) {
            break;
        }
        i = (i + 1) & mask;
    }
    table[i] = Slot::EMPTY;
    let mut j = i;
    loop {
        j = (j + 1) & mask;
        if table[j].view.is_none() {
            return true;
        }
        let home = table[j].hash as usize & mask;
        // The entry at j may move to the hole at i unless its home lies in
        // the cyclic range (i, j].
        if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(i) & mask) {
            table[i] = std::mem::replace(&mut table[j], Slot::EMPTY);
            i = j;
        }
    }
}

impl Index {
    /// An index with no entries (one shared one-slot shard).
    pub(crate) fn empty() -> Index {
        let empty: Shard = Arc::from([Slot::EMPTY]);
        Index {
            shards: std::array::from_fn(|_| empty.clone()),
            entries: 0,
        }
    }

    /// Number of (group, topic) entries.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.entries
    }

    /// The slot of (group, topic), `hash` being their
    /// [`key_hash`](crate::name::key_hash). One probe; never allocates.
    #[inline(always)]
    fn slot(&self, hash: u64, group: &str, topic: &str) -> Option<&Slot> {
        let shard = &*self.shards[shard_of(hash)];
        let mask = shard.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            // SAFETY: `i <= mask < shard.len()`.
            let s = unsafe { shard.get_unchecked(i) };
            let v = s.view.as_ref()?;
            if s.hash == hash
                && same_bytes(v.topic_name().as_str().as_bytes(), topic.as_bytes())
                && same_bytes(v.group_name().as_str().as_bytes(), group.as_bytes())
            {
                return Some(s);
            }
            // Ends: every shard has an empty slot.
            i = (i + 1) & mask;
        }
    }

    /// The view of (group, topic), `hash` being their
    /// [`key_hash`](crate::name::key_hash). One probe; never allocates.
    #[inline(always)]
    pub(crate) fn find(&self, hash: u64, group: &str, topic: &str) -> Option<&TopicView> {
        self.slot(hash, group, topic)
            .and_then(|s| s.view.as_deref())
    }

    /// The record of one partition of (group, topic): as
    /// [`TopicView::record`], reached from the index slot directly.
    #[inline(always)]
    pub(crate) fn find_record(
        &self,
        hash: u64,
        group: &str,
        topic: &str,
        partition: i32,
    ) -> Option<&PartitionRecord> {
        let s = self.slot(hash, group, topic)?;
        // SAFETY: `records`/`records_len` describe the record array of the
        // slot's view, alive and unchanged while the slot (so `self`) is.
        let recs = unsafe { std::slice::from_raw_parts(s.records, s.records_len) };
        crate::snapshot::record_in(recs, partition)
    }

    /// This index with `changes` applied: `Some(view)` inserts or replaces
    /// the (group, topic) entry, `None` removes it. Each touched shard is
    /// rebuilt once; untouched ones are shared with `self`.
    pub(crate) fn edited<'a>(
        &self,
        changes: impl IntoIterator<Item = (&'a Name, &'a Name, Option<&'a Arc<TopicView>>)>,
    ) -> Index {
        type Change<'a> = (usize, u64, &'a Name, &'a Name, Option<&'a Arc<TopicView>>);
        let mut changes: Vec<Change<'a>> = changes
            .into_iter()
            .map(|(g, t, new)| {
                let hash = new.map_or_else(|| key_hash(g.as_str(), t.as_str()), |v| v.hash);
                (shard_of(hash), hash, g, t, new)
            })
            .collect();
        // Stable: changes to one key keep their order.
        changes.sort_by_key(|c| c.0);
        let mut next = self.clone();
        for run in changes.chunk_by(|a, b| a.0 == b.0) {
            let old = &self.shards[run[0].0];
            let old_len = old.iter().filter(|s| s.view.is_some()).count();
            let adds = run.iter().filter(|c| c.4.is_some()).count();
            let want = slots_for(old_len + adds);
            let mut table: Vec<Slot> = if want <= old.len() {
                // Room enough: the old table copied slot for slot (every
                // entry keeps its position, so nothing is probed again).
                old.iter().map(Slot::clone_entry).collect()
            } else {
                let mut grown: Vec<Slot> = (0..want).map(|_| Slot::EMPTY).collect();
                for s in old.iter().filter(|s| s.view.is_some()) {
                    insert(&mut grown, s.clone_entry());
                }
                grown
            };
            let mut len = old_len;
            for &(_, hash, g, t, new) in run {
                if remove(&mut table, hash, g, t) {
                    len -= 1;
                }
                if let Some(view) = new {
                    insert(&mut table, Slot::new(hash, view.clone()));
                    len += 1;
                }
            }
            // After many removals, a table sized for what is left.
            if slots_for(len) < table.len() / 2 {
                let mut small: Vec<Slot> = (0..slots_for(len)).map(|_| Slot::EMPTY).collect();
                for s in table.into_iter().filter(|s| s.view.is_some()) {
                    insert(&mut small, s);
                }
                table = small;
            }
            next.entries = next.entries - old_len + len;
            next.shards[run[0].0] = Arc::from(table);
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::Status;
    use std::collections::HashMap;

    fn view(g: &Name, t: &Name, generation: u64) -> Arc<TopicView> {
        let records = vec![PartitionRecord {
            partition: 0,
            generation,
            status: Status::Assigned,
        }];
        Arc::new(TopicView::new(
            g.clone(),
            t.clone(),
            records.into_boxed_slice(),
            0,
        ))
    }

    /// Random inserts, replacements and removals (with backward shifts in
    /// crowded shards) against a plain map, every read checked.
    #[test]
    fn edits_match_a_plain_map() {
        let groups: Vec<Name> = (0..3).map(|i| Name::new(&format!("g{i}"))).collect();
        let topics: Vec<Name> = (0..3000).map(|i| Name::new(&format!("t{i}"))).collect();
        let mut index = Index::empty();
        let mut model: HashMap<(usize, usize), u64> = HashMap::new();
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut rnd = |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        for step in 0..300u64 {
            let mut views = Vec::new();
            let mut keys = Vec::new();
            let batch = 1 + rnd(if step % 50 == 0 { 2000 } else { 40 });
            for _ in 0..batch {
                let k = (rnd(3), rnd(3000));
                if keys.contains(&k) {
                    continue;
                }
                keys.push(k);
                let remove = rnd(3) == 0;
                views.push((!remove).then(|| view(&groups[k.0], &topics[k.1], step + 1)));
            }
            index = index.edited(
                keys.iter()
                    .zip(&views)
                    .map(|(&(g, t), v)| (&groups[g], &topics[t], v.as_ref())),
            );
            for (&k, v) in keys.iter().zip(&views) {
                match v {
                    Some(_) => model.insert(k, step + 1),
                    None => model.remove(&k),
                };
            }
            assert_eq!(index.len(), model.len());
            for (gi, g) in groups.iter().enumerate() {
                for (ti, t) in topics.iter().enumerate().step_by(7) {
                    let h = key_hash(g.as_str(), t.as_str());
                    let got = index
                        .find_record(h, g.as_str(), t.as_str(), 0)
                        .map(|r| r.generation);
                    assert_eq!(got, model.get(&(gi, ti)).copied(), "{g:?}/{t:?}");
                    assert_eq!(
                        index.find(h, g.as_str(), t.as_str()).map(|v| v.name()),
                        got.map(|_| t.as_str())
                    );
                }
            }
        }
        for shard in &index.shards {
            let n = shard.iter().filter(|s| s.view.is_some()).count();
            assert!(shard.len().is_power_of_two() && n * 2 <= shard.len());
        }
    }
}
