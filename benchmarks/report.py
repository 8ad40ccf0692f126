#!/usr/bin/env python3
"""Turns a benchmark run's JSON output into the README's markdown tables and charts.

Usage: report.py <bench.json | table.md> [--chart <image.png>]

With slab_cache_bench's output it prints the main performance table: each cell is ns per
operation (1e9 / items_per_second, from the median when the run had repetitions) and its ratio
to the no-lock free list, the physical limit; the multi-threaded rows have no unlocked baseline,
so they are compared with the test-and-set locked free list.

With containers_bench's output it prints the container table, each cell in ns per operation and
its ratio to std::allocator, and then the targets of issue 12, each marked met or not.

--chart also draws the table as bars, one panel per workload, into the given PNG (needs
matplotlib; Debian: python3-matplotlib, which Debian's /usr/bin/python3 sees).

Instead of JSON it also reads a markdown table that it printed before (any text file whose table
rows it recognises, such as README.md), so that a chart can be redrawn for a table already
published without running the benchmarks again.
"""
import argparse
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
SIZES = (16, 64, 256)
NAME = re.compile(r"^BM_(?P<subject>.+?)_(?P<workload>" + "|".join(WORKLOADS) +
                  r")/(?P<bytes>\d+)(?:/[a-z_]+(?::\d+)?)*$")

CONTAINER_CANDIDATES = [
    "std_allocator", "slab_allocator", "slab_allocator_no_lock", "unsynchronized_pool_resource",
    "synchronized_pool_resource", "slab_resource", "fast_pool_allocator",
]
CONTAINER_WORKLOADS = ["map_churn", "list_push_pop", "unordered_map_churn"]
CONTAINER_NAME = re.compile(r"^BM_(?P<subject>" + "|".join(CONTAINER_CANDIDATES) + r")_(?P<workload>" +
                            "|".join(CONTAINER_WORKLOADS) + r")$")
# Issue 12's targets: (candidate, must be faster than this one).
CONTAINER_TARGETS = [
    ("slab_allocator", "std_allocator"),
    ("slab_allocator", "fast_pool_allocator"),
    ("slab_resource", "synchronized_pool_resource"),
]


def markdown_medians(text):
    """Reads back the tables this script prints: {run_name: ns per operation}."""
    ns = {}
    columns = None
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 2:
            columns = None
            continue
        if cells[0] == "workload":
            columns = cells
            continue
        if columns is None or len(cells) != len(columns):
            continue
        sized = columns[1] == "bytes"
        first = 2 if sized else 1
        for candidate, value in zip(columns[first:], cells[first:]):
            number = re.match(r"^([0-9.]+)", value)
            if number:
                name = f"BM_{candidate}_{cells[0]}" + (f"/{cells[1]}" if sized else "")
                ns[name] = float(number[1])
    return ns


def medians(path):
    """Returns {run_name: ns per operation} for the median (or only) run of each benchmark."""
    with open(path) as f:
        text = f.read()
    if not text.lstrip().startswith("{"):
        return markdown_medians(text)
    runs = json.loads(text)["benchmarks"]
    ns = {}
    for run in runs:
        if run.get("aggregate_name", "median") != "median" or "items_per_second" not in run:
            continue
        ns[run["run_name"]] = 1e9 / run["items_per_second"]
    return ns


def cell(value, reference):
    if value is None:
        return "n/a"
    if reference:
        return f"{value:.2f} ({value / reference:.1f}x)"
    return f"{value:.2f}"


def slab_cache_report(ns):
    """Prints the main table; returns {workload: {size: {candidate: ns}}} for the chart."""
    table = {}
    for name, value in ns.items():
        match = NAME.match(name)
        if match:
            table.setdefault(match["workload"], {}).setdefault(int(match["bytes"]), {})[
                match["subject"]] = value
    print("| workload | bytes | " + " | ".join(CANDIDATES) + " |")
    print("|---|---:|" + "---:|" * len(CANDIDATES))
    for workload in WORKLOADS:
        base = "free_list_tas_lock" if workload in ("two_threads", "producer_consumer") \
            else "free_list_no_lock"
        for size in SIZES:
            row = table.get(workload, {}).get(size, {})
            cells = [cell(row.get(candidate), row.get(base)) for candidate in CANDIDATES]
            print(f"| {workload} | {size} | " + " | ".join(cells) + " |")
    return table


def container_report(ns):
    """Prints the container table and the targets; returns {workload: {candidate: ns}}."""
    table = {}
    for name, value in ns.items():
        match = CONTAINER_NAME.match(name)
        if match:
            table.setdefault(match["workload"], {})[match["subject"]] = value
    print("| workload | " + " | ".join(CONTAINER_CANDIDATES) + " |")
    print("|---|" + "---:|" * len(CONTAINER_CANDIDATES))
    for workload in CONTAINER_WORKLOADS:
        row = table.get(workload, {})
        cells = [cell(row.get(candidate), row.get("std_allocator"))
                 for candidate in CONTAINER_CANDIDATES]
        print(f"| {workload} | " + " | ".join(cells) + " |")
    print()
    print("| target | workload | ns/op | met? |")
    print("|---|---|---:|---|")
    for candidate, rival in CONTAINER_TARGETS:
        for workload in CONTAINER_WORKLOADS:
            row = table.get(workload, {})
            mine, theirs = row.get(candidate), row.get(rival)
            if mine is None or theirs is None:
                verdict, numbers = "not measured", "n/a"
            else:
                verdict = "**yes**" if mine < theirs else "no"
                numbers = f"{mine:.2f} vs {theirs:.2f} ({mine / theirs:.2f}x)"
            print(f"| `{candidate}` faster than `{rival}` | {workload} | {numbers} | {verdict} |")
    return table


def pyplot():
    try:
        import matplotlib
    except ImportError:
        sys.exit("report.py: --chart needs matplotlib; on Debian install python3-matplotlib and "
                 "run this script with /usr/bin/python3 if another python3 comes first on PATH")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def bars(axes, groups, series, values, log, labels=False):
    """Draws one panel: for each group on the x axis, one bar per series, optionally labelled."""
    width = 0.8 / len(series)
    for index, name in enumerate(series):
        heights = [values(group, name) for group in groups]
        positions = [g + (index - (len(series) - 1) / 2) * width for g in range(len(groups))]
        drawn = axes.bar(positions, [h if h is not None else 0 for h in heights], width,
                         label=name, color=f"C{index}")
        if labels:
            axes.bar_label(drawn, labels=[f"{h:.1f}" if h is not None else "" for h in heights],
                           fontsize=7)
    axes.set_xticks(range(len(groups)))
    if log:
        axes.set_yscale("log")
    axes.grid(axis="y", alpha=0.3)


def slab_cache_chart(table, path):
    plt = pyplot()
    figure, panels = plt.subplots(5, 2, figsize=(13, 17))
    for axes, workload in zip(panels.flat, WORKLOADS):
        rows = table.get(workload, {})
        bars(axes, SIZES, CANDIDATES, lambda size, name: rows.get(size, {}).get(name), log=True)
        axes.set_xticklabels([f"{size} bytes" for size in SIZES])
        axes.set_title(workload)
        axes.set_ylabel("ns per operation (log)")
    handles, labels = panels.flat[0].get_legend_handles_labels()
    figure.suptitle("slab_cache_bench: ns per operation, lower is better", y=0.995)
    figure.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.98), ncol=3,
                  frameon=False)
    figure.tight_layout(rect=(0, 0, 1, 0.93))
    figure.savefig(path, dpi=80, metadata={"Software": None})


def container_chart(table, path):
    plt = pyplot()
    figure, panels = plt.subplots(1, len(CONTAINER_WORKLOADS), figsize=(15, 5.5))
    for axes, workload in zip(panels, CONTAINER_WORKLOADS):
        row = table.get(workload, {})
        bars(axes, [workload], CONTAINER_CANDIDATES, lambda _, name: row.get(name), log=False,
             labels=True)
        axes.set_xticklabels([""])
        axes.set_title(workload)
        axes.set_ylabel("ns per operation")
    handles, labels = panels[0].get_legend_handles_labels()
    figure.suptitle("containers_bench: ns per container operation, lower is better", y=0.995)
    figure.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.94), ncol=4,
                  frameon=False)
    figure.tight_layout(rect=(0, 0, 1, 0.87))
    figure.savefig(path, dpi=80, metadata={"Software": None})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="a benchmark run's --benchmark_out file, or a markdown "
                        "table this script printed")
    parser.add_argument("--chart", metavar="PNG", help="also draw the table into this image")
    arguments = parser.parse_args()
    ns = medians(arguments.json)
    if any(CONTAINER_NAME.match(name) for name in ns):
        table = container_report(ns)
        if arguments.chart:
            container_chart(table, arguments.chart)
    else:
        table = slab_cache_report(ns)
        if arguments.chart:
            slab_cache_chart(table, arguments.chart)


if __name__ == "__main__":
    main()
