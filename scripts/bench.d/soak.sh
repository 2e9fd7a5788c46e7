#!/usr/bin/env bash
# The soak test of issue 14 (not CI): DockerFS mounted over a throwaway dockerd while CYCLES
# create/remove cycles of tags and containers run (scripts/bench.d/soak-churn.py) under a `make -q`
# looping over the mount; the vfs process's resident memory and open files are sampled every
# EVERY cycles, then twice more after the churn stops (at once, and after SETTLE seconds).
#
#   soak.sh VFS_BINARY [CYCLES [EVERY [SETTLE]]]      defaults: 100000 10000 30
#
# Prints `cycles seconds rss_kib open_files` lines (tab-separated; after the churn, cycles is the
# last count and seconds keeps counting; SOAK_ANON=1 adds the anonymous and file-backed parts of
# rss_kib after it: `rss_kib anon_kib file_kib`). Holds the machine's engine lock exclusively
# while its dockerd starts and stops, as the test suite's throwaway engines do.
#
# SOAK_WARMUP=SECONDS [0] lets the looping make run alone that long before the first sample, so
# that the start is the workload's steady state (the mount's tree, the 100 targets looked up)
# and what the samples show after it is the churn's alone.
#
# SOAK_HEAPTRACK=OUT runs the mount in the foreground under heaptrack (`heaptrack -o OUT`, output
# OUT.zst) and kills it with SIGKILL after the last sample, so that what heaptrack reports as
# leaked is the heap live at rest (`heaptrack_print -f OUT.zst -l 1`; `-d OTHER.zst` compares two
# runs by call site; `-M FILE` writes the live heap over time).
set -euo pipefail
HELPERS=$(cd "$(dirname "$0")" && pwd)
vfs=$1 cycles=${2:-100000} every=${3:-10000} settle=${4:-30}

work=$(mktemp -d /tmp/vfs-soak.XXXXXX)
mnt=$work/mnt
mkdir -p "$mnt" "$work/out"
# shellcheck source=throwaway-dockerd.sh
. "$HELPERS/throwaway-dockerd.sh"
maker=
cleanup() { # before the engine stops (throwaway_dockerd_begin)
  [ -n "$maker" ] && kill "$maker" 2>/dev/null && wait "$maker" 2>/dev/null
  grep -qs " $mnt " /proc/mounts && { "$vfs" unmount "$mnt" || fusermount3 -uz "$mnt"; }
}
throwaway_dockerd_begin "$work" soak cleanup

python3 "$HELPERS/engine.py" images 1 100
python3 "$HELPERS/makefile.py" 100 0 >"$work/Makefile"
sleep 1
(cd "$work/out" && seq 1 100 | xargs touch)
heaptrack=${SOAK_HEAPTRACK:-} tracer=
if [ -n "$heaptrack" ]; then
  heaptrack -o "$heaptrack" "$vfs" mount docker "$mnt" >"$heaptrack.log" 2>&1 &
  tracer=$!
  for _ in $(seq 600); do grep -qs " $mnt " /proc/mounts && break; sleep 0.1; done
  pid=$(pgrep -n -f "^$vfs mount docker $mnt\$") || {
    echo "soak: no mount under heaptrack: $heaptrack.log" >&2
    exit 1
  }
else
  message=$("$vfs" mount -d docker "$mnt" 2>&1)
  [[ $message =~ pid\ ([0-9]+) ]] || {
    echo "soak: no pid in: $message" >&2
    exit 1
  }
  pid=${BASH_REMATCH[1]}
fi
# The looping make: every run stats the 100 image targets and lists the folders of new tags.
(
  set +e
  while :; do
    make -q -s -C "$work" ROOT="$mnt" >/dev/null 2>&1
    ls "$mnt/images/soak" "$mnt/containers" >/dev/null 2>&1
  done
) &
maker=$!
sleep "${SOAK_WARMUP:-0}"
started=$(date +%s.%N)
python3 "$HELPERS/soak-churn.py" "$cycles" "$every" "$pid"
kill "$maker"
wait "$maker" 2>/dev/null || true
maker=
sample() {
  printf '%s\t%.1f\t%s\t%s\n' "$cycles" "$(echo "$(date +%s.%N) - $started" | bc)" \
    "$(awk -v anon="${SOAK_ANON:-}" '/^VmRSS:/ {rss = $2} /^RssAnon:/ {a = $2} /^RssFile:/ {f = $2}
      END {print (anon == "1") ? rss "\t" a "\t" f : rss}' "/proc/$pid/status")" \
    "$(ls "/proc/$pid/fd" | wc -l)"
}
sample
sleep "$settle"
sample
if [ -n "$tracer" ]; then
  kill -KILL "$pid"
  wait "$tracer" || true
fi
