#!/usr/bin/env python3
"""Turns slab_cache_bench's JSON output into the README's markdown table.

Usage: report.py bench.json

Each cell is ns per operation (1e9 / items_per_second, from the median when the run had
repetitions) and its ratio to the no-lock free list, the physical limit. The multi-threaded
rows have no unlocked baseline, so they are compared with the test-and-set locked free list.
"""
import json
import re
import sys

CANDIDATES = [
    "slab_cache_box_no_lock", "slab_cache_box_spin_lock", "slab_cache_raw_no_lock",
    "slab_cache_raw_spin_lock", "glibc_malloc", "new_delete", "mimalloc",
    "free_list_no_lock", "free_list_tas_lock",
]
WORKLOADS = [
    "hot", "batch_fifo_steady", "batch_lifo_steady", "batch_random_steady", "batch_fifo_cold",
    "batch_lifo_cold", "batch_random_cold", "churn", "two_threads", "producer_consumer",
]
NAME = re.compile(r"^BM_(?P<subject>.+?)_(?P<workload>" + "|".join(WORKLOADS) +
                  r")/(?P<bytes>\d+)(?:/[a-z_]+(?::\d+)?)*$")


def main(path):
    with open(path) as f:
        runs = json.load(f)["benchmarks"]
    ns = {}
    for run in runs:
        if run.get("aggregate_name", "median") != "median" or "items_per_second" not in run:
            continue
        match = NAME.match(run["run_name"])
        if match:
            key = (match["workload"], int(match["bytes"]), match["subject"])
            ns[key] = 1e9 / run["items_per_second"]
    print("| workload | bytes | " + " | ".join(CANDIDATES) + " |")
    print("|---|---:|" + "---:|" * len(CANDIDATES))
    for workload in WORKLOADS:
        base = "free_list_tas_lock" if workload in ("two_threads", "producer_consumer") \
            else "free_list_no_lock"
        for size in (16, 64, 256):
            reference = ns.get((workload, size, base))
            cells = []
            for candidate in CANDIDATES:
                value = ns.get((workload, size, candidate))
                if value is None:
                    cells.append("n/a")
                elif reference:
                    cells.append(f"{value:.2f} ({value / reference:.1f}x)")
                else:
                    cells.append(f"{value:.2f}")
            print(f"| {workload} | {size} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1])
