#!/usr/bin/env python3
"""What the engine alone needs for DockerFS's start: the image list, then one inspect per image,
on one kept-alive connection, with the engine's CPU time for each (from /proc/PID/stat).

  engine-floor.py [DOCKERD_PID_FILE]      the engine is DOCKER_HOST's (unix:// only)
"""

import json
import sys
import time

from engine import Engine


def ticks(pid):
    fields = open(f"/proc/{pid}/stat").read().split()
    return int(fields[13]) + int(fields[14])


def main(pid_file):
    pid = int(open(pid_file).read())
    engine = Engine()
    started, cpu = time.time(), ticks(pid)
    images = engine.json("GET", "/images/json")
    listed, listed_cpu = time.time(), ticks(pid)
    print(f"list: {len(images)} images in {listed - started:.3f} s, engine CPU {(listed_cpu - cpu) / 100:.2f} s")
    for image in images:
        engine.request("GET", f"/images/{image['Id']}/json")
    done, done_cpu = time.time(), ticks(pid)
    engine_cpu = (done_cpu - listed_cpu) / 100
    print(f"one inspect per image, one at a time: {done - listed:.3f} s, engine CPU {engine_cpu:.2f} s "
          f"({engine_cpu / max(len(images), 1) * 1e6:.0f} us each)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/var/run/docker.pid")
