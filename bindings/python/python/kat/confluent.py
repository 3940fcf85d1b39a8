"""Feeds kat from a ``confluent_kafka.Consumer``'s rebalances.

``subscribe(consumer, config, topics)`` subscribes the consumer with
``on_assign`` / ``on_revoke`` / ``on_lost`` callbacks that make the assign
calls themselves and record in kat only after the call succeeded:

================  ===============================  =====================================
rebalance         eager (range, roundrobin)        cooperative-sticky, group.protocol=consumer
================  ===============================  =====================================
assign            ``assign(list)`` → ``replace``   ``incremental_assign(list)`` → ``assigned``
revoke            ``unassign()`` → ``revoked``     ``incremental_unassign(list)`` → ``revoked``
lost              ``unassign()`` → ``lost``        ``incremental_unassign(list)`` → ``lost``
================  ===============================  =====================================

confluent-kafka runs its own assign call only *after* ``on_assign`` returns,
and only if the callback made none: recording from a plain callback would put
kat ahead of librdkafka. Here the call is made inside the callback, so when
kat shows a partition, librdkafka has it.

The client cannot be asked for its rebalance protocol, so it is inferred
from the configuration the consumer was created with (pass that same dict):
``group.protocol=consumer`` (KIP-848) or an all-cooperative
``partition.assignment.strategy`` is cooperative; anything else is eager.

With ``group.set_drain_timeout(seconds)``, an orderly revoke first runs the
drain barrier (``group.drain``: recorded at once, then leases on the revoked
partitions are waited for), then your ``on_revoke``, then the unassign call.
Every assign records the member id (``consumer.memberid()``) for fencing
tokens, with broker generation 0 (confluent-kafka does not expose it).
``set_poll_deadline(group, config)`` arms kat's poll deadline from
``max.poll.interval.ms``; ``poll`` / ``consume`` mark every poll.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, List, Literal, Mapping, Optional, Sequence, Union

from ._errors import InvalidArgumentError, RebalanceError
from ._kat import Group, Tracker, tracker as _global_tracker

if TYPE_CHECKING:  # pragma: no cover - typing only
    from confluent_kafka import Consumer, Message, TopicPartition

__all__ = ["Protocol", "rebalance_protocol", "Rebalancer", "subscribe", "set_poll_deadline", "poll", "consume"]

#: How librdkafka expects assignments to be changed.
Protocol = Literal["eager", "cooperative"]

#: A user callback, as confluent-kafka calls it: ``(consumer, partitions)``.
Callback = Callable[["Consumer", List["TopicPartition"]], Any]

_COOPERATIVE_ASSIGNORS = {"cooperative-sticky"}
_EAGER_ASSIGNORS = {"range", "roundrobin"}


def _setting(config: Mapping[str, Any], key: str) -> Optional[str]:
    value = config.get(key)
    if value is None:
        value = config.get(key.replace(".", "_"))
    return None if value is None else str(value).strip()


def rebalance_protocol(config: Mapping[str, Any]) -> Protocol:
    """The rebalance protocol a consumer created with ``config`` uses.

    ``group.protocol=consumer`` (KIP-848) → ``"cooperative"``; otherwise the
    classic protocol's ``partition.assignment.strategy`` (default
    ``range,roundrobin``) decides: all cooperative assignors → cooperative,
    all eager → eager. A mix is rejected, as librdkafka rejects it.
    """
    group_protocol = (_setting(config, "group.protocol") or "classic").lower()
    if group_protocol == "consumer":
        return "cooperative"
    if group_protocol != "classic":
        raise InvalidArgumentError(f"unknown group.protocol {group_protocol!r}")
    strategy = _setting(config, "partition.assignment.strategy") or "range,roundrobin"
    names = {s.strip().lower() for s in strategy.split(",") if s.strip()}
    if not names:
        raise InvalidArgumentError("partition.assignment.strategy is empty")
    if names <= _COOPERATIVE_ASSIGNORS:
        return "cooperative"
    if names <= _EAGER_ASSIGNORS:
        return "eager"
    if names & _COOPERATIVE_ASSIGNORS:
        raise InvalidArgumentError(
            f"partition.assignment.strategy {strategy!r} mixes eager and cooperative assignors"
        )
    raise InvalidArgumentError(f"unknown partition.assignment.strategy {strategy!r}")


class Rebalancer:
    """The rebalance callbacks of one consumer, recording into one kat group.

    Each callback first runs the application's own callback of the same kind
    (it may commit offsets of revoked partitions, or set start offsets on the
    assigned ``TopicPartition`` objects; it must not call ``assign`` itself),
    then makes exactly one assign call, then records the event. If the
    assign call raises, nothing is recorded, the group's
    ``glue_failures()`` count goes up by one and a ``RebalanceError`` (caused
    by the client's exception) propagates: confluent-kafka re-raises it from
    ``poll()``. If the application's callback raises, the assign call is
    still made and recorded (librdkafka must not be left half-way through a
    rebalance), and then the application's exception propagates.
    """

    def __init__(
        self,
        group: Group,
        protocol: Protocol,
        *,
        on_assign: Optional[Callback] = None,
        on_revoke: Optional[Callback] = None,
        on_lost: Optional[Callback] = None,
    ) -> None:
        if protocol not in ("eager", "cooperative"):
            raise InvalidArgumentError(f"protocol must be 'eager' or 'cooperative', not {protocol!r}")
        self.group = group
        self.protocol: Protocol = protocol
        self._user_assign = on_assign
        self._user_revoke = on_revoke
        self._user_lost = on_lost

    def __repr__(self) -> str:
        return f"<kat.confluent.Rebalancer group={self.group.name!r} protocol={self.protocol}>"

    @property
    def failures(self) -> int:
        """Rebalances this group's glue failed to handle (``group.glue_failures()``)."""
        return self.group.glue_failures()

    def _call(self, what: str, call: Callable[[], object]) -> None:
        try:
            call()
        except Exception as e:  # the client's KafkaException, or a closed consumer
            self.group.record_glue_failure()
            self.group.note_rebalance_error(f"{what}: {e}")
            raise RebalanceError(f"{what} failed for group {self.group.name!r}: {e}") from e

    @staticmethod
    def _user(
        callback: Optional[Callback], consumer: "Consumer", partitions: List["TopicPartition"]
    ) -> Optional[Exception]:
        if callback is None:
            return None
        try:
            callback(consumer, partitions)
        except Exception as e:  # re-raised once the assignment is settled
            return e
        return None

    def _record_member(self, consumer: "Consumer") -> None:
        # confluent-kafka does not expose the group generation id (its
        # ConsumerGroupMetadata is opaque): tokens carry 0 = unknown, and the
        # member id.
        try:
            member: Optional[str] = consumer.memberid()
        except Exception:  # a closed consumer: keep the last one
            return
        self.group.record_broker_generation(0, member or None)

    def _drain(self, partitions: List["TopicPartition"]) -> Optional[Exception]:
        # The drain barrier (only with group.set_drain_timeout()): the revoke
        # is recorded now, then leases on the partitions are waited for,
        # before the unassign call lets another member have them.
        try:
            self.group.drain(partitions)
        except Exception as e:  # re-raised once the assignment is settled
            return e
        return None

    def on_assign(self, consumer: "Consumer", partitions: List["TopicPartition"]) -> None:
        self.group.note_rebalance_protocol(self.protocol == "cooperative")
        error = self._user(self._user_assign, consumer, partitions)
        if self.protocol == "cooperative":
            self._call("incremental_assign", lambda: consumer.incremental_assign(partitions))
            self._record_member(consumer)
            self.group.assigned(partitions)
        else:
            self._call("assign", lambda: consumer.assign(partitions))
            self._record_member(consumer)
            self.group.replace(partitions)
        if error is not None:
            raise error

    def on_revoke(self, consumer: "Consumer", partitions: List["TopicPartition"]) -> None:
        self.group.note_rebalance_protocol(self.protocol == "cooperative")
        error = self._drain(partitions)
        user_error = self._user(self._user_revoke, consumer, partitions)
        error = error or user_error
        if self.protocol == "cooperative":
            self._call("incremental_unassign", lambda: consumer.incremental_unassign(partitions))
            self.group.revoked(partitions)
        else:
            self._call("unassign", consumer.unassign)
            # An eager revoke hands back the whole assignment.
            self.group.replace([])
        if error is not None:
            raise error

    def on_lost(self, consumer: "Consumer", partitions: List["TopicPartition"]) -> None:
        self.group.note_rebalance_protocol(self.protocol == "cooperative")
        error = self._user(self._user_lost, consumer, partitions)
        if self.protocol == "cooperative":
            self._call("incremental_unassign", lambda: consumer.incremental_unassign(partitions))
        else:
            self._call("unassign", consumer.unassign)
        self.group.lost()
        if error is not None:
            raise error


def subscribe(
    consumer: "Consumer",
    config: Mapping[str, Any],
    topics: Union[str, Sequence[str], Iterable[str]],
    *,
    group: Union[str, Group, None] = None,
    tracker: Optional[Tracker] = None,
    on_assign: Optional[Callback] = None,
    on_revoke: Optional[Callback] = None,
    on_lost: Optional[Callback] = None,
) -> Group:
    """Subscribes ``consumer`` to ``topics`` with kat's rebalance callbacks.

    ``config`` is the dict the consumer was created with (its protocol is
    inferred from it). ``group`` names the kat group (default: the
    consumer's ``group.id``): one kat group is one consumer membership, so a
    process running several consumers of one consumer group gives each its
    own name. ``tracker`` defaults to ``kat.tracker()``. Returns the kat group.
    """
    if isinstance(group, Group):
        if tracker is not None and group.tracker is not tracker:
            raise InvalidArgumentError("group belongs to another tracker")
        kat_group = group
    else:
        name = group if group is not None else _setting(config, "group.id")
        if not name:
            raise InvalidArgumentError("the consumer configuration has no group.id; pass group=")
        kat_group = (tracker if tracker is not None else _global_tracker()).group(name)
    rebalancer = Rebalancer(
        kat_group,
        rebalance_protocol(config),
        on_assign=on_assign,
        on_revoke=on_revoke,
        on_lost=on_lost,
    )
    topic_list = [topics] if isinstance(topics, str) else list(topics)
    consumer.subscribe(
        topic_list,
        on_assign=rebalancer.on_assign,
        on_revoke=rebalancer.on_revoke,
        on_lost=rebalancer.on_lost,
    )
    return kat_group


def set_poll_deadline(group: Group, config: Mapping[str, Any], margin: float = 0.0) -> float:
    """Arms the group's poll deadline from the consumer's configuration.

    Reads ``max.poll.interval.ms`` from ``config`` (the dict the consumer was
    created with; librdkafka's default, 300000, when absent) and calls
    ``group.set_poll_deadline(interval, margin)``: if no poll mark
    (``kat.confluent.poll`` / ``consume``, or ``group.mark_poll()``) comes
    for ``interval - margin`` seconds, kat's timer marks the group's
    partitions lost without any call from the stuck thread. Returns the
    interval in seconds.
    """
    raw = _setting(config, "max.poll.interval.ms")
    try:
        interval_ms = int(raw) if raw is not None else 300000
    except ValueError:
        raise InvalidArgumentError(f"max.poll.interval.ms is not an integer: {raw!r}") from None
    if interval_ms <= 0:
        raise InvalidArgumentError(f"max.poll.interval.ms must be positive, not {interval_ms}")
    interval = interval_ms / 1000.0
    group.set_poll_deadline(interval, margin)
    return interval


def poll(consumer: "Consumer", group: Group, timeout: float = -1) -> Optional["Message"]:
    """``consumer.poll(timeout)``, then ``group.mark_poll()``.

    The mark records that the consumer is alive and polling (``group.poll_count()``,
    ``group.since_last_poll()``), for monitoring and poll-deadline checks. It
    is made also when ``poll`` raises (for example an exception re-raised from
    a rebalance callback): the consumer did poll.
    """
    try:
        return consumer.poll(timeout)
    finally:
        group.mark_poll()


def consume(
    consumer: "Consumer", group: Group, num_messages: int = 1, timeout: float = -1
) -> List["Message"]:
    """``consumer.consume(num_messages, timeout)``, then ``group.mark_poll()``."""
    try:
        return consumer.consume(num_messages, timeout)
    finally:
        group.mark_poll()
