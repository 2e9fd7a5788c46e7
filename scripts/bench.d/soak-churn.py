#!/usr/bin/env python3
"""Churn for the soak test (issue 14): create/remove cycles of tags and containers through the
engine's API (one kept-alive connection), sampling the memory and open files of a process.

  soak-churn.py CYCLES EVERY PID > samples.tsv

One cycle: tag bench/img1 as soak/tN:latest, create a container soak-cN from it, remove the
container, remove the tag (N counts up: every cycle makes names never seen before). Every EVERY
cycles (and before the first) a line `cycles seconds rss_kib open_files` for process PID.
"""

import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engine import Engine  # noqa: E402


def sample(pid):
    with open(f"/proc/{pid}/status") as status:
        rss = next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def main(cycles, every, pid):
    engine = Engine()
    started = time.monotonic()

    def report(done):
        rss, files = sample(pid)
        print(f"{done}\t{time.monotonic() - started:.1f}\t{rss}\t{files}", flush=True)

    report(0)
    for number in range(1, cycles + 1):
        engine.request("POST", f"/images/bench/img1:latest/tag?repo=soak/t{number}&tag=latest", ok=(201,))
        name = urllib.parse.quote(f"soak-c{number}")
        created = engine.json(
            "POST",
            f"/containers/create?name={name}",
            body=json.dumps({"Image": f"soak/t{number}:latest", "Cmd": ["/bench.txt"]}),
            headers={"Content-Type": "application/json"},
        )
        engine.request("DELETE", f"/containers/{created['Id']}?force=1", ok=(204,))
        engine.request("DELETE", f"/images/soak/t{number}:latest", ok=(200,))
        if number % every == 0:
            report(number)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
