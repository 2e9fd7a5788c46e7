#!/usr/bin/env bash
# Issue 14's lazy-lookup targets, for several vfs binaries in alternation, in one run, against a
# throwaway dockerd of its own (its images are wiped with it instead of removed one tag at a time):
#   - ready: `vfs mount -d docker MNT` until the last image's tag resolves (`stat -L`);
#   - cold: `make -q` over 200 image targets on a fresh mount (mounted before, not timed);
#   - warm: the same `make -q` again once the mount is quiet (engine calls counted meanwhile);
#   - tmpfs: the same `make -q` over a copy of the mount's tree on a tmpfs (the limit);
#   - the engine's image list alone (`GET /images/json?all=1`, curl): the floor of any ready
#     that lists the images.
#
#   lazy-scale.sh ROUNDS "SIZES" VFS_BINARY...     e.g. lazy-scale.sh 5 "100 200 10000" old/vfs new/vfs
#
# LAZY_TARGETS sets the number of make targets [200] (sizes below it measure ready alone);
# LAZY_RUST_LOG the mounts' RUST_LOG [vfs_docker::engine=debug, which the warm check counts].
# Sizes grow in one run (images bench/imgN:latest are added, never removed until the end). Prints
# one line per measurement (size, binary, measure, value) to stdout and a table of medians at the
# end. Holds the machine's engine lock (/tmp/vfs-docker-engine.lock) exclusively while the second
# dockerd starts and stops (scripts/bench.d/throwaway-dockerd.sh), as the test suite's throwaway
# engines do, and no lock in between.
set -euo pipefail
HELPERS=$(cd "$(dirname "$0")" && pwd)
rounds=$1 sizes=$2
shift 2
binaries=("$@")
TARGETS=${LAZY_TARGETS:-200}

for tool in dockerd docker make python3 flock fusermount3 curl bc; do
  command -v "$tool" >/dev/null || {
    echo "lazy-scale: $tool is missing" >&2
    exit 1
  }
done

work=$(mktemp -d /tmp/vfs-lazy-scale.XXXXXX)
tmpfs=$work/tmpfs results=$work/results.tsv
mkdir -p "$tmpfs" "$work/out"
# A mountpoint of its own for every mount: the process serving an unmounted mount lives on for
# a moment, and must not meet a new mount at its old path.
serial=0
next_mountpoint() {
  serial=$((serial + 1))
  mnt=$work/m$serial
  mkdir -p "$mnt"
}
: >"$results"

# shellcheck source=throwaway-dockerd.sh
. "$HELPERS/throwaway-dockerd.sh"

cleanup() { # before the engine stops (throwaway_dockerd_begin)
  for mountpoint in "$work"/m*; do
    grep -qs " $mountpoint " /proc/mounts && { "${binaries[0]}" unmount "$mountpoint" || fusermount3 -uz "$mountpoint"; }
  done
  grep -qs " $tmpfs " /proc/mounts && umount "$tmpfs"
  # The mounts' logs. (The vfs storage driver leaves plain folders: removed with $work.)
  rm -rf /var/log/vfs/*"${work##*.}"*
}
throwaway_dockerd_begin "$work" lazy-scale cleanup

now() { date +%s.%N; }
record() { printf '%s\t%s\t%s\t%s\n' "$@" | tee -a "$results"; }
mount_vfs() { # BINARY: mounts at $mnt with engine calls logged; prints the log's path (call
  # next_mountpoint first)
  local message
  message=$(RUST_LOG=${LAZY_RUST_LOG:-vfs_docker::engine=debug} "$1" mount -d docker "$mnt" 2>&1)
  [[ $message =~ log:\ ([^\;]+)\; ]] || {
    echo "lazy-scale: no log in: $message" >&2
    return 1
  }
  echo "${BASH_REMATCH[1]}"
}
calls() { grep -c 'engine call' "$1" || true; }
# Until the mount's engine calls stop (its background inspects, the events of its start).
quiet() { # LOG
  local last=-1 current
  for _ in $(seq 600); do
    current=$(calls "$1")
    [ "$current" = "$last" ] && return
    last=$current
    sleep 0.5
  done
}
make_q() { make -q -s -C "$work" ROOT="$1"; }
timed() { # COMMAND...: prints its wall time in seconds
  local started
  started=$(now)
  "$@" >/dev/null
  echo "$(now) - $started" | bc
}

loaded=0
python3 "$HELPERS/makefile.py" "$TARGETS" 0 >"$work/Makefile"
for size in $sizes; do
  if ((size > loaded)); then
    started=$(now)
    python3 "$HELPERS/engine.py" images $((loaded + 1)) "$size"
    echo "lazy-scale: images $((loaded + 1))..$size loaded in $(echo "$(now) - $started" | bc) s" >&2
    loaded=$size
  fi
  # The make measures need the targets' images (a size below TARGETS measures ready alone).
  makes=$((size >= TARGETS))
  if ((makes)); then
    sleep 1
    (cd "$work/out" && seq 1 "$TARGETS" | xargs touch)
    # The limit: the tree copied onto a tmpfs with the same times.
    grep -qs " $tmpfs " /proc/mounts && umount "$tmpfs"
    mount -t tmpfs -o size=512m vfs-lazy "$tmpfs"
    next_mountpoint
    mount_vfs "${binaries[-1]}" >/dev/null
    python3 "$HELPERS/mirror.py" "$mnt" "$tmpfs" >/dev/null
    "${binaries[-1]}" unmount "$mnt"
    make_q "$tmpfs" || {
      echo "lazy-scale: make -q finds work to do; the setup is wrong" >&2
      exit 1
    }
  fi
  for ((round = 1; round <= rounds; round++)); do
    # The floor of any "ready" that lists the images: the engine's answer to the list alone.
    record "$size" engine "image list" \
      "$(timed curl -sf --unix-socket "$THROWAWAY_DOCKERD_SOCKET" "http://engine/images/json?all=1")"
    for vfs in "${binaries[@]}"; do
      next_mountpoint
      started=$(now)
      log=$(mount_vfs "$vfs")
      stat -L "$mnt/images/bench/img$size/latest" >/dev/null
      record "$size" "$vfs" ready "$(echo "$(now) - $started" | bc)"
      "$vfs" unmount "$mnt"
      ((makes)) || continue

      next_mountpoint
      log=$(mount_vfs "$vfs")
      # Ready before timing: the mount answers (as `make` after `vfs mount -d` would find it).
      stat "$mnt" >/dev/null
      record "$size" "$vfs" cold "$(timed make_q "$mnt")"
      quiet "$log"
      make_q "$mnt"
      before=$(calls "$log")
      record "$size" "$vfs" warm "$(timed make_q "$mnt")"
      record "$size" "$vfs" "warm engine calls" "$(($(calls "$log") - before))"
      record "$size" "$vfs" tmpfs "$(timed make_q "$tmpfs")"
      "$vfs" unmount "$mnt"
    done
  done
done

python3 - "$results" <<'EOF'
import collections, statistics, sys
values = collections.defaultdict(list)
for line in open(sys.argv[1]):
    size, binary, measure, value = line.rstrip("\n").split("\t")
    values[(int(size), binary, measure)].append(float(value))
print("\n| size | binary | measure | median | runs |\n|---|---|---|---|---|")
for (size, binary, measure), runs in sorted(values.items()):
    print(f"| {size} | {binary} | {measure} | {statistics.median(runs):.4f} | {' '.join(f'{v:.4f}' for v in runs)} |")
EOF
