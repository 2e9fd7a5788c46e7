#!/usr/bin/env python3
"""Writes the repositories of GitConfigFS's scale benchmark (issue 11) with `git fast-import`:

  big REPO       one compose-like YAML file of 500 services x 10 lines (5,001 lines) with 2,000
                 commits, each changing a few lines
  mono REPO      220 YAML files in 22 folders with 2,100 commits, each changing 1-3 files

Committer dates are fixed (one minute apart), so runs are repeatable.
"""
import os
import random
import subprocess
import sys

FIRST = 1_600_000_000


def service(index, values):
    lines = [f"  service{index}:"]
    lines += [f"    key{k}: {values[k]}" for k in range(9)]
    return lines


def render(files):
    return {path: ("services:\n" + "\n".join(sum((service(i, v) for i, v in enumerate(svcs)), [])) + "\n").encode()
            for path, svcs in files.items()}


def fast_import(repo, commits):
    os.makedirs(repo, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True)
    importer = subprocess.Popen(["git", "fast-import", "--quiet"], cwd=repo, stdin=subprocess.PIPE)
    out = importer.stdin
    for number, changed in enumerate(commits):
        when = FIRST + 60 * number
        message = f"change {number}".encode()
        out.write(b"commit refs/heads/main\n")
        out.write(f"mark :{number + 1}\n".encode())
        out.write(f"author Bench <b@e> {when} +0000\ncommitter Bench <b@e> {when} +0000\n".encode())
        out.write(f"data {len(message)}\n".encode() + message + b"\n")
        if number:
            out.write(f"from :{number}\n".encode())
        for path, content in changed.items():
            out.write(f"M 100644 inline {path}\ndata {len(content)}\n".encode() + content + b"\n")
    out.close()
    if importer.wait():
        sys.exit("git fast-import failed")
    subprocess.run(["git", "reset", "-q", "--hard"], cwd=repo, check=True)


def big(repo):
    rng = random.Random(7)
    svcs = [[f"v0-{s}-{k}" for k in range(9)] for s in range(500)]
    commits = []
    for number in range(2000):
        if number:
            for _ in range(1 + rng.randrange(4)):
                s, k = rng.randrange(500), rng.randrange(9)
                svcs[s][k] = f"v{number}-{s}-{k}"
        commits.append(render({"big.yml": svcs}))
    fast_import(repo, commits)


def mono(repo):
    rng = random.Random(11)
    paths = [f"app{d:02}/deploy{f:02}.yaml" for d in range(22) for f in range(10)]
    files = {p: [[f"v0-{s}-{k}" for k in range(9)] for s in range(12)] for p in paths}
    commits = [render(files)]
    for number in range(1, 2100):
        touched = rng.sample(paths, 1 + rng.randrange(3))
        for p in touched:
            s, k = rng.randrange(12), rng.randrange(9)
            files[p][s][k] = f"v{number}-{s}-{k}"
        commits.append(render({p: files[p] for p in touched}))
    fast_import(repo, commits)


if __name__ == "__main__":
    kind, repo = sys.argv[1], sys.argv[2]
    {"big": big, "mono": mono}[kind](repo)
