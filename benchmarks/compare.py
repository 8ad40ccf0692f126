#!/usr/bin/env python3
"""Compares the same benchmark rows in two builds of slab_cache_bench, run alternately.

Usage: compare.py [--rounds N] [--min-time S] --filter REGEX OLD_BINARY NEW_BINARY

On a shared machine the speed drifts by more than the differences worth finding, so the two
binaries take turns (old, new, then new, old, and so on) for N rounds, each run covering every
row the filter selects. Each cell is the median ns per operation over the rounds (1e9 /
items_per_second); the last column is new / old, so 1.05 means the new build is 5% slower.
"""
import argparse
import json
import statistics
import subprocess


def run(binary, pattern, min_time):
    output = subprocess.run(
        [binary, f"--benchmark_filter={pattern}", f"--benchmark_min_time={min_time}",
         "--benchmark_format=json"],
        check=True, capture_output=True, text=True).stdout
    return {row["name"]: 1e9 / row["items_per_second"]
            for row in json.loads(output)["benchmarks"] if "items_per_second" in row}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--min-time", default="0.2")
    parser.add_argument("--filter", required=True)
    parser.add_argument("old")
    parser.add_argument("new")
    args = parser.parse_args()

    samples = {"old": {}, "new": {}}
    for round_index in range(args.rounds):
        order = ("old", "new") if round_index % 2 == 0 else ("new", "old")
        for which in order:
            binary = args.old if which == "old" else args.new
            for name, ns in run(binary, args.filter, args.min_time).items():
                samples[which].setdefault(name, []).append(ns)

    print(f"Medians of {args.rounds} alternating rounds:\n")
    print("| row | old ns/op | new ns/op | new / old |")
    print("|---|---:|---:|---:|")
    for name in samples["old"]:
        if name not in samples["new"]:
            continue
        old = statistics.median(samples["old"][name])
        new = statistics.median(samples["new"][name])
        print(f"| {name} | {old:.2f} | {new:.2f} | {new / old:.3f} |")


if __name__ == "__main__":
    main()
