#!/usr/bin/env python3
"""Plots the soak test's samples (scripts/bench.d/soak.sh) as an SVG: resident memory (MiB, left
axis) and open files (right axis) against cycles; the samples after the churn stopped are
marked.

  soak-plot.py SAMPLES.tsv > soak.svg
"""

import sys


def main(path):
    rows = []
    for line in open(path):
        fields = line.split()
        # `cycles seconds rss open_files`, or with SOAK_ANON=1 `cycles seconds rss anon file
        # open_files`.
        if len(fields) in (4, 6) and fields[0].isdigit():
            rows.append((int(fields[0]), float(fields[1]), int(fields[2]) / 1024, int(fields[-1])))
    if not rows:
        sys.exit("soak-plot: no samples")
    width, height, left, right, top, bottom = 720, 360, 70, 70, 30, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    # After the churn: the same cycle count, placed by time on the cycle axis.
    last_cycles = rows[-1][0]
    end = next(index for index, row in enumerate(rows) if row[0] == last_cycles)
    churn, after = rows[: end + 1], rows[end + 1 :]
    x_max = last_cycles * (1 + 0.05 * (len(after) + 1)) or 1
    points = [(row[0], row) for row in churn]
    for index, row in enumerate(after, 1):
        points.append((last_cycles * (1 + 0.05 * index), row))
    rss_max = max(row[2] for _, row in points) * 1.2
    files_max = max(row[3] for _, row in points) * 1.2

    def x(value):
        return left + plot_w * value / x_max

    def y(value, maximum):
        return top + plot_h * (1 - value / maximum)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{width / 2}" y="18" text-anchor="middle">DockerFS soak: tag and container '
        "create/remove cycles under a looping make -q</text>",
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="black"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="black"/>',
        f'<line x1="{left + plot_w}" y1="{top}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="black"/>',
        f'<text x="{left + plot_w / 2}" y="{height - 12}" text-anchor="middle">cycles '
        "(last points: after the churn stopped)</text>",
        f'<text x="16" y="{top + plot_h / 2}" transform="rotate(-90 16 {top + plot_h / 2})" '
        'text-anchor="middle" fill="#1f77b4">resident memory, MiB</text>',
        f'<text x="{width - 16}" y="{top + plot_h / 2}" transform="rotate(90 {width - 16} '
        f'{top + plot_h / 2})" text-anchor="middle" fill="#d62728">open files</text>',
    ]
    for step in range(6):
        value = x_max * step / 5
        out.append(f'<text x="{x(value)}" y="{top + plot_h + 16}" text-anchor="middle">{value:,.0f}</text>')
        rss = rss_max * step / 5
        out.append(f'<text x="{left - 6}" y="{y(rss, rss_max) + 4}" text-anchor="end">{rss:.0f}</text>')
        files = files_max * step / 5
        out.append(f'<text x="{left + plot_w + 6}" y="{y(files, files_max) + 4}">{files:.0f}</text>')
    for column, maximum, colour in ((2, rss_max, "#1f77b4"), (3, files_max, "#d62728")):
        path = " ".join(f"{x(px):.1f},{y(row[column], maximum):.1f}" for px, row in points)
        out.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for px, row in points:
            out.append(f'<circle cx="{x(px):.1f}" cy="{y(row[column], maximum):.1f}" r="3" fill="{colour}"/>')
    out.append("</svg>")
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
