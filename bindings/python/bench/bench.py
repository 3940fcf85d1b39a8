"""Python read costs of kat next to confluent-kafka's consumer.assignment().

Run from an environment where the package and confluent-kafka are installed:

    python bindings/python/bench/bench.py            # prints, and writes BENCHMARKS.md's Python section
    python bindings/python/bench/bench.py --no-write # prints only

A real consumer (confluent-kafka on librdkafka's mock cluster, subscribed
through kat.confluent) owns 9 partitions; every read is timed with timeit,
best of several short repeats (the machine is shared: the minimum is the
least disturbed figure; the median is shown beside it).
"""

from __future__ import annotations

import argparse
import ctypes
import datetime
import os
import platform
import re
import statistics
import sys
import time
import timeit
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

import confluent_kafka  # noqa: E402
from confluent_kafka import Consumer  # noqa: E402

import kat  # noqa: E402
from kat import confluent as kc  # noqa: E402
from mockcluster import MockCluster  # noqa: E402

BEGIN, END = "<!-- python:begin -->", "<!-- python:end -->"


def measure(stmt: str, env: Dict[str, Any], number: int, repeat: int) -> Tuple[float, float]:
    timer = timeit.Timer(stmt, globals=env)
    runs = [t / number * 1e9 for t in timer.repeat(repeat=repeat, number=number)]
    return min(runs), statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--number", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--libkat",
        default=os.environ.get("KAT_LIBRARY", str(HERE.parents[2] / "target" / "release" / "libkat.so")),
        help="libkat.so for the ctypes peer (skipped if absent; `cargo build --release --lib` builds it)",
    )
    args = parser.parse_args()

    cluster = MockCluster()
    cluster.create_topic("orders", 6)
    cluster.create_topic("payments", 3)
    config = {
        "bootstrap.servers": cluster.bootstrap_servers,
        "group.id": "bench",
        "group.protocol": "consumer",
        "log_level": 3,
    }
    consumer = Consumer(config)
    tracker = kat.tracker()
    group = kc.subscribe(consumer, config, ["orders", "payments"], group="bench")
    deadline = time.monotonic() + 30
    while len(consumer.assignment()) < 9:
        if time.monotonic() > deadline:
            raise SystemExit("the consumer was never assigned its 9 partitions")
        consumer.poll(0.05)
    assert group.is_assigned("orders", 3)
    handle = group.partition("orders", 3)
    env: Dict[str, Any] = dict(
        consumer=consumer, tracker=tracker, group=group, handle=handle, owned={("orders", 3)}
    )

    rows: List[Tuple[str, str, Optional[float], float, float]] = []

    def row(label: str, stmt: str, target: Optional[float] = None, number: Optional[int] = None) -> None:
        best, median = measure(stmt, env, number or args.number, args.repeat)
        rows.append((label, stmt, target, best, median))
        print(f"{label:58s} {best:9.1f} ns  (median {median:.1f})", flush=True)

    row("empty loop (timeit overhead, included in every row)", "pass")
    row("`consumer.assignment()` (confluent-kafka)", "consumer.assignment()", number=20_000)
    row("`tracker.is_assigned(group, topic, p)` by name", "tracker.is_assigned('bench', 'orders', 3)", 80)
    row("`group.is_assigned(topic, p)` by name", "group.is_assigned('orders', 3)", 80)
    row("`group.generation(topic, p)`", "group.generation('orders', 3)")
    row("`handle.state()`", "handle.state()", 50)
    row("`handle.owned_at(generation)`", "handle.owned_at(1)", 50)
    row("`handle.token()` (a `FencingToken`)", "handle.token()")
    row("`with handle.lease(generation): pass` (acquire + release)", "with handle.lease(1): pass")
    row("`group.mark_poll()`", "group.mark_poll()")
    row("`tracker.assignments()` repeated, no change", "tracker.assignments()", 100)
    row("`group.assignments()` repeated, no change", "group.assignments()", 100)
    row("`tracker.epoch()`", "tracker.epoch()")
    row("peer: `(topic, p) in a_python_set`", "('orders', 3) in owned")
    libkat = Path(args.libkat)
    if libkat.exists():
        lib = ctypes.CDLL(str(libkat))
        lib.kat_tracker_new.restype = ctypes.c_void_p
        lib.kat_tracker_is_assigned.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_bool)
        ]
        lib.kat_tracker_is_assigned.restype = ctypes.c_int
        lib.kat_tracker_free.argtypes = [ctypes.c_void_p]
        c_tracker = lib.kat_tracker_new()
        env.update(lib=lib, c_tracker=c_tracker, out=ctypes.c_bool(), byref=ctypes.byref)
        row(
            "peer: `kat_tracker_is_assigned` through `ctypes` (libkat's C ABI)",
            "lib.kat_tracker_is_assigned(c_tracker, b'bench', b'orders', 3, byref(out))",
        )
        lib.kat_tracker_free(c_tracker)
    consumer.close()
    cluster.close()

    lines = [
        BEGIN,
        "## Python (bindings/python)",
        "",
        "Generated by `bindings/python/bench/bench.py`; do not edit by hand.",
        "",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), "
        f"confluent-kafka {confluent_kafka.__version__} (librdkafka {confluent_kafka.libversion()[0]}), "
        f"{os.cpu_count()} cores (shared)",
        f"- Date: {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"- Method: `timeit`, {args.repeat} repeats of {args.number} calls "
        "(20 000 for `consumer.assignment()`), ns per call including the loop; "
        "best of the repeats, median beside it. The consumer is a real confluent-kafka "
        "consumer (KIP-848 group on librdkafka's mock cluster) owning 9 partitions, "
        "subscribed through `kat.confluent.subscribe`.",
        "",
        "| read | ns/call (best) | median | target | |",
        "|---|---:|---:|---:|---|",
    ]
    for label, _stmt, target, best, median in rows:
        verdict = "" if target is None else ("met" if best <= target else "**missed**")
        lines.append(
            f"| {label} | {best:.1f} | {median:.1f} | {'' if target is None else f'≤ {target:.0f}'} | {verdict} |"
        )
    assignment = next(r for r in rows if r[1] == "consumer.assignment()")[3]
    by_name = next(r for r in rows if r[1].startswith("group.is_assigned"))[3]
    lines += [
        "",
        "The `ctypes` peer is what a Python user could do without this package: one call "
        "into libkat's C ABI (on an empty tracker, so the figure is the call itself); "
        "a read by name through the native module costs a fraction of it.",
        "",
        f"`consumer.assignment()` is a round trip to librdkafka's main thread; "
        f"`group.is_assigned` by name is {assignment / by_name:.0f}× cheaper and never blocks.",
        END,
    ]
    section = "\n".join(lines)
    print(section)
    if not args.no_write:
        path = HERE.parents[2] / "BENCHMARKS.md"
        text = path.read_text() if path.exists() else ""
        if BEGIN in text:
            text = re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: section, text, flags=re.S)
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
        path.write_text(text)
        print(f"written to {path}")


if __name__ == "__main__":
    main()
