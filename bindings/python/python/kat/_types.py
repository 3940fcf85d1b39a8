"""Type aliases of kat's API (also importable at runtime)."""

from __future__ import annotations

from typing import Iterable, Literal, Mapping, Protocol, Tuple, Union

__all__ = ["Status", "Health", "TopicPartitionLike", "PartitionList"]

#: A key's status; ``None`` stands for "never assigned".
Status = Literal["assigned", "revoked", "lost"]

#: A group's health state (``Group.health()``).
Health = Literal["never_joined", "standby", "assigned", "rebalancing", "lost", "stalled"]


class TopicPartitionLike(Protocol):
    """Anything with ``.topic`` and ``.partition``, such as confluent-kafka's ``TopicPartition``."""

    @property
    def topic(self) -> str: ...

    @property
    def partition(self) -> int: ...


#: What events accept: ``{topic: [partitions]}``, ``[(topic, partition)]`` or ``[TopicPartition]``.
PartitionList = Union[
    Mapping[str, Iterable[int]],
    Iterable[Tuple[str, int]],
    Iterable[TopicPartitionLike],
]
