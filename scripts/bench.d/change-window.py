#!/usr/bin/env python3
"""How long after the docker CLI returns a DockerFS mount shows the change, and what the
barrier (`vfs wait`) costs: p50/p99, at rest and under a churn of engine events.

    change-window.py VFS_BINARY [ROUNDS] [CHURN_PER_SECOND]

Mounts DockerFS in a temporary folder, imports two busybox images (no registry), then per
phase (at rest; with a background thread tagging and untagging a throwaway tag of the second
image through the engine API at CHURN_PER_SECOND events a second) runs ROUNDS of:
  - `docker tag IMAGE win:tN`, then polls lstat(MOUNT/images/win-…/tN) until it is there;
  - `docker rmi win:tN`, then polls until it is gone;
  - `docker tag IMAGE win:tN` again, then times `vfs wait MOUNT` (and then checks the tag is there).
Delays are measured from the CLI's return to the first lstat that sees the change (polling
every ~50 µs, each poll a real lookup: the kernel forgets the negative entry on the notice).
Everything it makes is removed at the end. Bounded: at most 2 s per poll.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time


def pct(values, p):
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, int(round(p / 100 * (len(ordered) - 1)))))
    return ordered[index]


def api(method, path):
    sock = socket.socket(socket.AF_UNIX)
    sock.settimeout(10)
    try:
        sock.connect("/var/run/docker.sock")
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: d\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        return int(data[9:12])
    except OSError:
        return 0
    finally:
        sock.close()


def import_busybox(reference):
    root = tempfile.mkdtemp()
    os.mkdir(f"{root}/bin")
    shutil.copy("/bin/busybox", f"{root}/bin/busybox")
    os.symlink("busybox", f"{root}/bin/sh")
    subprocess.run(["tar", "-C", root, "-cf", f"{root}/r.tar", "bin"], check=True)
    out = subprocess.run(["docker", "import", "--change", 'CMD ["sh"]', f"{root}/r.tar", reference],
                         check=True, capture_output=True, text=True).stdout
    shutil.rmtree(root)
    return out.strip().removeprefix("sha256:")


class Churn:
    def __init__(self, image, repo, per_second):
        self.image, self.repo, self.gap = image, repo, 1.0 / per_second
        self.stop = threading.Event()
        self.events = 0
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.started = time.monotonic()
        self.thread.start()

    def run(self):
        serial, nxt = 0, time.monotonic()
        while not self.stop.is_set() and time.monotonic() - self.started < 600:
            if serial % 2 == 0:
                status = api("POST", f"/images/{self.image}/tag?repo={self.repo}&tag=c{serial % 4}")
            else:
                status = api("DELETE", f"/images/{self.repo}:c{(serial - 1) % 4}")
            if 200 <= status < 300:
                self.events += 1
            serial += 1
            nxt += self.gap
            wait = nxt - time.monotonic()
            if wait > 0:
                time.sleep(wait)

    def end(self):
        self.stop.set()
        self.thread.join()
        for tag in range(4):
            api("DELETE", f"/images/{self.repo}:c{tag}")
        return self.events / (time.monotonic() - self.started)


def poll(check):
    started = time.perf_counter()
    while not check():
        if time.perf_counter() - started > 2:
            return float("inf")
        time.sleep(0.00005)
    return (time.perf_counter() - started) * 1000


def exists(path):
    try:
        os.lstat(path)
        return True
    except FileNotFoundError:
        return False


def phase(vfs, mnt, image, repo, rounds, tags):
    appear, vanish, waits, immediate_misses = [], [], [], 0
    for n in range(rounds):
        ref = f"{repo}:t{n}"
        path = f"{mnt}/images/{repo}/t{n}"
        subprocess.run(["docker", "tag", image, ref], check=True)
        appear.append(poll(lambda: exists(path)))
        subprocess.run(["docker", "rmi", ref], check=True, capture_output=True)
        vanish.append(poll(lambda: not exists(path)))
        subprocess.run(["docker", "tag", image, ref], check=True)
        tags.append(ref)
        started = time.perf_counter()
        subprocess.run([vfs, "wait", mnt], check=True)
        waits.append((time.perf_counter() - started) * 1000)
        immediate_misses += not exists(path)
    return appear, vanish, waits, immediate_misses


def main():
    vfs = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 100
    rate = int(sys.argv[3]) if len(sys.argv) > 3 else 150
    work = tempfile.mkdtemp(prefix="vfs-window-")
    mnt = f"{work}/mnt"
    stem = f"win{os.getpid()}"
    image = import_busybox(f"{stem}-base:1")
    churned = import_busybox(f"{stem}-churned:1")
    tags = []
    subprocess.run([vfs, "mount", "-d", "-q", "docker", mnt], check=True)
    try:
        time.sleep(1)
        results = {}
        results["at rest"] = phase(vfs, mnt, image, f"{stem}-rest", rounds, tags) + (0.0,)
        churn = Churn(churned, f"{stem}-churn", rate)
        time.sleep(0.5)
        busy = phase(vfs, mnt, image, f"{stem}-busy", rounds, tags)
        results["under churn"] = busy + (churn.end(),)
        start = time.perf_counter()
        idle = []
        for _ in range(rounds):
            start = time.perf_counter()
            subprocess.run([vfs, "wait", mnt], check=True)
            idle.append((time.perf_counter() - start) * 1000)
        print(f"rounds {rounds}; delays from the docker CLI's return to the mount showing it, ms")
        for name, (appear, vanish, waits, misses, events) in results.items():
            churn_text = f" ({events:.0f} events/s)" if events else ""
            print(f"{name}{churn_text}: tag appears p50 {pct(appear, 50):.2f} p99 {pct(appear, 99):.2f} max {max(appear):.2f}; "
                  f"rmi vanishes p50 {pct(vanish, 50):.2f} p99 {pct(vanish, 99):.2f} max {max(vanish):.2f}; "
                  f"vfs wait right after a tag p50 {pct(waits, 50):.2f} p99 {pct(waits, 99):.2f}; "
                  f"missing after vfs wait: {misses}")
        print(f"vfs wait with nothing changed: p50 {pct(idle, 50):.2f} p99 {pct(idle, 99):.2f}")
        true_times = []
        for _ in range(rounds):
            start = time.perf_counter()
            subprocess.run(["true"], check=True)
            true_times.append((time.perf_counter() - start) * 1000)
        print(f"(starting a process, /bin/true: p50 {pct(true_times, 50):.2f})")
    finally:
        subprocess.run([vfs, "unmount", mnt])
        subprocess.run(["docker", "rmi", *tags, f"{stem}-churned:1", churned, f"{stem}-base:1", image],
                       capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


main()
