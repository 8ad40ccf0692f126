#!/usr/bin/env python3
"""Turns slab_cache_bench's JSON output into the README's markdown tables and target list.

Usage: report.py bench.json

Each cell is ns per operation (1e9 / items_per_second, from the median when the run had
repetitions) and its ratio to the no-lock free list, the physical limit. The multi-threaded
rows have no unlocked baseline, so they are compared with the test-and-set locked free list;
their ns per operation is the throughput of all threads together (real time).

It prints three things: the single-threaded table (every candidate), the multi-threaded table
(the thread-safe candidates) and issue 10's targets for the per_thread cache, each with the
numbers it was judged on and "met" or "not met". A row missing from the run prints "n/a", and
a target that needs it says so.
"""
import json
import re
import sys

CANDIDATES = [
    "slab_cache_box_no_lock", "slab_cache_box_spin_lock", "slab_cache_box_per_thread",
    "slab_cache_box_per_cpu", "slab_cache_raw_no_lock", "slab_cache_raw_spin_lock",
    "slab_cache_raw_per_thread", "slab_cache_raw_per_cpu", "glibc_malloc", "new_delete",
    "mimalloc", "free_list_no_lock", "free_list_tas_lock",
]
THREAD_SAFE = [c for c in CANDIDATES if not c.endswith("no_lock")]
SINGLE_THREADED = [
    "hot", "batch_fifo_steady", "batch_lifo_steady", "batch_random_steady", "batch_fifo_cold",
    "batch_lifo_cold", "batch_random_cold", "churn",
]
MULTI_THREADED = ["two_threads", "eight_threads", "producer_consumer"]
WORKLOADS = SINGLE_THREADED + MULTI_THREADED
SIZES = (16, 64, 256)
NAME = re.compile(r"^BM_(?P<subject>.+?)_(?P<workload>" + "|".join(WORKLOADS) +
                  r")/(?P<bytes>\d+)(?:/[a-z_]+(?::\d+)?)*$")


def load(path):
    with open(path) as f:
        runs = json.load(f)["benchmarks"]
    ns = {}
    for run in runs:
        if run.get("aggregate_name", "median") != "median" or "items_per_second" not in run:
            continue
        if run.get("error_occurred"):
            continue
        match = NAME.match(run["run_name"])
        if match:
            key = (match["workload"], int(match["bytes"]), match["subject"])
            ns[key] = 1e9 / run["items_per_second"]
    return ns


def table(ns, workloads, candidates):
    print("| workload | bytes | " + " | ".join(candidates) + " |")
    print("|---|---:|" + "---:|" * len(candidates))
    for workload in workloads:
        base = "free_list_no_lock" if workload in SINGLE_THREADED else "free_list_tas_lock"
        for size in SIZES:
            reference = ns.get((workload, size, base))
            cells = []
            for candidate in candidates:
                value = ns.get((workload, size, candidate))
                if value is None:
                    cells.append("n/a")
                elif reference:
                    cells.append(f"{value:.2f} ({value / reference:.1f}x)")
                else:
                    cells.append(f"{value:.2f}")
            if all(cell == "n/a" for cell in cells):
                continue
            print(f"| {workload} | {size} | " + " | ".join(cells) + " |")


def targets(ns, size=64):
    """Issue 10's targets for slab_cache_box_per_thread at `size` bytes."""

    def get(workload, subject):
        return ns.get((workload, size, subject))

    subject = "slab_cache_box_per_thread"
    hot = get("hot", subject)
    two = get("two_threads", subject)
    eight = get("eight_threads", subject)
    handoff = get("producer_consumer", subject)
    rows = []

    def row(target, checks, detail):
        if any(value is None for value in checks.values()):
            rows.append((target, "n/a", "rows missing: " + ", ".join(
                name for name, value in checks.items() if value is None)))
            return
        rows.append((target, "**met**" if all(detail[1]) else "not met", detail[0]))

    glibc_hot, mi_hot = get("hot", "glibc_malloc"), get("hot", "mimalloc")
    free_hot = get("hot", "free_list_no_lock")
    checks = {"hot per_thread": hot, "hot glibc": glibc_hot, "hot mimalloc": mi_hot,
              "hot free list": free_hot}
    if None not in checks.values():
        detail = (f"{hot:.2f} ns vs glibc {glibc_hot:.2f} ({hot / glibc_hot:.2f}x) and "
                  f"mimalloc {mi_hot:.2f} ({hot / mi_hot:.2f}x); "
                  f"{hot / free_hot:.1f}x the no-lock free list ({free_hot:.2f})",
                  [hot <= glibc_hot * 2 / 3, hot <= mi_hot * 2 / 3])
    else:
        detail = None
    row("hot, box: at most 2/3 of glibc's and mimalloc's time", checks, detail)

    glibc_two, mi_two = get("two_threads", "glibc_malloc"), get("two_threads", "mimalloc")
    checks = {"two_threads per_thread": two, "hot per_thread": hot,
              "two_threads glibc": glibc_two, "two_threads mimalloc": mi_two}
    if None not in checks.values():
        detail = (f"{two:.2f} ns = {two / hot:.2f}x its hot {hot:.2f}; glibc {glibc_two:.2f}, "
                  f"mimalloc {mi_two:.2f}",
                  [two <= 1.5 * hot, two < glibc_two, two < mi_two])
    else:
        detail = None
    row("two threads, one cache: at most 1.5x its hot, faster than glibc and mimalloc",
        checks, detail)

    glibc_pc = get("producer_consumer", "glibc_malloc")
    mi_pc = get("producer_consumer", "mimalloc")
    checks = {"producer_consumer per_thread": handoff, "producer_consumer glibc": glibc_pc,
              "producer_consumer mimalloc": mi_pc}
    if None not in checks.values():
        detail = (f"{handoff:.2f} ns vs glibc {glibc_pc:.2f} and mimalloc {mi_pc:.2f}",
                  [handoff < glibc_pc, handoff < mi_pc])
    else:
        detail = None
    row("producer/consumer: faster than glibc and mimalloc", checks, detail)

    checks = {"eight_threads per_thread": eight, "two_threads per_thread": two}
    if None not in checks.values():
        detail = (f"{eight:.2f} ns vs {two:.2f} ns for two threads ({eight / two:.2f}x)",
                  [eight <= 2 * two])
    else:
        detail = None
    row("eight threads, one cache: per-op cost at most 2x two threads", checks, detail)

    print(f"| issue 10 target ({size}-byte objects, `per_thread` box) | met? | numbers |")
    print("|---|---|---|")
    for target, verdict, numbers in rows:
        print(f"| {target} | {verdict} | {numbers} |")


def main(path):
    ns = load(path)
    print("Single-threaded workloads:\n")
    table(ns, SINGLE_THREADED, CANDIDATES)
    print("\nMulti-threaded workloads:\n")
    table(ns, MULTI_THREADED, THREAD_SAFE)
    print()
    targets(ns)


if __name__ == "__main__":
    main(sys.argv[1])
