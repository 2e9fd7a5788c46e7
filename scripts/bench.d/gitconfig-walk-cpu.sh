#!/usr/bin/env bash
# CPU seconds of GitConfigFS's first walks (issue 11), which load from other work on the machine
# does not change as it changes wall times: for each VFS binary given, ROUNDS times, a fresh mount
# of each repository of gitconfig-scale.sh (mono: 220 files; big: one 5,001-line file), a first
# `find MNT -printf '%T@\n'`, and the utime+stime of the mount's process and of its waited-for
# children (`git`) over that walk; then user+sys of `git blame --porcelain` of each file in turn.
# Usage: BENCH_DIR=/work/bench-scale scripts/bench.d/gitconfig-walk-cpu.sh ROUNDS VFS...
set -euo pipefail
rounds="$1"; shift
root="$(cd "$(dirname "$0")/../.." && pwd)"
work="${BENCH_DIR:?BENCH_DIR holds the repositories of gitconfig-scale.sh}"
for kind in mono big; do
  [ -d "$work/$kind" ] || python3 "$root/scripts/bench.d/gitconfig-repos.py" "$kind" "$work/$kind"
done
tick=$(getconf CLK_TCK)
cpu() { awk -v tick="$tick" '{print ($14 + $15 + $16 + $17) / tick}' "/proc/$1/stat"; }
echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(git --version)"
for round in $(seq "$rounds"); do
  for kind in mono big; do
    for vfs in "$@"; do
      rm -rf "$work/state" && mkdir -p "$work/mnt-$kind"
      VFS_STATE_DIR="$work/state" "$vfs" -q mount -d gitconfig "$work/$kind" "$work/mnt-$kind"
      pid=$(pgrep -f "$vfs -q mount -d gitconfig $work/$kind" | head -1)
      before=$(cpu "$pid"); start=$(date +%s.%N)
      find "$work/mnt-$kind" -printf '%T@\n' >/dev/null
      end=$(date +%s.%N); after=$(cpu "$pid")
      "$vfs" -q unmount "$work/mnt-$kind"
      printf 'round %s %s %s: wall %.3f s, cpu %.2f s\n' "$round" "$kind" "$vfs" \
        "$(echo "$end - $start" | bc)" "$(echo "$after - $before" | bc)"
    done
    (cd "$work/$kind" && /usr/bin/time -f "round $round $kind git blame of each file: wall %e s, cpu user %U s + sys %S s" \
      sh -c 'for f in *.yml */*.yaml; do [ -f "$f" ] && git blame --porcelain "$f" >/dev/null; done; true')
  done
done
