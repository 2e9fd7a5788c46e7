#!/usr/bin/env python3
"""Churn for the soak test (issue 14): create/remove cycles of tags and containers through the
engine's API (one kept-alive connection), sampling the memory and open files of a process.

  soak-churn.py CYCLES EVERY PID[,PID…] > samples.tsv

One cycle: tag bench/img1 as soak/tN:latest, create a container soak-cN from it, remove the
container, remove the tag (N counts up: every cycle makes names never seen before). Every EVERY
cycles (and before the first) a line `cycles seconds rss_kib open_files` for process PID; with
several PIDs (soak-ab.sh), `rss_kib open_files` for each in turn. SOAK_ANON=1 puts the
anonymous and file-backed parts after each rss_kib (`rss_kib anon_kib file_kib open_files`).

SOAK_WORKERS (default 1) cycles run side by side, each on its own connection, taking the next N
in turn: a cycle waits mostly on the engine's container create and remove (~35 ms quiet, 100-170
ms on a loaded machine), so a few at once get through 100,000 cycles in an hour or so.
"""

import json
import os
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from engine import Engine  # noqa: E402

ANON = os.environ.get("SOAK_ANON") == "1"


def sample(pid):
    """`rss_kib [anon_kib file_kib] open_files` of process PID, tab-separated (see SOAK_ANON)."""
    with open(f"/proc/{pid}/status") as status:
        fields = dict(line.split(":", 1) for line in status)
    kib = [fields["VmRSS"]] + ([fields["RssAnon"], fields["RssFile"]] if ANON else [])
    sizes = "\t".join(str(int(value.split()[0])) for value in kib)
    return f"{sizes}\t{len(os.listdir(f'/proc/{pid}/fd'))}"


def cycle(engine, number):
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


def main(cycles, every, pids, workers):
    started = time.monotonic()
    lock = threading.Lock()
    taken = 0  # the last N handed to a worker
    done = 0  # cycles finished
    failures = []

    def report(count):
        samples = "\t".join(sample(one) for one in pids)
        print(f"{count}\t{time.monotonic() - started:.1f}\t{samples}", flush=True)

    def work():
        nonlocal taken, done
        engine = Engine()
        while True:
            with lock:
                if failures or taken == cycles:
                    return
                taken += 1
                number = taken
            try:
                cycle(engine, number)
            except BaseException as error:  # noqa: BLE001 - reported by main, which exits 1
                with lock:
                    failures.append(f"cycle {number}: {error}")
                return
            with lock:
                done += 1
                if done % every == 0:
                    report(done)

    report(0)
    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        sys.exit(f"soak-churn.py: {failures[0]}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    pids = [int(pid) for pid in sys.argv[3].split(",")]
    main(int(sys.argv[1]), int(sys.argv[2]), pids, int(os.environ.get("SOAK_WORKERS", "1")))
