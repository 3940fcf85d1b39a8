//! The (group, topic) index of a snapshot: what a read by name probes.
//!
//! Immutable once built; [`Index::edited`] gives the next snapshot's index
//! from the current one and an event's changes. Readers only call
//! [`Index::find`]; writers only call `edited`.

use std::sync::Arc;

use hashbrown::HashTable;

use crate::name::{key_hash, same_bytes, Name};
use crate::snapshot::TopicView;

/// Number of index shards: an event copies the array of shard pointers and
/// only the shards it touches, so many small shards keep an event's cost near
/// what it touches even when a group has thousands of topics.
const SHARDS: usize = 256;

type Shard = Arc<HashTable<Arc<TopicView>>>;

/// (group, topic) → topic view, split by hash into copy-on-write shards.
#[derive(Debug, Clone)]
pub(crate) struct Index {
    shards: [Shard; SHARDS],
    /// Number of (group, topic) entries.
    entries: usize,
}

/// The shard of a key hash: middle bits, independent of the low bits the
/// table uses for the bucket and the top 7 bits it keeps as the tag, so keys
/// of one shard still spread over buckets and tags.
#[inline]
fn shard_of(hash: u64) -> usize {
    (hash >> 32) as usize & (SHARDS - 1)
}

impl Index {
    /// An index with no entries (no table allocated).
    pub(crate) fn empty() -> Index {
        let empty: Shard = Arc::new(HashTable::new());
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

    /// The view of (group, topic), `hash` being their
    /// [`key_hash`](crate::name::key_hash). One probe; never allocates.
    #[inline(always)]
    pub(crate) fn find(&self, hash: u64, group: &str, topic: &str) -> Option<&TopicView> {
        self.shards[shard_of(hash)]
            .find(hash, |t| {
                same_bytes(t.topic_name().as_str().as_bytes(), topic.as_bytes())
                    && same_bytes(t.group_name().as_str().as_bytes(), group.as_bytes())
            })
            .map(|t| &**t)
    }

    /// This index with `changes` applied: `Some(view)` inserts or replaces
    /// the (group, topic) entry, `None` removes it. Each touched shard is
    /// copied once; untouched ones are shared with `self`.
    pub(crate) fn edited<'a>(
        &self,
        changes: impl IntoIterator<Item = (&'a Name, &'a Name, Option<&'a Arc<TopicView>>)>,
    ) -> Index {
        let mut next = self.clone();
        for (g, t, new) in changes {
            let hash = key_hash(g.as_str(), t.as_str());
            let shard = Arc::make_mut(&mut next.shards[shard_of(hash)]);
            let eq = |v: &Arc<TopicView>| v.topic_name() == t && v.group_name() == g;
            if let Ok(e) = shard.find_entry(hash, eq) {
                e.remove();
                next.entries -= 1;
            }
            if let Some(view) = new {
                shard.insert_unique(hash, view.clone(), |v| v.hash);
                next.entries += 1;
            }
        }
        next
    }
}
