#!/usr/bin/env bash
# The `vfs sync` figures of issue 15 (docs/benchmarks.md, docs/sync.md), each side by side with
# the mount in one run:
#   1. a first `vfs sync --once` of an N-image engine against the mount's ready and first walk
#   2. a first `vfs sync --once` of the 5,000-section big.yml (gitconfig-repos.py big) against
#      the mount's first walk (a fresh state folder for every run of either), and against
#      `cp -a` of the synced folder (the disk's cost of writing that many entries)
#   3. the delay from a docker change (a new tag, through the engine's API) to the synced
#      folder showing it, and to the mount showing it (p50/p99 over SYNC_TAGS tags)
#   4. a warm `make -q` over SYNC_TARGETS images: on the synced folder, on copies of it in a
#      tmpfs and on ext4, and through the mount
#
#   scripts/bench.d/sync-bench.sh
#
# The engine is a dockerd of its own (scripts/bench.d/throwaway-dockerd.sh: own data-root and
# socket, no bridge, no iptables, the vfs storage driver), so that neither the machine's engine
# nor tests running beside it see the images, and removing them is removing a folder. The
# machine's engine lock is held exclusively while it starts and stops.
#
# Settings (environment): SYNC_IMAGES [10000], SYNC_ROUNDS [3], SYNC_TAGS [50],
# SYNC_TARGETS [1000], BENCH_VFS [target/release/vfs, built when missing].
# Everything made (the engine, mounts, folders, a tmpfs) is removed on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HELPERS=$ROOT/scripts/bench.d
IMAGES=${SYNC_IMAGES:-10000}
ROUNDS=${SYNC_ROUNDS:-3}
TAGS=${SYNC_TAGS:-50}
TARGETS=${SYNC_TARGETS:-1000}
VFS=${BENCH_VFS:-${CARGO_TARGET_DIR:-$ROOT/target}/release/vfs}
if [ ! -x "$VFS" ]; then
  (cd "$ROOT" && cargo build --release -p vfs-fuse >&2)
fi
VFS=$(readlink -f "$VFS")

say() { printf '\n== %s\n' "$*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }

WORK=$(mktemp -d /tmp/vfs-syncbench.XXXXXX)
FOLLOW_PID=
# shellcheck source=throwaway-dockerd.sh
. "$HELPERS/throwaway-dockerd.sh"
cleanup() {
  set +e
  [ -n "$FOLLOW_PID" ] && kill "$FOLLOW_PID" 2>/dev/null && wait "$FOLLOW_PID" 2>/dev/null
  for mounted in "$WORK"/m*; do
    [ -d "$mounted" ] && "$VFS" -q unmount "$mounted" 2>/dev/null
  done
  mountpoint -q "$WORK/tmpfs" && umount "$WORK/tmpfs"
  if [ -n "$THROWAWAY_DOCKERD_PID" ]; then
    say "stopping the benchmark's dockerd"
    throwaway_dockerd_stop
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

say "starting a dockerd of the benchmark's own"
throwaway_dockerd_start "$WORK/engine" sync-bench

echo "vfs: $VFS (built $(date -r "$VFS" +%FT%T); the tree is at $(git -C "$ROOT" rev-parse --short HEAD)); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"

say "loading $IMAGES images (one docker load)"
started=$(now)
python3 "$HELPERS/sync-latency.py" images "$IMAGES"
echo "loaded $IMAGES images in $(since "$started") s"

say "1. first vfs sync --once of $IMAGES images vs the mount's ready and first walk ($ROUNDS rounds)"
for round in $(seq "$ROUNDS"); do
  mount=$WORK/m-docker-$round synced=$WORK/s-docker-$round
  started=$(now)
  "$VFS" -q mount -d --mkdir docker "$mount"
  ready=$(since "$started")
  entries=$(find "$mount" | wc -l)
  walked=$(since "$started")
  "$VFS" -q unmount "$mount"
  started=$(now)
  "$VFS" -q sync --once --mkdir docker "$synced"
  once=$(since "$started")
  synced_entries=$(find "$synced" | wc -l)
  echo "round $round: mount ready ${ready} s, ready + first find ${walked} s ($entries entries); sync --once ${once} s ($synced_entries entries)"
  rm -rf "$synced"
done

say "2. first vfs sync --once of big.yml (5,000 sections) vs the mount's first walk ($ROUNDS rounds)"
python3 "$HELPERS/gitconfig-repos.py" big "$WORK/big" >/dev/null
for round in $(seq "$ROUNDS"); do
  mount=$WORK/m-big-$round synced=$WORK/s-big-$round
  started=$(now)
  "$VFS" -q mount -d --mkdir gitconfig --state-dir "$WORK/state-m$round" "$WORK/big" "$mount"
  ready=$(since "$started")
  entries=$(find "$mount" | wc -l)
  walked=$(since "$started")
  "$VFS" -q unmount "$mount"
  started=$(now)
  "$VFS" -q sync --once --mkdir gitconfig --state-dir "$WORK/state-s$round" "$WORK/big" "$synced"
  once=$(since "$started")
  synced_entries=$(find "$synced" | wc -l)
  # The disk's floor: the same entries written by cp -a (names, times; no provider).
  started=$(now)
  cp -a "$synced" "$WORK/floor"
  floor=$(since "$started")
  echo "round $round: mount ready ${ready} s, ready + first find ${walked} s ($entries entries); sync --once ${once} s ($synced_entries entries); cp -a of the result ${floor} s"
  rm -rf "$synced" "$WORK/floor" "$WORK/state-m$round" "$WORK/state-s$round"
done

say "3. delay from a new tag to the synced folder and to the mount showing it ($TAGS tags)"
"$VFS" -q sync --mkdir docker "$WORK/s-follow" &
FOLLOW_PID=$!
"$VFS" -q mount -d --mkdir docker "$WORK/m-follow"
# The synced folder is in step once its .vfs.sock answers.
for _ in $(seq 600); do
  "$VFS" -q wait "$WORK/s-follow" 2>/dev/null && break
  sleep 0.1
done
"$VFS" -q wait "$WORK/s-follow"
"$VFS" -q wait "$WORK/m-follow"
python3 "$HELPERS/sync-latency.py" delay "$TAGS" "$WORK/s-follow" "$WORK/m-follow"

say "4. a warm make -q over $TARGETS images: synced folder, tmpfs copy, ext4 copy, mount"
mkdir -p "$WORK/make" "$WORK/tmpfs"
mount -t tmpfs -o size=2g tmpfs "$WORK/tmpfs"
"$VFS" -q wait "$WORK/s-follow"
cp -a "$WORK/s-follow" "$WORK/tmpfs/copy"
cp -a "$WORK/s-follow" "$WORK/ext4-copy"
python3 - "$TARGETS" >"$WORK/make/Makefile" <<'PY'
import sys
n = int(sys.argv[1])
print("ROOT ?= .dockerfs\n.PHONY: all\nall: " + " ".join(f"out/{i}" for i in range(1, n + 1)))
for i in range(1, n + 1):
    print(f"out/{i}: $(ROOT)/images/bench/sync-img{i}/latest\n\t@mkdir -p out && touch $@")
PY
(cd "$WORK/make" && make -s ROOT="$WORK/s-follow")
for root in "$WORK/s-follow" "$WORK/tmpfs/copy" "$WORK/ext4-copy" "$WORK/m-follow"; do
  (cd "$WORK/make" && make -q ROOT="$root") || { echo "make -q over $root is not settled" >&2; exit 1; }
done
(cd "$WORK/make" && hyperfine -N --warmup 3 --runs 30 --export-json "$WORK/make.json" \
  -n "synced folder" "make -q ROOT=$WORK/s-follow" \
  -n "tmpfs copy" "make -q ROOT=$WORK/tmpfs/copy" \
  -n "ext4 copy" "make -q ROOT=$WORK/ext4-copy" \
  -n "mount" "make -q ROOT=$WORK/m-follow" >&2)
python3 - "$WORK/make.json" <<'PY'
import json, statistics, sys
results = json.load(open(sys.argv[1]))["results"]
base = statistics.median(results[0]["times"])
for result in results:
    median = statistics.median(result["times"])
    print(f"{result['command']}: median {median * 1000:.2f} ms, min {min(result['times']) * 1000:.2f} ms, "
          f"{median / base:.2f}x the synced folder")
PY
