#!/usr/bin/env python3
"""Writes the Makefile of workload 1: one target per Docker object.

  makefile.py IMAGES CONTAINERS > Makefile

out/N depends on $(ROOT)/images/bench/imgN/latest (the colon-free tag path) and out/cN on
$(ROOT)/containers/bench-cN; ROOT is the DockerFS mount or its tmpfs copy, given on make's
command line. The recipes only touch the output: with every output newer than its object,
`make -q` has nothing to do and answers 0.
"""

import sys


def main(images, containers):
    targets = [f"out/{n}" for n in range(1, images + 1)]
    targets += [f"out/c{n}" for n in range(1, containers + 1)]
    lines = [
        "ROOT ?= .dockerfs",
        ".PHONY: all",
        "all: " + " ".join(targets),
    ]
    for n in range(1, images + 1):
        lines.append(f"out/{n}: $(ROOT)/images/bench/img{n}/latest\n\ttouch $@")
    for n in range(1, containers + 1):
        lines.append(f"out/c{n}: $(ROOT)/containers/bench-c{n}\n\ttouch $@")
    print("\n".join(lines))


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(int(sys.argv[1]), int(sys.argv[2]))
