#!/usr/bin/env bash
# The soak test of issue 14 (not CI): DockerFS mounted over a throwaway dockerd while CYCLES
# create/remove cycles of tags and containers run (scripts/bench.d/soak-churn.py) under a `make -q`
# looping over the mount; the vfs process's resident memory and open files are sampled every
# EVERY cycles, then twice more after the churn stops (at once, and after SETTLE seconds).
#
#   soak.sh VFS_BINARY [CYCLES [EVERY [SETTLE]]]      defaults: 100000 10000 30
#
# Prints `cycles seconds rss_kib open_files` lines (tab-separated; after the churn, cycles is the
# last count and seconds keeps counting). Holds the machine's engine lock exclusively while its
# dockerd starts and stops, as the test suite's throwaway engines do.
set -euo pipefail
HELPERS=$(cd "$(dirname "$0")" && pwd)
vfs=$1 cycles=${2:-100000} every=${3:-10000} settle=${4:-30}

work=$(mktemp -d /tmp/vfs-soak.XXXXXX)
mnt=$work/mnt
mkdir -p "$mnt" "$work/out"
# Starting or stopping a second dockerd has taken the main engine's docker0 away for a moment:
# both happen with the machine's engine lock held exclusively (as vfs_testkit's throwaway
# engines do). The run in between holds no lock: it uses only its own engine (no bridge), and a
# lock held for the hour or two of a full soak would stall every engine test of the machine.
exec 9>/tmp/vfs-docker-engine.lock
alone() {
  echo "soak: waiting for the machine's engine alone (exclusive engine lock)" >&2
  flock -x 9
}
alone
maker=
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  [ -n "$maker" ] && kill "$maker" 2>/dev/null && wait "$maker" 2>/dev/null
  grep -qs " $mnt " /proc/mounts && { "$vfs" unmount "$mnt" || fusermount3 -uz "$mnt"; }
  if [ -f "$work/dockerd.pid" ]; then
    alone
    kill "$(cat "$work/dockerd.pid")" 2>/dev/null
    for _ in $(seq 100); do [ -f "$work/dockerd.pid" ] || break; sleep 0.2; done
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

setsid dockerd --data-root "$work/data" --exec-root "$work/exec" --pidfile "$work/dockerd.pid" \
  -H "unix://$work/docker.sock" --bridge=none --iptables=false --ip-masq=false \
  --storage-driver=vfs >"$work/dockerd.log" 2>&1 &
export DOCKER_HOST=unix://$work/docker.sock
for _ in $(seq 300); do docker info >/dev/null 2>&1 && break; sleep 0.1; done
docker info >/dev/null
flock -u 9

python3 "$HELPERS/engine.py" images 1 100
python3 "$HELPERS/makefile.py" 100 0 >"$work/Makefile"
sleep 1
(cd "$work/out" && seq 1 100 | xargs touch)
message=$("$vfs" mount -d docker "$mnt" 2>&1)
[[ $message =~ pid\ ([0-9]+) ]] || {
  echo "soak: no pid in: $message" >&2
  exit 1
}
pid=${BASH_REMATCH[1]}
# The looping make: every run stats the 100 image targets and lists the folders of new tags.
(
  set +e
  while :; do
    make -q -s -C "$work" ROOT="$mnt" >/dev/null 2>&1
    ls "$mnt/images/soak" "$mnt/containers" >/dev/null 2>&1
  done
) &
maker=$!
started=$(date +%s.%N)
python3 "$HELPERS/soak-churn.py" "$cycles" "$every" "$pid"
kill "$maker"
wait "$maker" 2>/dev/null || true
maker=
sample() {
  printf '%s\t%.1f\t%s\t%s\n' "$cycles" "$(echo "$(date +%s.%N) - $started" | bc)" \
    "$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")" "$(ls "/proc/$pid/fd" | wc -l)"
}
sample
sleep "$settle"
sample
