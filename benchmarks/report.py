#!/usr/bin/env python3
"""Turns a benchmark run's JSON output into the README's markdown tables, targets and charts.

Usage: report.py <bench.json | table.md> [--chart <image.png>]

With slab_cache_bench's output it prints the single-threaded table (every candidate), the
multi-threaded table (the thread-safe candidates) and issue 10's targets for the per_thread
cache, each with the numbers it was judged on and "met" or "not met". Each cell is ns per
operation (1e9 / items_per_second, from the median when the run had repetitions) and its ratio
to the no-lock free list, the physical limit; the multi-threaded rows have no unlocked baseline,
so they are compared with the test-and-set locked free list, and their ns per operation is the
throughput of all threads together (real time). A row missing from the run prints "n/a".

With containers_bench's output it prints the container table, each cell in ns per operation and
its ratio to std::allocator, and then the targets of issue 12, each marked met or not.

--chart also draws the table as bars, one panel per workload, into the given PNG (needs
matplotlib; Debian: python3-matplotlib, which Debian's /usr/bin/python3 sees).

Instead of JSON it also reads a markdown table that it printed before (any text file whose table
rows it recognises, such as README.md), so that a chart can be redrawn for a table already
published without running the benchmarks again; with README.md, which holds both tables, add
--containers for the container one.
"""
import argparse
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
        if run.get("error_occurred"):
            continue
        ns[run["run_name"]] = 1e9 / run["items_per_second"]
    return ns


def keyed(ns):
    """{(workload, bytes, subject): ns} for the slab_cache_bench runs among `ns`."""
    table = {}
    for name, value in ns.items():
        match = NAME.match(name)
        if match:
            table[(match["workload"], int(match["bytes"]), match["subject"])] = value
    return table


def cell(value, reference):
    if value is None:
        return "n/a"
    if reference:
        return f"{value:.2f} ({value / reference:.1f}x)"
    return f"{value:.2f}"


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


def bars(axes, groups, series, values, log, labels=False, palette=None):
    """Draws one panel: for each group on the x axis, one bar per series, optionally labelled.
    `palette` lists every series of the chart, so that a series keeps its colour in panels that
    show only some of them."""
    width = 0.8 / len(series)
    palette = palette or series
    colours = __import__("matplotlib").colormaps["tab20"]
    for index, name in enumerate(series):
        heights = [values(group, name) for group in groups]
        positions = [g + (index - (len(series) - 1) / 2) * width for g in range(len(groups))]
        drawn = axes.bar(positions, [h if h is not None else 0 for h in heights], width,
                         label=name, color=colours(palette.index(name) % 20))
        if labels:
            axes.bar_label(drawn, labels=[f"{h:.1f}" if h is not None else "" for h in heights],
                           fontsize=7)
    axes.set_xticks(range(len(groups)))
    if log:
        axes.set_yscale("log")
    axes.grid(axis="y", alpha=0.3)


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


def slab_cache_chart(ns, path):
    plt = pyplot()
    rows = (len(WORKLOADS) + 1) // 2
    figure, panels = plt.subplots(rows, 2, figsize=(15, 3.4 * rows))
    for axes, workload in zip(panels.flat, WORKLOADS):
        candidates = CANDIDATES if workload in SINGLE_THREADED else THREAD_SAFE
        bars(axes, SIZES, candidates, lambda size, name: ns.get((workload, size, name)), log=True,
             palette=CANDIDATES)
        axes.set_xticklabels([f"{size} bytes" for size in SIZES])
        axes.set_title(workload)
        axes.set_ylabel("ns per operation (log)")
    for axes in list(panels.flat)[len(WORKLOADS):]:
        axes.set_visible(False)
    handles, labels = panels.flat[0].get_legend_handles_labels()
    figure.suptitle("slab_cache_bench: ns per operation, lower is better", y=0.995)
    figure.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.985), ncol=4,
                  frameon=False)
    figure.tight_layout(rect=(0, 0, 1, 0.94))
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("json", help="a benchmark run's --benchmark_out file, or a markdown "
                        "table this script printed")
    parser.add_argument("--chart", metavar="PNG", help="also draw the table into this image")
    parser.add_argument("--containers", action="store_true",
                        help="report the container table when the input holds both tables "
                        "(README.md does); a JSON run holds one, which is reported")
    arguments = parser.parse_args()
    ns = medians(arguments.json)
    slab_runs = any(NAME.match(name) for name in ns)
    container_runs = any(CONTAINER_NAME.match(name) for name in ns)
    if container_runs and (arguments.containers or not slab_runs):
        containers = container_report(ns)
        if arguments.chart:
            container_chart(containers, arguments.chart)
        return
    runs = keyed(ns)
    print("Single-threaded workloads:\n")
    table(runs, SINGLE_THREADED, CANDIDATES)
    print("\nMulti-threaded workloads:\n")
    table(runs, MULTI_THREADED, THREAD_SAFE)
    print()
    targets(runs)
    if arguments.chart:
        slab_cache_chart(runs, arguments.chart)


if __name__ == "__main__":
    main()
