"""kat.confluent with real confluent-kafka consumers on librdkafka's mock
cluster: eager (range, roundrobin), cooperative-sticky and KIP-848
(group.protocol=consumer) groups of three consumers joining and leaving, and
an assignment lost through max.poll.interval.ms.

After every rebalance callback and every poll, kat's assignment for the
consumer must equal ``consumer.assignment()``; a reader thread checks the
tracker's consistency the whole time.
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Set, Tuple

import pytest
from confluent_kafka import Consumer, KafkaException, TopicPartition

import kat
from kat import confluent as kc
from mockcluster import MockCluster

TOPICS = {"orders": 6, "payments": 3}
ALL = {(t, p) for t, n in TOPICS.items() for p in range(n)}
Key = Tuple[str, int]


@pytest.fixture
def cluster() -> Iterator[MockCluster]:
    cluster = MockCluster()
    for topic, partitions in TOPICS.items():
        cluster.create_topic(topic, partitions)
    yield cluster
    cluster.close()


def consumer_config(cluster: MockCluster, protocol: str, group_id: str, **extra: Any) -> Dict[str, Any]:
    config: Dict[str, Any] = {
        "bootstrap.servers": cluster.bootstrap_servers,
        "group.id": group_id,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "log_level": 3,
    }
    if protocol == "consumer":
        config["group.protocol"] = "consumer"
    else:
        config.update(
            {
                "partition.assignment.strategy": protocol,
                "session.timeout.ms": 1500,
                "heartbeat.interval.ms": 100,
            }
        )
    config.update(extra)
    return config


def owned_by_consumer(consumer: Consumer) -> Set[Key]:
    return {(tp.topic, tp.partition) for tp in consumer.assignment()}


def owned_in_kat(group: kat.Group) -> Set[Key]:
    return {(t, p) for t, parts in group.assignments().items() for p in parts}


class Member:
    """One consumer, subscribed through a kat Rebalancer whose callbacks are
    followed by the equality check."""

    def __init__(self, config: Dict[str, Any], group: kat.Group, checks: List[str]) -> None:
        self.consumer = Consumer(config)
        self.group = group
        self.checks = checks
        self.callbacks: List[str] = []
        self.rebalancer = kc.Rebalancer(group, kc.rebalance_protocol(config))
        self.consumer.subscribe(
            list(TOPICS),
            on_assign=self._after("assign", self.rebalancer.on_assign),
            on_revoke=self._after("revoke", self.rebalancer.on_revoke),
            on_lost=self._after("lost", self.rebalancer.on_lost),
        )
        self.closed = False
        self.closing = False

    def _after(
        self, kind: str, callback: Callable[[Consumer, List[TopicPartition]], None]
    ) -> Callable[[Consumer, List[TopicPartition]], None]:
        def run(consumer: Consumer, partitions: List[TopicPartition]) -> None:
            callback(consumer, partitions)
            self.callbacks.append(kind)
            # While closing, librdkafka no longer answers assignment().
            if not self.closing:
                self.check(f"after on_{kind}")

        return run

    def check(self, when: str) -> None:
        librdkafka, tracked = owned_by_consumer(self.consumer), owned_in_kat(self.group)
        self.checks.append(when)
        assert tracked == librdkafka, f"{self.group.name} {when}: kat {sorted(tracked)} != librdkafka {sorted(librdkafka)}"
        for topic, partition in librdkafka:
            assert self.group.generation(topic, partition) >= 1

    def poll(self) -> None:
        msg = self.consumer.poll(0.02)
        error = msg.error() if msg is not None else None
        if error is not None and error.fatal():
            raise KafkaException(error)
        self.check("after poll")

    def close(self) -> None:
        self.closing = True
        self.consumer.close()
        self.closed = True


class Reader(threading.Thread):
    """Reads the tracker in a loop and records every inconsistency."""

    def __init__(self, tracker: kat.Tracker, groups: List[str]) -> None:
        super().__init__(daemon=True)
        self.tracker = tracker
        self.handles = [tracker.group(g).partition(t, p) for g in groups for (t, p) in sorted(ALL)]
        self.stop = threading.Event()
        self.problems: List[str] = []
        self.reads = 0
        self.epochs: Set[int] = set()

    def run(self) -> None:
        held = self.tracker.snapshot()
        held_json, held_assignments = held.to_json(), held.assignments()
        held_copy = {g: dict(t) for g, t in held_assignments.items()}
        last_epoch = -1
        while not self.stop.is_set():
            snap = self.tracker.snapshot()
            if snap.epoch < last_epoch:
                self.problems.append(f"epoch went back: {last_epoch} -> {snap.epoch}")
            epoch_now = self.tracker.epoch()
            if epoch_now < snap.epoch:
                self.problems.append(f"epoch() {epoch_now} older than a snapshot already seen ({snap.epoch})")
            last_epoch = snap.epoch
            self.epochs.add(snap.epoch)
            for group, topics in snap.assignments().items():
                for topic, parts in topics.items():
                    for p in parts:
                        if snap.generation(group, topic, p) == 0:
                            self.problems.append(f"{group}/{topic}/{p} assigned at generation 0")
            for h in self.handles:
                s = h.state()
                if s.is_assigned and s.generation == 0:
                    self.problems.append(f"handle {h!r} assigned at generation 0")
            # A held snapshot (and the mapping taken from it) never changes.
            if held.to_json() != held_json or {g: dict(t) for g, t in held_assignments.items()} != held_copy:
                self.problems.append("a held snapshot changed")
            if self.reads % 50 == 0:
                held = snap
                held_json, held_assignments = held.to_json(), held.assignments()
                held_copy = {g: dict(t) for g, t in held_assignments.items()}
            self.reads += 1
            time.sleep(0.0005)


def settle(members: List[Member], done: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for m in members:
            if not m.closed:
                m.poll()
        if done():
            return
    raise AssertionError(
        "group did not settle: "
        + "; ".join(f"{m.group.name}={sorted(owned_in_kat(m.group))}" for m in members if not m.closed)
    )


def balanced(members: List[Member]) -> Callable[[], bool]:
    def done() -> bool:
        live = [m for m in members if not m.closed]
        owned = [owned_by_consumer(m.consumer) for m in live]
        union: Set[Key] = set().union(*owned) if owned else set()
        return (
            union == ALL
            and sum(len(o) for o in owned) == len(ALL)
            and all(owned)
        )

    return done


@pytest.mark.parametrize("protocol", ["range", "roundrobin", "cooperative-sticky", "consumer"])
def test_three_consumers_join_and_leave(cluster: MockCluster, protocol: str) -> None:
    tracker = kat.Tracker()
    names = [f"member-{i}" for i in range(3)]
    reader = Reader(tracker, names)
    reader.start()
    checks: List[str] = []
    members: List[Member] = []
    try:
        for name in names:
            config = consumer_config(cluster, protocol, f"group-{protocol}")
            members.append(Member(config, tracker.group(name), checks))
            settle(members, balanced(members))
        assert all(len(owned_in_kat(m.group)) == 3 for m in members)
        # Each partition's generation counts the times its member got it.
        for m in members:
            for (topic, partition) in owned_in_kat(m.group):
                assert m.group.generation(topic, partition) >= 1
        while len([m for m in members if not m.closed]) > 1:
            leaving = next(m for m in members if not m.closed)
            leaving.close()
            assert owned_in_kat(leaving.group) == set()
            settle(members, balanced(members))
        last = next(m for m in members if not m.closed)
        assert owned_in_kat(last.group) == ALL
        last.close()
        assert owned_in_kat(last.group) == set()
    finally:
        for m in members:
            if not m.closed:
                m.close()
        reader.stop.set()
        reader.join(10)
    assert reader.problems == []
    assert reader.reads > 10 and len(reader.epochs) > 3
    assert sum(c.startswith("after on_") for c in checks) >= 6
    assert tracker.assignments() == {n: {} for n in names}
    expected_protocol = "eager" if protocol in ("range", "roundrobin") else "cooperative"
    for n in names:
        history = json.loads(tracker.group(n).history_json())
        assert any(e["kind"] in ("assign", "replace") and e["assigned"] > 0 for e in history)
        assert all(e["protocol"] == expected_protocol for e in history)
    generations = tracker.generations()
    assert all(state.status in ("revoked", "lost") for g in generations.values() for t in g.values() for state in t.values())
    if protocol in ("range", "roundrobin"):
        assert all(m.rebalancer.protocol == "eager" for m in members)
    else:
        assert all(m.rebalancer.protocol == "cooperative" for m in members)


@pytest.mark.parametrize("protocol", ["range", "cooperative-sticky"])
def test_assignment_lost_through_max_poll_interval(cluster: MockCluster, protocol: str) -> None:
    tracker = kat.Tracker()
    config = consumer_config(
        cluster, protocol, f"lost-{protocol}", **{"max.poll.interval.ms": 1500}
    )
    consumer = Consumer(config)
    lost_calls: List[int] = []
    group = kc.subscribe(
        consumer,
        config,
        list(TOPICS),
        group="slow",
        tracker=tracker,
        on_lost=lambda c, parts: lost_calls.append(len(parts)),
    )
    assert group.name == "slow" and group.tracker is tracker
    handle = group.partition("orders", 0)
    try:
        deadline = time.monotonic() + 20
        while owned_by_consumer(consumer) != ALL:
            assert time.monotonic() < deadline, "never assigned"
            consumer.poll(0.05)
            assert owned_in_kat(group) == owned_by_consumer(consumer)
        assert handle.owned_at(1)
        # The poll wrapper marks every poll.
        polls = group.poll_count()
        for _ in range(3):
            kc.poll(consumer, group, 0.01)
            assert owned_in_kat(group) == owned_by_consumer(consumer)
        assert group.poll_count() == polls + 3
        kc.consume(consumer, group, 10, 0.01)
        assert group.poll_count() == polls + 4
        # Stop polling for longer than max.poll.interval.ms: librdkafka leaves
        # the group, and the next poll delivers the loss.
        time.sleep(2.5)
        since = group.since_last_poll()
        assert since is not None and since >= 2.5
        saw_lost = False
        deadline = time.monotonic() + 20
        while not saw_lost or owned_by_consumer(consumer) != ALL:
            assert time.monotonic() < deadline, f"lost={lost_calls} owned={sorted(owned_in_kat(group))}"
            consumer.poll(0.05)
            assert owned_in_kat(group) == owned_by_consumer(consumer)
            saw_lost = saw_lost or group.stats().lost_events > 0
        assert lost_calls and lost_calls[0] == len(ALL)
        assert group.stats().lost_events == 1
        # Owned again after the rejoin, at a new generation: a fence taken at
        # generation 1 now fails.
        assert handle.state().generation == 2 and not handle.owned_at(1) and handle.owned_at(2)
    finally:
        consumer.close()
    assert owned_in_kat(group) == set()


def test_protocol_is_inferred_from_the_configuration() -> None:
    assert kc.rebalance_protocol({}) == "eager"
    assert kc.rebalance_protocol({"partition.assignment.strategy": "range"}) == "eager"
    assert kc.rebalance_protocol({"partition.assignment.strategy": "roundrobin,range"}) == "eager"
    assert kc.rebalance_protocol({"partition.assignment.strategy": "cooperative-sticky"}) == "cooperative"
    assert kc.rebalance_protocol({"group.protocol": "consumer"}) == "cooperative"
    assert kc.rebalance_protocol({"group.protocol": "classic"}) == "eager"
    with pytest.raises(kat.InvalidArgumentError):
        kc.rebalance_protocol({"partition.assignment.strategy": "range,cooperative-sticky"})
    with pytest.raises(kat.InvalidArgumentError):
        kc.rebalance_protocol({"partition.assignment.strategy": "sticky"})
    with pytest.raises(kat.InvalidArgumentError):
        kc.rebalance_protocol({"group.protocol": "share"})


@pytest.mark.parametrize("protocol", ["eager", "cooperative"])
def test_failed_assign_records_nothing(cluster: MockCluster, protocol: str) -> None:
    tracker = kat.Tracker()
    group = tracker.group("g")
    rebalancer = kc.Rebalancer(group, protocol)  # type: ignore[arg-type]
    consumer = Consumer(consumer_config(cluster, "range", "closed"))
    consumer.close()
    with pytest.raises(kat.RebalanceError) as e:
        rebalancer.on_assign(consumer, [TopicPartition("orders", 0)])
    assert e.value.__cause__ is not None
    assert rebalancer.failures == 1 and group.glue_failures() == 1
    errors = [e for e in json.loads(group.history_json()) if e["kind"] == "error"]
    expected_call = "incremental_assign" if protocol == "cooperative" else "assign"
    assert len(errors) == 1 and errors[0]["error"].startswith(expected_call + ":")
    assert errors[0]["protocol"] == protocol
    assert tracker.group("g").glue_failures() == 1
    assert tracker.epoch() == 0 and group.assignments() == {}


def test_subscribe_needs_a_group_name(cluster: MockCluster) -> None:
    config = consumer_config(cluster, "range", "x")
    del config["group.id"]
    config["group.id"] = "named"
    consumer = Consumer(config)
    try:
        group = kc.subscribe(consumer, {k: v for k, v in config.items() if k != "group.id"}, "orders",
                             group="explicit", tracker=kat.Tracker())
        assert group.name == "explicit"
        with pytest.raises(kat.InvalidArgumentError):
            kc.subscribe(consumer, {k: v for k, v in config.items() if k != "group.id"}, "orders")
        default = kc.subscribe(consumer, config, ["orders"], tracker=kat.Tracker())
        assert default.name == "named"
        with pytest.raises(kat.InvalidArgumentError):
            kc.subscribe(consumer, config, ["orders"], group=kat.Tracker().group("x"), tracker=kat.Tracker())
    finally:
        consumer.close()


def test_user_callbacks_run_before_the_assign_call(cluster: MockCluster) -> None:
    tracker = kat.Tracker()
    config = consumer_config(cluster, "cooperative-sticky", "user-callbacks")
    consumer = Consumer(config)
    seen: List[Tuple[str, Set[Key], Optional[bool]]] = []

    def on_assign(c: Consumer, parts: List[TopicPartition]) -> None:
        # Not yet assigned in librdkafka nor in kat: the callback may set offsets.
        seen.append(("assign", owned_by_consumer(c), tracker.is_assigned("cb", "orders", 0)))

    group = kc.subscribe(consumer, config, list(TOPICS), group="cb", tracker=tracker, on_assign=on_assign)
    try:
        deadline = time.monotonic() + 20
        while owned_in_kat(group) != ALL:
            assert time.monotonic() < deadline
            consumer.poll(0.05)
    finally:
        consumer.close()
    assert seen and seen[0] == ("assign", set(), False)


@pytest.mark.parametrize("protocol", ["range", "cooperative-sticky"])
def test_a_failing_user_callback_still_leaves_kat_in_step(cluster: MockCluster, protocol: str) -> None:
    tracker = kat.Tracker()
    config = consumer_config(cluster, protocol, f"failing-callback-{protocol}")
    consumer = Consumer(config)

    class Boom(Exception):
        pass

    def on_assign(c: Consumer, parts: List[TopicPartition]) -> None:
        raise Boom("application callback failed")

    group = kc.subscribe(consumer, config, list(TOPICS), group="boom", tracker=tracker, on_assign=on_assign)
    raised = 0
    try:
        deadline = time.monotonic() + 20
        while owned_by_consumer(consumer) != ALL:
            assert time.monotonic() < deadline
            try:
                consumer.poll(0.05)
            except Boom:
                raised += 1
            assert owned_in_kat(group) == owned_by_consumer(consumer)
    finally:
        consumer.close()
    # The application's exception reached poll(), and the assignment was
    # made and recorded all the same.
    assert raised >= 1
    assert group.stats().assigned_events >= 1


def test_poll_deadline_expires_a_stuck_consumer_before_it_polls_again(cluster: MockCluster) -> None:
    tracker = kat.Tracker()
    config = consumer_config(
        cluster, "cooperative-sticky", "stuck", **{"max.poll.interval.ms": 1500}
    )
    consumer = Consumer(config)
    group = kc.subscribe(consumer, config, list(TOPICS), tracker=tracker)
    assert kc.set_poll_deadline(group, config, margin=0.2) == 1.5
    assert group.poll_stats().deadline == pytest.approx(1.3)
    handle = group.partition("orders", 0)
    try:
        deadline = time.monotonic() + 20
        while owned_by_consumer(consumer) != ALL:
            assert time.monotonic() < deadline, "never assigned"
            kc.poll(consumer, group, 0.05)
        assert owned_in_kat(group) == ALL and handle.owned_at(1)
        token = handle.token()
        assert token is not None and token.generation == 1
        assert token.member_id is not None and token.member_id == consumer.memberid()
        # Polls keep the deadline away, well past 1.3 s.
        end = time.monotonic() + 2.0
        while time.monotonic() < end:
            kc.poll(consumer, group, 0.05)
        assert group.poll_stats().expirations == 0 and handle.owned_at(1)
        # The loop stops. This thread never polls nor marks: kat's timer
        # expires the group while librdkafka still reports the assignment
        # to the application (it tells only at the next poll).
        stopped = time.monotonic()
        with handle.lease(1) as lease:
            assert handle.wait_not_owned(1, timeout=10)
            assert not lease.valid()
        assert time.monotonic() - stopped >= 1.2
        assert owned_in_kat(group) == set()
        assert handle.state().status == "lost"
        assert owned_by_consumer(consumer) == ALL  # librdkafka has not told yet
        stats = group.poll_stats()
        assert stats.expirations == 1 and stats.last_expiry_delay is not None
        with pytest.raises(kat.NotOwnedError):
            handle.lease(1)
        # Past max.poll.interval.ms and librdkafka's once-a-second check, it
        # has left the group too; polling again delivers its own loss (which
        # changes nothing more in kat), then the rejoin. kat is never ahead.
        time.sleep(max(0.0, stopped + 3.0 - time.monotonic()))
        deadline = time.monotonic() + 20
        while owned_by_consumer(consumer) != ALL or owned_in_kat(group) != ALL:
            assert time.monotonic() < deadline, f"owned={sorted(owned_in_kat(group))}"
            kc.poll(consumer, group, 0.05)
            assert owned_in_kat(group) <= owned_by_consumer(consumer)
        assert owned_in_kat(group) == owned_by_consumer(consumer)
        assert handle.owned_at(2) and group.poll_stats().expirations == 1
    finally:
        group.set_poll_deadline(0)
        consumer.close()


def test_orderly_revoke_drains_leases_before_the_unassign(cluster: MockCluster) -> None:
    tracker = kat.Tracker()
    config = consumer_config(cluster, "cooperative-sticky", "drain")
    first = Consumer(config)
    events: List[Tuple[str, float]] = []
    a = kc.subscribe(
        first,
        config,
        list(TOPICS),
        group="drain-a",
        tracker=tracker,
        on_revoke=lambda c, parts: events.append(("a revoke callback", time.monotonic())),
    )
    a.set_drain_timeout(5)
    second: Optional[Consumer] = None
    try:
        deadline = time.monotonic() + 20
        while owned_by_consumer(first) != ALL:
            assert time.monotonic() < deadline, "never assigned"
            kc.poll(first, a, 0.05)
        # Workers hold a lease on every partition for 500 ms once the
        # revoke began (the drain records it first, so they see it).
        handles = {key: a.partition(*key) for key in ALL}
        leases = {key: h.lease(1) for key, h in handles.items()}
        released: List[float] = []

        valid_while_draining: List[bool] = []

        def worker() -> None:
            end = time.monotonic() + 30
            while all(h.owned_at(1) for h in handles.values()) and time.monotonic() < end:
                time.sleep(0.001)
            time.sleep(0.5)
            valid_while_draining.extend(
                lease.valid() for key, lease in leases.items() if not a.is_assigned(*key)
            )
            released.append(time.monotonic())
            for lease in leases.values():
                lease.release()

        threading.Thread(target=worker, daemon=True).start()
        second = Consumer(config)
        b_got: List[Tuple[Set[Key], float]] = []
        b = kc.subscribe(
            second,
            config,
            list(TOPICS),
            group="drain-b",
            tracker=tracker,
            on_assign=lambda c, parts: b_got.append(
                ({(tp.topic, tp.partition) for tp in parts}, time.monotonic())
            ),
        )
        deadline = time.monotonic() + 20
        while not (b_got and owned_in_kat(a) | owned_in_kat(b) == ALL and owned_in_kat(b)):
            assert time.monotonic() < deadline, f"a={sorted(owned_in_kat(a))} b={sorted(owned_in_kat(b))}"
            kc.poll(first, a, 0.02)
            kc.poll(second, b, 0.02)
            assert owned_in_kat(a) == owned_by_consumer(first)
        assert released, "the worker never saw the revoke"
        assert valid_while_draining and all(valid_while_draining)
        # A's revoke waited for the release; B got nothing before it.
        assert events and events[0][1] >= released[0]
        assert all(t >= released[0] for parts, t in b_got if parts)
        s = a.drain_stats()
        assert s.drains >= 1 and s.timeouts == 0 and s.last_held == 0
        assert all(h.leases_held() == 0 for h in handles.values())
    finally:
        first.close()
        if second is not None:
            second.close()
