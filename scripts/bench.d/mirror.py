#!/usr/bin/env python3
"""Copies a tree's shape and times: the tmpfs "limit" contender of scripts/bench.

  mirror.py SOURCE DESTINATION

Every directory, file and symlink under SOURCE is recreated under DESTINATION with the same
name, the same symlink target, the same size (files are sparse: make only stats them) and the
same mtime/atime, so make sees exactly the times it sees through the mount. Prints the number of
entries copied.
"""

import os
import sys


def main(source, destination):
    times = []
    count = 0
    for directory, subdirectories, files in os.walk(source, followlinks=False):
        relative = os.path.relpath(directory, source)
        target_directory = os.path.normpath(os.path.join(destination, relative))
        os.makedirs(target_directory, exist_ok=True)
        times.append((target_directory, os.lstat(directory)))
        for name in files + [d for d in subdirectories if os.path.islink(os.path.join(directory, d))]:
            path = os.path.join(directory, name)
            target = os.path.join(target_directory, name)
            status = os.lstat(path)
            if os.path.islink(path):
                os.symlink(os.readlink(path), target)
            else:
                with open(target, "wb") as file:
                    file.truncate(status.st_size)
            times.append((target, status))
            count += 1
    # Deepest first, so setting a directory's time is the last thing that touches it.
    for target, status in sorted(times, key=lambda item: item[0].count(os.sep), reverse=True):
        os.utime(target, ns=(status.st_atime_ns, status.st_mtime_ns), follow_symlinks=False)
    print(count)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
