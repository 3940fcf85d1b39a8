"""kat — the Kafka assignments tracker, for Python.

Knows, from any thread and without blocking, which topic partitions this
process owns right now, in which consumer group, and how many times each was
assigned (its generation). ``kat.confluent`` feeds it from confluent-kafka
consumers.
"""

from ._errors import (
    Error,
    ForkedError,
    InvalidArgumentError,
    InvalidGroupError,
    InvalidInputError,
    InvalidListError,
    InvalidPartitionError,
    InvalidTopicError,
    NotOwnedError,
    RebalanceError,
)
from ._types import Health, PartitionList, Status, TopicPartitionLike
from ._kat import (
    DEFAULT_GENERATIONS_TOPICS_LIMIT,
    MAX_GROUP_NAME_LEN,
    MAX_PARTITION,
    MAX_TOPIC_NAME_LEN,
    DrainStats,
    FencingToken,
    Group,
    GroupStats,
    Lease,
    PollStats,
    PartitionHandle,
    PartitionState,
    Snapshot,
    Tracker,
    tracker,
)

__all__ = [
    "DEFAULT_GENERATIONS_TOPICS_LIMIT",
    "MAX_GROUP_NAME_LEN",
    "MAX_PARTITION",
    "MAX_TOPIC_NAME_LEN",
    "DrainStats",
    "Error",
    "ForkedError",
    "FencingToken",
    "Group",
    "Health",
    "GroupStats",
    "InvalidArgumentError",
    "InvalidGroupError",
    "InvalidInputError",
    "InvalidListError",
    "InvalidPartitionError",
    "InvalidTopicError",
    "Lease",
    "NotOwnedError",
    "PartitionHandle",
    "PartitionList",
    "PartitionState",
    "PollStats",
    "RebalanceError",
    "Snapshot",
    "Status",
    "TopicPartitionLike",
    "Tracker",
    "tracker",
]
