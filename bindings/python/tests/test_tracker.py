"""The native module: events, reads, handles, caches, errors and waits."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
import types
import typing

import pytest

import kat


@pytest.fixture
def tracker() -> kat.Tracker:
    return kat.Tracker()


def test_process_wide_tracker_is_one_object_and_independent_trackers_are_not() -> None:
    assert kat.tracker() is kat.tracker()
    a, b = kat.Tracker(), kat.Tracker()
    a.group("g").assigned({"t": [0]})
    assert a.is_assigned("g", "t", 0)
    assert not b.is_assigned("g", "t", 0)
    assert not kat.tracker().is_assigned("g-never-used-here", "t", 0)


def test_events_follow_the_contract(tracker: kat.Tracker) -> None:
    g = tracker.group("billing")
    assert tracker.epoch() == 0
    assert g.assigned({"orders": [0, 1]}) is True
    assert g.revoked([("orders", 1)]) is True
    assert g.assigned([("orders", 1)]) is True
    assert tracker.generation("billing", "orders", 1) == 2
    assert g.generation("orders", 0) == 1
    assert g.is_assigned("orders", 1)
    assert g.replace({"orders": [1], "payments": [3]}) is True
    assert g.assignments() == {"orders": (1,), "payments": (3,)}
    assert tracker.generation("billing", "orders", 1) == 3
    gens = g.generations()
    assert gens["orders"][0].status == "revoked"
    assert gens["orders"][0].generation == 1
    assert gens["orders"][1].status == "assigned"
    assert g.lost() is True
    assert g.assignments() == {}
    assert g.generations()["payments"][3].status == "lost"
    assert g.reset() is False  # nothing left to reset
    assert g.assigned([]) is False
    stats = g.stats()
    assert (stats.assigned_events, stats.revoked_events, stats.lost_events) == (3, 2, 1)
    assert stats.last_change_unix_ms > 0
    assert tracker.epoch() == 5
    assert tracker.clear() is True
    assert tracker.generation("billing", "orders", 1) == 0
    assert tracker.epoch() == 6


def test_same_name_is_the_same_group(tracker: kat.Tracker) -> None:
    a, b = tracker.group("g"), tracker.group("g")
    assert a is b
    a.assigned({"t": [0]})
    assert b.is_assigned("t", 0)
    assert a == b and hash(a) == hash(b)
    assert a != kat.Tracker().group("g")
    assert a.tracker is tracker
    assert kat.tracker().group("g") is kat.tracker().group("g")


def test_trackers_and_their_groups_are_garbage_collected() -> None:
    import gc
    import weakref

    tracker = kat.Tracker()
    group = tracker.group("g")
    group.assigned({"t": [0]})
    assert group.assignments() == {"t": (0,)}
    ref = weakref.ref(tracker)
    del tracker, group
    gc.collect()
    assert ref() is None


def test_events_accept_topic_partition_objects(tracker: kat.Tracker) -> None:
    class TP:
        def __init__(self, topic: str, partition: int) -> None:
            self.topic, self.partition = topic, partition

    g = tracker.group("g")
    g.assigned([TP("t", 2), TP("t", 0)])
    assert g.assignments() == {"t": (0, 2)}


def test_assignments_are_immutable_and_cached_per_epoch(tracker: kat.Tracker) -> None:
    g = tracker.group("g")
    other = tracker.group("other")
    g.assigned({"t": [0, 1]})
    first = tracker.assignments()
    assert isinstance(first, types.MappingProxyType)
    assert tracker.assignments() is first
    mine = g.assignments()
    assert g.assignments() is mine
    with pytest.raises(TypeError):
        first["x"] = {}  # type: ignore[index]
    with pytest.raises(TypeError):
        mine["t"] = (9,)  # type: ignore[index]
    assert isinstance(mine["t"], tuple)
    # Another group's change moves the epoch but leaves this group's mapping.
    other.assigned({"t": [5]})
    assert tracker.assignments() is not first
    assert first == {"g": {"t": (0, 1)}}
    assert tracker.assignments() == {"g": {"t": (0, 1)}, "other": {"t": (5,)}}
    assert g.assignments() is mine
    g.revoked([("t", 1)])
    assert g.assignments() == {"t": (0,)}
    assert mine == {"t": (0, 1)}


def test_snapshot_never_changes(tracker: kat.Tracker) -> None:
    g = tracker.group("g")
    g.assigned({"t": [0]})
    snap = tracker.snapshot()
    g.revoked({"t": [0]})
    assert snap.epoch == 1 and tracker.epoch() == 2
    assert snap.is_assigned("g", "t", 0)
    assert snap.assignments() == {"g": {"t": (0,)}}
    assert snap.generation("g", "t", 0) == 1
    assert not tracker.is_assigned("g", "t", 0)
    assert json.loads(snap.to_json()) == {"epoch": 1, "groups": {"g": {"t": {"0": 1}}}}
    assert repr(snap) == "<kat.Snapshot epoch=1 groups=1 partitions=1>"


def test_partition_handles(tracker: kat.Tracker) -> None:
    g = tracker.group("g")
    h = g.partition("t", 4)
    assert (h.group, h.topic, h.partition) == ("g", "t", 4)
    s = h.state()
    assert (s.generation, s.status, s.is_assigned) == (0, None, False)
    g.assigned({"t": [4]})
    s = h.state()
    assert (s.generation, s.status, s.is_assigned) == (1, "assigned", True)
    assert s.owned_at(1) and h.owned_at(1) and not h.owned_at(2)
    assert h.state() is s  # unchanged state: no new object
    g.revoked({"t": [4]})
    assert h.state().status == "revoked" and not h.owned_at(1)
    g.assigned({"t": [4]})
    assert h.owned_at(2)
    tracker.clear()
    assert h.state().generation == 0 and h.state().status is None
    assert repr(h) == "<kat.PartitionHandle group='g' topic=t partition=4 generation=0 status=None>"
    assert repr(kat.PartitionState) and "status='assigned'" in repr(s)


def test_json(tracker: kat.Tracker) -> None:
    g = tracker.group("g")
    g.assigned({"t": [1]})
    g.revoked({"t": [1]})
    g.assigned({"u": [0]})
    assert json.loads(tracker.to_json()) == {"epoch": 3, "groups": {"g": {"u": {"0": 1}}}}
    assert json.loads(tracker.generations_json()) == {
        "epoch": 3,
        "groups": {
            "g": {
                "t": {"1": {"generation": 1, "status": "revoked"}},
                "u": {"0": {"generation": 1, "status": "assigned"}},
            }
        },
    }


@pytest.mark.parametrize("partition", [-1, 2**31, 2**32, 2**63, 2**64 + 1, -(2**31)])
def test_out_of_range_partitions_are_errors_and_change_nothing(
    tracker: kat.Tracker, partition: int
) -> None:
    g = tracker.group("g")
    with pytest.raises(kat.InvalidPartitionError) as e:
        g.assigned([("t", 0), ("t", partition)])
    assert e.value.element == 1
    assert isinstance(e.value, ValueError) and isinstance(e.value, kat.Error)
    assert tracker.epoch() == 0
    with pytest.raises(kat.InvalidPartitionError):
        g.is_assigned("t", partition)
    with pytest.raises(kat.InvalidPartitionError):
        tracker.generation("g", "t", partition)
    with pytest.raises(kat.InvalidPartitionError):
        g.partition("t", partition)


def test_names_are_never_truncated(tracker: kat.Tracker) -> None:
    g = tracker.group("g")
    with pytest.raises(kat.InvalidTopicError) as e:
        g.assigned([("orders", 0), ("orders\0x", 1)])
    assert e.value.element == 1 and "0x00" in str(e.value)
    with pytest.raises(kat.InvalidGroupError):
        tracker.group("g\0h")
    with pytest.raises(kat.InvalidGroupError):
        tracker.group("")
    with pytest.raises(kat.InvalidGroupError):
        tracker.group("x" * 1025)
    with pytest.raises(kat.InvalidGroupError):
        tracker.group("\udc80")
    with pytest.raises(kat.InvalidTopicError):
        g.partition("orders\0x", 0)
    g.assigned({"orders": [0]})
    assert g.is_assigned("orders", 0)
    assert not g.is_assigned("orders\0x", 0)
    assert not tracker.is_assigned("g\0", "orders", 0)
    assert not g.is_assigned("\udc80", 0)
    assert tracker.epoch() == 1


def test_malformed_lists(tracker: kat.Tracker) -> None:
    g = tracker.group("g")
    with pytest.raises(kat.InvalidListError) as e:
        g.assigned([("t", 0), ("t",)])  # type: ignore[arg-type]
    assert e.value.element == 1
    with pytest.raises(kat.InvalidListError):
        g.assigned([("t", "0")])  # type: ignore[arg-type]
    with pytest.raises(kat.InvalidListError):
        g.assigned([("t", True)])
    with pytest.raises(kat.InvalidListError):
        g.assigned([(None, 0)])  # type: ignore[arg-type]
    with pytest.raises(kat.InvalidListError):
        g.assigned({"t": "01"})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        g.assigned("t")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        g.assigned(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        g.is_assigned("t", 1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        g.is_assigned(b"t", 0)  # type: ignore[arg-type]
    assert tracker.epoch() == 0


def test_generations_topics_limit(tracker: kat.Tracker) -> None:
    assert tracker.generations_topics_limit == kat.DEFAULT_GENERATIONS_TOPICS_LIMIT
    small = kat.Tracker(generations_topics_limit=2)
    assert small.generations_topics_limit == 2
    g = small.group("g")
    for topic in ("a", "b", "c"):
        g.assigned({topic: [0]})
        g.revoked({topic: [0]})
    assert set(g.generations()) == {"b", "c"}
    with pytest.raises(kat.InvalidArgumentError):
        small.generations_topics_limit = 0
    with pytest.raises(kat.InvalidArgumentError):
        kat.Tracker(generations_topics_limit=-1)
    small.generations_topics_limit = 1
    assert set(g.generations()) == {"c"}


def test_wait_for_change_releases_the_gil(tracker: kat.Tracker) -> None:
    g = tracker.group("g")
    assert tracker.wait_for_change(0, timeout=0.05) == 0
    ticks = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    counter = threading.Thread(target=count)
    counter.start()
    result: list[int] = []
    waiter = threading.Thread(target=lambda: result.append(tracker.wait_for_change(0)))
    waiter.start()
    time.sleep(0.3)
    before = ticks
    time.sleep(0.2)
    # The waiter blocks without the GIL: the counting thread keeps running.
    assert ticks > before
    assert waiter.is_alive()
    g.assigned({"t": [0]})
    waiter.join(5)
    stop.set()
    counter.join()
    assert result == [1]
    with pytest.raises(kat.InvalidArgumentError):
        tracker.wait_for_change(0, timeout=-1)
    with pytest.raises(kat.InvalidArgumentError):
        tracker.wait_for_change(0, timeout=float("nan"))


def test_reprs(tracker: kat.Tracker) -> None:
    g = tracker.group("billing")
    g.assigned({"t": [0, 1]})
    assert repr(tracker) == "<kat.Tracker epoch=1 groups=1 partitions=2>"
    assert repr(g) == "<kat.Group 'billing'>"
    assert repr(g.stats()).startswith("GroupStats(assigned_events=1, revoked_events=0")
    assert repr(g.partition("t", 0).state()) == "PartitionState(generation=1, status='assigned')"


def test_wait_for_change_can_be_interrupted(tracker: kat.Tracker) -> None:
    import _thread

    timer = threading.Timer(0.2, _thread.interrupt_main)
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        tracker.wait_for_change(tracker.epoch())
    assert time.monotonic() - started < 5
    timer.join()


def test_readers_see_consistent_state_while_events_are_applied(tracker: kat.Tracker) -> None:
    group = tracker.group("g")
    handles = [group.partition("t", p) for p in range(8)]
    problems: list[str] = []
    stop = threading.Event()

    def read() -> None:
        last_epoch = 0
        last_generation = [0] * 8
        while not stop.is_set():
            snap = tracker.snapshot()
            if snap.epoch < last_epoch:
                problems.append(f"epoch went back {last_epoch} -> {snap.epoch}")
            last_epoch = snap.epoch
            owned = snap.assignments().get("g", {}).get("t", ())
            # Events below always assign or revoke partitions 0..3 together.
            if len(owned) not in (0, 4, 8):
                problems.append(f"half an event seen: {owned}")
            for p in owned:
                if snap.generation("g", "t", p) == 0:
                    problems.append(f"partition {p} assigned at generation 0")
            for i, h in enumerate(handles):
                s = h.state()
                if s.generation < last_generation[i]:
                    problems.append(f"handle {i} generation went back")
                if s.is_assigned and s.generation == 0:
                    problems.append(f"handle {i} assigned at generation 0")
                last_generation[i] = s.generation

    readers = [threading.Thread(target=read) for _ in range(3)]
    for r in readers:
        r.start()
    for _ in range(300):
        group.assigned({"t": [0, 1, 2, 3]})
        group.assigned({"t": [4, 5, 6, 7]})
        group.revoked({"t": [4, 5, 6, 7]})
        group.revoked({"t": [0, 1, 2, 3]})
    stop.set()
    for r in readers:
        r.join()
    assert problems == []
    assert tracker.epoch() == 1200
    assert [h.state().generation for h in handles] == [300] * 8


@pytest.mark.parametrize("value", [-1, 2**64])
def test_generations_and_epochs_outside_64_bits_are_errors(tracker: kat.Tracker, value: int) -> None:
    handle = tracker.group("g").partition("t", 0)
    with pytest.raises(OverflowError):
        handle.owned_at(value)
    with pytest.raises(OverflowError):
        handle.state().owned_at(value)
    with pytest.raises(OverflowError):
        tracker.wait_for_change(value, timeout=0)


def test_poll_marks(tracker: kat.Tracker) -> None:
    g = tracker.group("g")
    assert g.poll_count() == 0 and g.since_last_poll() is None
    epoch = tracker.epoch()
    g.mark_poll()
    g.mark_poll()
    assert g.poll_count() == 2
    since = g.since_last_poll()
    assert since is not None and 0 <= since < 5
    time.sleep(0.05)
    later = g.since_last_poll()
    assert later is not None and later >= since + 0.04
    # Marks are not events, and are shared by every Group of the name.
    assert tracker.epoch() == epoch
    assert kat.Tracker().group("g").poll_count() == 0


def test_glue_failures_are_counted_without_an_event(tracker: kat.Tracker) -> None:
    g = tracker.group("g")
    assert g.glue_failures() == 0
    g.record_glue_failure()
    g.record_glue_failure()
    assert g.glue_failures() == 2 and tracker.epoch() == 0
    tracker.clear()
    assert tracker.group("g").glue_failures() == 2
    assert kat.Tracker().group("g").glue_failures() == 0


def test_monitoring(tracker: kat.Tracker) -> None:
    g = tracker.group("billing")
    assert g.health() == ("never_joined", 0)
    g.assigned({"orders": [0, 1]})
    state, since = g.health()
    assert state == "assigned" and since > 0
    g.revoked({"orders": [0, 1]})
    assert g.health()[0] in ("standby", "rebalancing")
    g.lost()
    history = json.loads(g.history_json())
    assert history
    text = tracker.metrics()
    assert 'group="billing"' in text or "billing" in text
    assert text.startswith("#") and "# EOF" not in text
    assert tracker.metrics("openmetrics").rstrip().endswith("# EOF")
    with pytest.raises(kat.InvalidArgumentError):
        tracker.metrics("json")  # type: ignore[arg-type]
    assert g.stall_after() is None
    g.set_stall_after(0.01)
    assert g.stall_after() == pytest.approx(0.01)
    g.assigned({"orders": [0]})
    g.mark_poll()
    time.sleep(0.05)
    assert g.health()[0] == "stalled"
    g.set_stall_after(None)
    assert g.health()[0] == "assigned"
    with pytest.raises(kat.InvalidArgumentError):
        g.set_stall_after(-1)


def _in_child(body: "typing.Callable[[], int]", timeout: float = 20.0) -> int:
    """Forks; the child runs ``body`` and ``os._exit``s with its result (3
    on an exception). The parent kills a child still running after
    ``timeout`` seconds (a hang) and fails."""
    pid = os.fork()
    if pid == 0:
        try:
            code = body()
        except BaseException:
            code = 3
        os._exit(code)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            assert os.WIFEXITED(status), status
            return os.WEXITSTATUS(status)
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    pytest.fail(f"the forked child hung (killed after {timeout} s)")


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork()")
def test_a_forked_child_applies_its_event_or_gets_forked_error_and_never_hangs(
    tracker: kat.Tracker,
) -> None:
    g = tracker.group("busy")
    stop = threading.Event()

    def writer() -> None:
        i = 0
        while not stop.is_set():
            g.assigned({"orders": [i % 64]})
            g.revoked({"orders": [i % 64]})
            i += 1

    def child() -> int:
        epoch = tracker.epoch()
        try:
            g.assigned({"child": [7]})
        except kat.ForkedError as e:
            assert "forked" in str(e)
            assert tracker.epoch() == epoch
            with pytest.raises(kat.ForkedError):
                g.lost()
            with pytest.raises(kat.ForkedError):
                tracker.clear()
            return 1
        return 0 if g.generation("child", 7) == 1 else 2

    # No event in flight: the child works as any process.
    assert _in_child(child) == 0
    t = threading.Thread(target=writer)
    t.start()
    try:
        for _ in range(10):
            time.sleep(0.003)
            assert _in_child(child) in (0, 1)
    finally:
        stop.set()
        t.join()
    assert issubclass(kat.ForkedError, kat.Error)
    assert g.generation("child", 7) == 0
