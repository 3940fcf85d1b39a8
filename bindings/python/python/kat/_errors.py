"""kat's exceptions."""

from __future__ import annotations

from typing import Optional

__all__ = [
    "Error",
    "InvalidInputError",
    "InvalidGroupError",
    "InvalidTopicError",
    "InvalidPartitionError",
    "InvalidListError",
    "InvalidArgumentError",
    "RebalanceError",
    "NotOwnedError",
    "ForkedError",
]


class Error(Exception):
    """Base class of every exception kat raises."""


class InvalidInputError(Error, ValueError):
    """An input was rejected; the call changed nothing.

    ``element`` is the index of the offending element of an event's partition
    list (counted in iteration order, a mapping's partitions flattened), or
    ``None``; ``reason`` is the message without the element index.
    """

    def __init__(self, message: str, element: Optional[int] = None, reason: Optional[str] = None) -> None:
        super().__init__(message)
        self.element = element
        self.reason = reason if reason is not None else message


class InvalidGroupError(InvalidInputError):
    """The group name is empty, longer than 1024 bytes, contains NUL or is not valid UTF-8."""


class InvalidTopicError(InvalidInputError):
    """The topic name is not a legal Kafka topic name ([A-Za-z0-9._-]{1,249}, not "." or "..")."""


class InvalidPartitionError(InvalidInputError):
    """The partition number is outside 0..=2**31-1."""


class InvalidListError(InvalidInputError):
    """A partition list element is not a (topic, partition) pair or TopicPartition, or has a non-str topic or a non-int partition."""


class InvalidArgumentError(InvalidInputError):
    """Another argument is outside its documented range."""


class RebalanceError(Error):
    """An assign or unassign call of a rebalance failed; kat recorded nothing for it.

    The client's own exception is the ``__cause__``.
    """


class ForkedError(Error):
    """This process was forked while another thread of its parent was changing the tracker.

    The tracker can be read but not changed here. Fork before creating
    consumers (``multiprocessing`` with the "spawn" or "forkserver" start
    method does), or exec.
    """

    def __init__(self, message: str, element: Optional[int] = None, reason: Optional[str] = None) -> None:
        super().__init__(message)
        self.reason = reason if reason is not None else message


class NotOwnedError(Error):
    """A lease was refused: the partition is not assigned at that generation."""

    def __init__(self, message: str, element: Optional[int] = None, reason: Optional[str] = None) -> None:
        super().__init__(message)
        self.reason = reason if reason is not None else message
