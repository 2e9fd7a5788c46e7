#!/usr/bin/env python3
"""The benchmark's figures: collected as TSV rows, summarised as medians and ratios.

  results.py add-hyperfine RESULTS WORKLOAD SIZE COMMANDS ROUND_JSON...
      one row per command of hyperfine's exports (one export per round, every command once per
      round, so the contenders alternate); COMMANDS has a line NAME<TAB>PREPARE<TAB>COMMAND for
      each contender
  results.py add RESULTS WORKLOAD SIZE CONTENDER METRIC UNIT COMMAND VALUE...
  results.py report RESULTS [--markdown FILE] [--plot FILE]

A row: workload, size, contender, metric, unit, values (comma-separated), command.
"""

import json
import os
import statistics
import sys
from collections import OrderedDict


def append(results, workload, size, contender, metric, unit, values, command):
    with open(results, "a") as file:
        file.write(
            "\t".join(
                [workload, str(size), contender, metric, unit, ",".join(f"{v:.6g}" for v in values), command]
            )
            + "\n"
        )


def add_hyperfine(results, workload, size, commands_file, exports):
    runs = OrderedDict()
    commands = {}
    with open(commands_file) as file:
        for line in file:
            name, prepare, command = line.rstrip("\n").split("\t")
            commands[name] = command if prepare in ("true", command) else f"{command}  (before each: {prepare})"
    for export in exports:
        with open(export) as file:
            for result in json.load(file)["results"]:
                name = result.get("command_name") or result["command"]
                runs.setdefault(name, []).extend(result["times"])
    for name, times in runs.items():
        append(results, workload, size, name, "time", "s", times, commands[name])


def read(results):
    rows = []
    with open(results) as file:
        for line in file:
            workload, size, contender, metric, unit, values, command = line.rstrip("\n").split("\t")
            values = [float(v) for v in values.split(",") if v]
            rows.append(
                dict(workload=workload, size=int(size), contender=contender, metric=metric, unit=unit,
                     values=values, median=statistics.median(values) if values else float("nan"),
                     command=command)
            )
    return rows


def show(value, unit):
    if unit == "s":
        return f"{value * 1000:.1f} ms" if value < 10 else f"{value:.1f} s"
    if unit == "MiB":
        return f"{value:.1f} MiB"
    return f"{value:g}{(' ' + unit) if unit else ''}"


def find(rows, workload, size, contender, metric="time"):
    for row in rows:
        if (row["workload"], row["size"], row["contender"], row["metric"]) == (workload, size, contender, metric):
            return row
    return None


# (workload, contender, reference contender, limit, comparison) -> the targets.
RATIO_TARGETS = [
    ("make", "vfs warm", "tmpfs", 1.5, "≤ 1.5× tmpfs (issue 5)"),
    ("make", "vfs cold", "tmpfs", 3.0, "≤ 3× tmpfs (issue 5)"),
    ("make", "vfs warm", "tmpfs", 1.1, "≤ 1.1× tmpfs (issue 17)"),
    ("make", "vfs cold", "bindfs cold", 1.05, "≤ 1.05× bindfs cold, the FUSE floor (issue 17)"),
    ("storm", "find vfs", "find tmpfs", 1.5, "≤ 1.5× tmpfs (issue 17)"),
    ("storm", "ls -lR vfs", "ls -lR tmpfs", 1.5, "≤ 1.5× tmpfs (issue 17)"),
    ("storm", "find vfs cold", "find bindfs cold", 1.2, "≤ 1.2× bindfs cold (issue 17)"),
    ("storm", "ls -lR vfs cold", "ls -lR bindfs cold", 1.2, "≤ 1.2× bindfs cold (issue 17)"),
]


def report(results, markdown=None, plot=None):
    rows = read(results)
    # The work directory is a fresh temporary one each run: show it as $WORK.
    work = os.environ.get("BENCH_WORK")
    if work:
        for row in rows:
            row["command"] = row["command"].replace(work, "$WORK")
    lines = []
    sections = OrderedDict()
    for row in rows:
        sections.setdefault((row["workload"], row["size"]), []).append(row)
    for (workload, size), group in sections.items():
        lines.append(f"\n#### {workload}, size {size}\n")
        lines.append("| contender | metric | median | runs | min | max | vs tmpfs |")
        lines.append("| --- | --- | --- | --- | --- | --- | --- |")
        for row in group:
            reference = find(rows, workload, size, tmpfs_twin(row["contender"]), row["metric"])
            ratio = ""
            if reference and reference is not row and reference["median"] > 0:
                ratio = f"{row['median'] / reference['median']:.2f}×"
            lines.append(
                f"| {row['contender']} | {row['metric']} | {show(row['median'], row['unit'])} | {len(row['values'])} "
                f"| {show(min(row['values']), row['unit'])} | {show(max(row['values']), row['unit'])} | {ratio} |"
            )
        lines.append("")
        for row in group:
            lines.append(f"- {row['contender']} / {row['metric']}: `{row['command']}`")
    lines.append("\n#### Targets\n")
    lines.append("| target | size | measured | verdict |")
    lines.append("| --- | --- | --- | --- |")
    for workload, contender, reference_name, limit, text in RATIO_TARGETS:
        for size in sorted({r["size"] for r in rows if r["workload"] == workload}):
            row, reference = find(rows, workload, size, contender), find(rows, workload, size, reference_name)
            if row and reference:
                ratio = row["median"] / reference["median"]
                what = f"make -q {contender}" if workload == "make" else contender
                lines.append(f"| {what} {text} | {size} | {ratio:.2f}× | {'met' if ratio <= limit else 'MISSED'} |")
    for size in sorted({r["size"] for r in rows if r["workload"] == "make"}):
        # Not a target of the issue: how close a cold mount is to what any FUSE filesystem costs.
        row, floor = find(rows, "make", size, "vfs cold"), find(rows, "make", size, "bindfs cold")
        if row and floor:
            lines.append(f"| (context) make -q vfs cold / bindfs cold, the FUSE floor | {size} | "
                         f"{row['median'] / floor['median']:.2f}× | |")
    for size in sorted({r["size"] for r in rows if r["workload"] == "make"}):
        row, inspect = find(rows, "make", size, "vfs warm"), find(rows, "make", size, "docker inspect")
        if row and inspect:
            speedup = inspect["median"] / row["median"]
            lines.append(f"| ≥ 50× faster than per-target docker inspect | {size} | {speedup:.0f}× | {'met' if speedup >= 50 else 'MISSED'} |")
    for row in rows:
        if row["workload"] == "scale" and row["contender"].startswith("docker") and row["metric"] in ("rss after make", "ready"):
            limit, text = (100, "RSS < 100 MB") if row["metric"] != "ready" else (1.0, "ready < 1 s")
            value = row["median"] * (1.048576 if row["unit"] == "MiB" else 1)
            lines.append(f"| {text} ({row['contender']}, {row['metric']}) | {row['size']} | {show(row['median'], row['unit'])} | "
                         f"{'met' if value < limit else 'MISSED'} |")
        if row["workload"] == "calls" and row["metric"] == "fuse requests" and row["contender"] != "warm make -q":
            # find asks statfs once per run, which FUSE never caches (issue 17).
            allowed = 1 if row["contender"] == "warm find" else 0
            lines.append(f"| zero FUSE requests ({row['contender']}; find: its one statfs) | {row['size']} | "
                         f"{row['median']:g} | {'met' if row['median'] <= allowed else 'MISSED'} |")
        if row["workload"] == "calls" and row["metric"] == "engine calls" and "warm" in row["contender"]:
            lines.append(f"| zero engine calls warm ({row['contender']}) | {row['size']} | {row['median']:g} | "
                         f"{'met' if row['median'] == 0 else 'MISSED'} |")
    text = "\n".join(lines)
    print(text)
    if markdown:
        with open(markdown, "w") as file:
            file.write(text + "\n")
    if plot:
        write_plot(rows, plot)


def tmpfs_twin(contender):
    # "find vfs" is compared with "find tmpfs", "vfs warm" with "tmpfs", "bindfs cold" too.
    if contender.startswith("bindfs"):
        return "tmpfs"
    if "vfs" in contender:
        twin = contender.replace("vfs warm", "tmpfs").replace("vfs cold", "tmpfs").replace("vfs", "tmpfs")
        return twin
    return None


def write_plot(rows, path):
    """A log-log SVG of make -q time against the number of make targets, one line per contender."""
    series = OrderedDict()
    for row in rows:
        if row["workload"] == "make" and row["metric"] == "time":
            targets = row["size"]
            series.setdefault(row["contender"], []).append((targets, row["median"]))
    if not series:
        return
    import math

    width, height, left, right, top, bottom = 720, 440, 80, 170, 40, 60
    xs = [x for points in series.values() for x, _ in points]
    ys = [y for points in series.values() for _, y in points]
    x_low, x_high = math.floor(math.log10(min(xs))), math.ceil(math.log10(max(xs)))
    y_low, y_high = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    x_high = max(x_high, x_low + 1)
    y_high = max(y_high, y_low + 1)

    def sx(x):
        return left + (math.log10(x) - x_low) / (x_high - x_low) * (width - left - right)

    def sy(y):
        return height - bottom - (math.log10(y) - y_low) / (y_high - y_low) * (height - top - bottom)

    colours = ["#d62728", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2 - 60}" y="20" font-size="14">make -q, nothing to do: median time vs targets</text>']
    for exponent in range(x_low, x_high + 1):
        x = sx(10 ** exponent)
        out.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{height - bottom}" stroke="#ddd"/>')
        out.append(f'<text x="{x - 12:.1f}" y="{height - bottom + 18}">{10 ** exponent:,}</text>')
    for exponent in range(y_low, y_high + 1):
        y = sy(10 ** exponent)
        label = f"{10 ** exponent * 1000:g} ms" if exponent < 1 else f"{10 ** exponent:g} s"
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="8" y="{y + 4:.1f}">{label}</text>')
    out.append(f'<text x="{left + 120}" y="{height - 15}">make targets (images + containers), log scale</text>')
    for index, (name, points) in enumerate(series.items()):
        colour = colours[index % len(colours)]
        points = sorted(points)
        path_data = " ".join(f"{'M' if i == 0 else 'L'}{sx(x):.1f},{sy(y):.1f}" for i, (x, y) in enumerate(points))
        out.append(f'<path d="{path_data}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for x, y in points:
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3.5" fill="{colour}"/>')
        legend_y = top + 10 + index * 20
        out.append(f'<line x1="{width - right + 15}" y1="{legend_y}" x2="{width - right + 40}" y2="{legend_y}" stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{width - right + 45}" y="{legend_y + 4}">{name}</text>')
    out.append("</svg>")
    with open(path, "w") as file:
        file.write("\n".join(out) + "\n")


def main(arguments):
    if len(arguments) < 2:
        sys.exit(__doc__)
    command, results = arguments[0], arguments[1]
    if command == "add-hyperfine":
        add_hyperfine(results, arguments[2], arguments[3], arguments[4], arguments[5:])
    elif command == "add":
        workload, size, contender, metric, unit, shown = arguments[2:8]
        append(results, workload, size, contender, metric, unit, [float(v) for v in arguments[8:]], shown)
    elif command == "report":
        options = dict(zip(arguments[2::2], arguments[3::2]))
        report(results, options.get("--markdown"), options.get("--plot"))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
