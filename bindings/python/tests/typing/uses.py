"""Typical uses of kat's API: mypy --strict must accept all of it."""

from __future__ import annotations

from typing import Mapping, Optional, Tuple

import kat


def owned(tracker: kat.Tracker, group: str) -> Mapping[str, Tuple[int, ...]]:
    return tracker.assignments().get(group, {})


def fence(handle: kat.PartitionHandle, generation: int) -> bool:
    state: kat.PartitionState = handle.state()
    status: Optional[kat.Status] = state.status
    return status == "assigned" and handle.owned_at(generation)


def main() -> None:
    tracker = kat.tracker()
    group: kat.Group = tracker.group("billing")
    group.assigned({"orders": [0, 1]})
    group.revoked([("orders", 1)])
    changed: bool = group.replace({"orders": range(4)})
    epoch: int = tracker.wait_for_change(tracker.epoch(), timeout=0.0)
    generation: int = tracker.generation("billing", "orders", 0)
    snap: kat.Snapshot = tracker.snapshot()
    gens = group.generations()
    first: kat.PartitionState = gens["orders"][0]
    stats: kat.GroupStats = group.stats()
    tracker.generations_topics_limit = 10
    try:
        group.assigned([("orders", -1)])
    except kat.InvalidPartitionError as e:
        element: Optional[int] = e.element
        print(element)
    print(changed, epoch, generation, snap.epoch, first.generation, stats.lost_events,
          owned(tracker, "billing"), fence(group.partition("orders", 0), 1), snap.to_json())


def ownership(group: kat.Group) -> Optional[int]:
    group.set_poll_deadline(300.0, margin=1.0)
    group.set_drain_timeout(5.0)
    polls: kat.PollStats = group.poll_stats()
    drains: kat.DrainStats = group.drain_stats()
    handle = group.partition("orders", 0)
    token: Optional[kat.FencingToken] = handle.token()
    if token is None:
        return None
    try:
        with handle.lease(token.generation) as lease:
            if lease.valid():
                print(token.broker_generation, token.member_id, polls.expirations, drains.timeouts)
    except kat.NotOwnedError as e:
        print(e)
    ended: bool = handle.wait_not_owned(token.generation, timeout=1.0)
    left: Optional[int] = group.drain({"orders": [0]})
    print(ended)
    return left
