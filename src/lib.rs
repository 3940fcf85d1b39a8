//! # kat — the Kafka assignments tracker
//!
//! Knows, from any thread and without blocking, which topic partitions this
//! process owns right now, in which consumer group, and how many times each
//! was assigned (its *generation*).
//!
//! Rebalance callbacks feed a [`Tracker`] through [`Group`] events
//! ([`Group::assigned`], [`Group::revoked`], [`Group::replace`],
//! [`Group::lost`], [`Group::reset`]); everything else reads:
//!
//! | read | cost |
//! |---|---|
//! | [`PartitionHandle::state`] | one atomic load |
//! | [`Tracker::epoch`] | one load, compared with the snapshot this thread cached |
//! | [`Tracker::generation`], [`Tracker::is_assigned`] | the same, plus one hash probe; no allocation, no atomic read-modify-write |
//! | [`Tracker::snapshot`] | wait-free load + one reference-count increment |
//! | [`Tracker::generations`], `to_json` | wait-free load, then a copy |
//! | [`Tracker::wait_for_change`] | blocks (monitoring threads only) |
//!
//! Writers serialise on one mutex and publish a new immutable [`Snapshot`]
//! per event (copy-on-write: only the touched group and topics are rebuilt).
//!
//! ```
//! use kat::Tracker;
//! let tracker = Tracker::new();
//! let group = tracker.group("billing").unwrap();
//! group.assigned([("orders", 0), ("orders", 1)]).unwrap();
//! group.revoked([("orders", 1)]).unwrap();
//! group.assigned([("orders", 1)]).unwrap();
//! assert_eq!(tracker.generation("billing", "orders", 1), 2);
//! let handle = group.partition("orders", 0).unwrap();
//! assert!(handle.state().is_owned_at(1));
//! ```
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

mod deadline;
mod error;
pub mod ffi;
mod fork;
mod history;
mod index;
mod json;
mod metrics;
mod name;
#[cfg(feature = "rdkafka")]
pub mod rdkafka;
mod runtime;
mod snapshot;
mod stats;
mod tracker;

pub use error::{Error, ErrorKind};
pub use history::{
    Health, HealthState, History, HistoryEntry, HistoryKind, HistoryPartition,
    DEFAULT_HISTORY_LIMIT, DEFAULT_STALL_FRACTION, HISTORY_PARTITIONS_LIMIT,
};
pub use metrics::{
    consumer_group_of, MetricsFormat, MetricsServer, OPENMETRICS_CONTENT_TYPE,
    PROMETHEUS_CONTENT_TYPE,
};
pub use name::{validate_group, validate_topic, MAX_GROUP_NAME_LEN, MAX_TOPIC_NAME_LEN};
pub use runtime::{DrainStats, LossNotifier, PollStats};
pub use snapshot::{
    AssignedPartition, GenerationEntry, Generations, GenerationsIter, GroupList, GroupStats,
    GroupView, ListIter, Named, PartitionRecord, Snapshot, SortedList, Status, TopicIter,
    TopicList, TopicView,
};
pub use stats::RdkafkaCgrp;
pub use tracker::{
    release_thread_read_cache, FencingToken, Group, Lease, PartitionHandle, PartitionState,
    Tracker, DEFAULT_GENERATIONS_TOPICS_LIMIT,
};
