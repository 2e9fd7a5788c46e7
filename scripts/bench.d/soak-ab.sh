#!/usr/bin/env bash
# The soak of soak.sh as an A/B: several DockerFS mounts over ONE throwaway dockerd (100 images),
# each with its own looping `make -q` and `ls`, all fed the same events by one churn
# (soak-churn.py), so that binaries or allocator settings compare under the very same cycles.
#
#   soak-ab.sh CYCLES EVERY SETTLE CONTENDER…
#
# A CONTENDER is `ENV|BINARY`: environment assignments (space-separated, may be empty) for the
# mount, then the vfs binary, e.g. '|/tmp/vfs-a' or
# 'LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2|/tmp/vfs-a'.
# Prints `cycles seconds` then, for each contender in turn, `rss_kib anon_kib file_kib open_files`
# (VmRSS, RssAnon, RssFile of /proc/PID/status), every EVERY cycles, at the end of the churn and
# SETTLE seconds later (the looping makes stopped); then each mount's anonymous mappings at rest
# (`kib start-end perms name` from /proc/PID/smaps, largest first) on stderr. SOAK_WORKERS as in
# soak-churn.py.
set -euo pipefail
HELPERS=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 4 ] || {
  sed -n '2,15p' "$0" >&2
  exit 2
}
cycles=$1 every=$2 settle=$3
shift 3

work=$(mktemp -d /tmp/vfs-soak-ab.XXXXXX)
mkdir -p "$work/out"
# shellcheck source=throwaway-dockerd.sh
. "$HELPERS/throwaway-dockerd.sh"
pids=() mnts=() binaries=() makers=()
cleanup() { # before the engine stops (throwaway_dockerd_begin)
  for maker in "${makers[@]}"; do kill "$maker" 2>/dev/null && wait "$maker" 2>/dev/null; done
  for i in "${!mnts[@]}"; do
    grep -qs " ${mnts[$i]} " /proc/mounts || continue
    "${binaries[$i]}" unmount "${mnts[$i]}" || fusermount3 -uz "${mnts[$i]}"
  done
}
throwaway_dockerd_begin "$work" soak-ab cleanup

python3 "$HELPERS/engine.py" images 1 100
python3 "$HELPERS/makefile.py" 100 0 >"$work/Makefile"
sleep 1
(cd "$work/out" && seq 1 100 | xargs touch)
for contender in "$@"; do
  settings=${contender%%|*} vfs=${contender#*|}
  mnt=$work/mnt${#mnts[@]}
  mkdir -p "$mnt"
  # shellcheck disable=SC2086 # the settings are words
  message=$(env $settings "$vfs" mount -d docker "$mnt" 2>&1)
  [[ $message =~ pid\ ([0-9]+) ]] || {
    echo "soak-ab: no pid in: $message" >&2
    exit 1
  }
  pids+=("${BASH_REMATCH[1]}") mnts+=("$mnt") binaries+=("$vfs")
  echo "soak-ab: contender ${#pids[@]}: '$contender', pid ${BASH_REMATCH[1]}" >&2
  (
    set +e
    while :; do
      make -q -s -C "$work" ROOT="$mnt" >/dev/null 2>&1
      ls "$mnt/images/soak" "$mnt/containers" >/dev/null 2>&1
    done
  ) &
  makers+=($!)
done
started=$(date +%s.%N)
SOAK_ANON=1 python3 "$HELPERS/soak-churn.py" "$cycles" "$every" "$(
  IFS=,
  echo "${pids[*]}"
)"
for maker in "${makers[@]}"; do
  kill "$maker"
  wait "$maker" 2>/dev/null || true
done
makers=()
sample() {
  local line pid
  line=$(printf '%s\t%.1f' "$cycles" "$(echo "$(date +%s.%N) - $started" | bc)")
  for pid in "${pids[@]}"; do
    line+=$(awk '/^(VmRSS|RssAnon|RssFile):/ {printf "\t%s", $2}' "/proc/$pid/status")
    line+=$(printf '\t%s' "$(ls "/proc/$pid/fd" | wc -l)")
  done
  echo "$line"
}
sample
sleep "$settle"
sample
for pid in "${pids[@]}"; do
  echo "soak-ab: anonymous memory of pid $pid at rest, KiB:" >&2
  awk '/^[0-9a-f]+-[0-9a-f]+ / {m = $1 " " $2 " " $6} /^Anonymous:/ {if ($2 > 0) print $2, m}' \
    "/proc/$pid/smaps" | sort -rn | head -8 >&2
done
