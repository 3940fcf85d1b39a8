"""Ownership that ends on time: fencing tokens, leases, waits on a handle,
the poll deadline and the drain barrier."""

from __future__ import annotations

import threading
import time

import pytest

import kat


@pytest.fixture
def tracker() -> kat.Tracker:
    return kat.Tracker()


def test_token_is_a_frozen_value_read_while_owned(tracker: kat.Tracker) -> None:
    g = tracker.group("g")
    h = g.partition("t", 0)
    assert h.token() is None
    g.assigned({"t": [0]})
    g.record_broker_generation(7, "member-1")
    token = h.token()
    assert isinstance(token, kat.FencingToken)
    assert (token.generation, token.broker_generation, token.member_id) == (1, 7, "member-1")
    assert g.broker_generation() == 7 and g.member_id() == "member-1"
    assert repr(token) == "FencingToken(generation=1, broker_generation=7, member_id='member-1')"
    with pytest.raises(AttributeError):
        token.generation = 2  # type: ignore[misc]
    assert hash(token) == hash(h.token()) and token == h.token()
    g.revoked({"t": [0]})
    assert h.token() is None
    g.assigned({"t": [0]})
    again = h.token()
    assert again is not None and again.generation == 2 and again != token


def test_lease_is_a_context_manager_and_fails_when_not_owned(tracker: kat.Tracker) -> None:
    g = tracker.group("g")
    h = g.partition("t", 0)
    with pytest.raises(kat.NotOwnedError):
        h.lease(0)
    g.assigned({"t": [0]})
    with pytest.raises(kat.NotOwnedError) as info:
        h.lease(2)
    assert "not owned at generation 2" in str(info.value)
    assert h.leases_held() == 0
    with h.lease(1) as lease:
        assert lease.generation == 1 and lease.held and lease.valid()
        assert h.leases_held() == 1
    assert not lease.held and not lease.valid()
    assert h.leases_held() == 0
    assert lease.release() is False
    # Released when an exception leaves the block too (and not swallowed).
    with pytest.raises(RuntimeError):
        with h.lease(1):
            raise RuntimeError("job failed")
    assert h.leases_held() == 0
    # Released when the object goes away.
    kept = h.lease(1)
    assert h.leases_held() == 1
    del kept
    assert h.leases_held() == 0
    # After a revoke: the held lease is no longer valid, new ones fail.
    held = h.lease(1)
    g.revoked({"t": [0]})
    assert held.held and not held.valid()
    with pytest.raises(kat.NotOwnedError):
        h.lease(1)
    assert held.release() and h.leases_held() == 0
    # A loss invalidates too; reassigned at generation 2, leases at 1 fail.
    g.assigned({"t": [0]})
    held = h.lease(2)
    g.lost()
    assert not held.valid()
    held.release()
    g.assigned({"t": [0]})
    with pytest.raises(kat.NotOwnedError):
        h.lease(2)
    with h.lease(3) as lease:
        assert lease.valid()
    assert "held=False" in repr(lease)


def test_wait_not_owned_returns_on_revoke_from_another_thread_without_the_gil(
    tracker: kat.Tracker,
) -> None:
    g = tracker.group("g")
    g.assigned({"t": [0]})
    h = g.partition("t", 0)
    # Not owned at another generation: returns at once.
    assert h.wait_not_owned(5, timeout=10) is True
    # Owned: times out.
    started = time.monotonic()
    assert h.wait_not_owned(1, timeout=0.2) is False
    assert time.monotonic() - started >= 0.19
    # Other events do not end the wait.
    ticks = 0
    stop = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not stop.is_set():
            ticks += 1

    counter = threading.Thread(target=count)
    counter.start()
    result: list[bool] = []
    waiter = threading.Thread(target=lambda: result.append(h.wait_not_owned(1)))
    waiter.start()
    time.sleep(0.2)
    g.assigned({"t": [1]})
    time.sleep(0.2)
    before = ticks
    time.sleep(0.2)
    assert ticks > before  # the waiter blocks without the GIL
    assert waiter.is_alive() and result == []
    g.revoked({"t": [0]})
    waiter.join(5)
    stop.set()
    counter.join()
    assert result == [True]
    with pytest.raises(kat.InvalidArgumentError):
        h.wait_not_owned(1, timeout=-1)


def test_wait_not_owned_can_be_interrupted(tracker: kat.Tracker) -> None:
    import _thread

    g = tracker.group("g")
    g.assigned({"t": [0]})
    h = g.partition("t", 0)
    timer = threading.Timer(0.2, _thread.interrupt_main)
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        h.wait_not_owned(1)
    assert time.monotonic() - started < 5
    timer.join()


def test_poll_deadline_expires_the_group_with_no_call_from_this_thread(
    tracker: kat.Tracker,
) -> None:
    g = tracker.group("g")
    g.assigned({"t": [0, 1]})
    h = g.partition("t", 0)
    assert g.poll_stats().deadline is None
    with pytest.raises(kat.InvalidArgumentError):
        g.set_poll_deadline(0.2, margin=0.2)
    with pytest.raises(kat.InvalidArgumentError):
        g.set_poll_deadline(-1)
    g.mark_poll()
    marked = time.monotonic()
    g.set_poll_deadline(0.4, margin=0.1)
    stats = g.poll_stats()
    assert stats.deadline == pytest.approx(0.3)
    assert stats.polls == 1 and stats.expirations == 0
    # Polls keep it owned.
    for _ in range(5):
        time.sleep(0.1)
        g.mark_poll()
    assert h.owned_at(1)
    marked = time.monotonic()
    # Then the loop stops: kat's timer expires the group; this thread only
    # waits (the wait is a read, not a poll mark).
    assert h.wait_not_owned(1, timeout=5)
    seen = time.monotonic()
    assert seen - marked >= 0.29
    assert h.state() == g.partition("t", 0).state()
    assert h.state().status == "lost" and not g.is_assigned("t", 1)
    stats = g.poll_stats()
    assert stats.expirations == 1
    assert stats.last_expiry_delay is not None and stats.last_expiry_delay >= 0
    assert g.stats().lost_events == 1
    # Disarmed with 0: no more expiries.
    g.set_poll_deadline(0)
    assert g.poll_stats().deadline is None
    g.assigned({"t": [0]})
    time.sleep(0.5)
    assert g.is_assigned("t", 0)


def test_drain_waits_for_leases(tracker: kat.Tracker) -> None:
    g = tracker.group("g")
    g.assigned({"t": [0, 1]})
    h = g.partition("t", 0)
    assert g.drain({"t": [0]}) is None  # off by default: nothing recorded
    assert g.is_assigned("t", 0)
    g.set_drain_timeout(5)
    assert g.drain_stats().timeout == 5
    lease = h.lease(1)
    released_at: list[float] = []

    def worker() -> None:
        time.sleep(0.3)
        assert lease.valid()  # still valid while the drain runs
        released_at.append(time.monotonic())
        lease.release()

    t = threading.Thread(target=worker)
    t.start()
    assert g.drain({"t": [0]}) == 0
    drained_at = time.monotonic()
    t.join()
    assert released_at and drained_at >= released_at[0]
    assert not g.is_assigned("t", 0) and g.is_assigned("t", 1)
    # At the timeout: the held lease is reported and no longer valid.
    g.set_drain_timeout(0.1)
    h1 = g.partition("t", 1)
    with h1.lease(1) as held:
        assert g.drain([("t", 1)]) == 1
        assert not held.valid()
    s = g.drain_stats()
    assert (s.drains, s.timeouts, s.last_held, s.held_total) == (2, 1, 1, 1)
    g.set_drain_timeout(None)
    assert g.drain_stats().timeout is None
    g.set_drain_timeout(1)
    with pytest.raises(kat.InvalidTopicError):
        g.drain([("bad topic", 0)])
    assert g.drain_stats().drains == 2
