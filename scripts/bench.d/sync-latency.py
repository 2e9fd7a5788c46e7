#!/usr/bin/env python3
"""The objects of the `vfs sync` benchmark (scripts/bench.d/sync-bench.sh), and its delay probe.

Images are made by engine.py's single `docker load` (one archive, N distinct configs), under a
repository of their own, bench/sync-img, so that this benchmark and scripts/bench never remove
each other's images.

Usage:
  sync-latency.py images N              load bench/sync-img1..N:latest
  sync-latency.py cleanup               remove every bench/sync-img* image (and its extra tags)
  sync-latency.py delay ROUNDS DIR...   ROUNDS times: tag bench/sync-img1 as bench/sync-lat:tK
                                        through the engine's API, then look (every 1 ms) until
                                        DIR/images/bench/sync-lat/tK exists in every DIR; prints
                                        each DIR's delays (ms from the API's answer) and p50/p99
"""

import importlib.util
import json
import math
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("engine", os.path.join(HERE, "engine.py"))
engine = importlib.util.module_from_spec(spec)
spec.loader.exec_module(engine)
engine.IMAGE_REPOSITORY = "bench/sync-img"

LATENCY_REPOSITORY = "bench/sync-lat"
TIMEOUT = 30.0


def percentile(values, fraction):
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def delay(rounds, dirs):
    api = engine.Engine()
    delays = {folder: [] for folder in dirs}
    run = int(time.time())
    for number in range(1, rounds + 1):
        tag = f"t{run}-{number}"
        api.request(
            "POST",
            f"/images/{engine.IMAGE_REPOSITORY}1:latest/tag?repo={LATENCY_REPOSITORY}&tag={tag}",
        )
        answered = time.monotonic()
        waiting = {folder: os.path.join(folder, "images", LATENCY_REPOSITORY, tag) for folder in dirs}
        while waiting:
            now = time.monotonic()
            for folder, path in list(waiting.items()):
                if os.path.lexists(path):
                    delays[folder].append((now - answered) * 1000)
                    del waiting[folder]
            if now - answered > TIMEOUT:
                sys.exit(f"sync-latency.py: {sorted(waiting)} did not show {tag} within {TIMEOUT} s")
            time.sleep(0.001)
        # Let both settle before the next change, so the rounds are independent.
        time.sleep(0.2)
    summary = {}
    for folder, values in delays.items():
        summary[folder] = {
            "p50_ms": round(percentile(values, 0.50), 1),
            "p99_ms": round(percentile(values, 0.99), 1),
            "max_ms": round(max(values), 1),
            "rounds": len(values),
        }
    print(json.dumps(summary, indent=1))


def cleanup():
    api = engine.Engine()
    for image in api.json("GET", "/images/json?all=1"):
        tags = image.get("RepoTags") or []
        if any(tag.startswith(("bench/sync-img", LATENCY_REPOSITORY)) for tag in tags):
            api.request("DELETE", f"/images/{image['Id']}?force=1", ok=(200, 404, 409))


def main(arguments):
    if not arguments:
        sys.exit(__doc__)
    if arguments[0] == "images":
        engine.load_images(engine.Engine(), 1, int(arguments[1]))
    elif arguments[0] == "cleanup":
        cleanup()
    elif arguments[0] == "delay":
        delay(int(arguments[1]), arguments[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
