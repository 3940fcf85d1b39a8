"""Misuses the stubs must reject (each line marked with the error mypy reports)."""

import kat

tracker = kat.tracker()
group = tracker.group("billing")
group.is_assigned("orders", "0")  # E: arg-type
tracker.is_assigned("billing", "orders")  # E: call-arg
group.assigned(5)  # E: arg-type
epoch: str = tracker.epoch()  # E: assignment
group.partition("orders", 0).state().generation = 2  # E: misc
tracker.assignments()["billing"] = {}  # E: index
tracker.wait_for_change(0, timeout="1")  # E: arg-type
