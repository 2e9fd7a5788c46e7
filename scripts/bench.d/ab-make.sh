#!/usr/bin/env bash
# A/B of `make -q` over a DockerFS mount, cold and warm, for several vfs binaries in alternation,
# with tmpfs and (when installed) bindfs over the same tmpfs copy as references.
#
#   ab-make.sh WORKDIR ROUNDS VFS_BINARY...
#
# WORKDIR must hold a Makefile written by makefile.py, out/ with every output touched after the
# objects, an empty mnt/ and a tmpfs/ holding mirror.py's copy of the mount (see scripts/bench).
# The engine is DOCKER_HOST's. Prints the median of each contender and the ratios to tmpfs.
set -euo pipefail
work=$1 rounds=$2
shift 2
cd "$work"
declare -A cold warm
floor=() limit=()
# shellcheck source=stats.sh
source "$(dirname "$0")/stats.sh"
for ((round = 0; round < rounds; round++)); do
  for vfs in "$@"; do
    "$vfs" mount -d -q docker "$work/mnt"
    cold[$vfs]+="$(time_make_q "$work/mnt") "
    warm[$vfs]+="$(time_make_q "$work/mnt") "
    "$vfs" unmount "$work/mnt"
  done
  if command -v bindfs >/dev/null; then
    mkdir -p "$work/bind"
    bindfs -o ro,entry_timeout=600,attr_timeout=600,negative_timeout=600 "$work/tmpfs" "$work/bind"
    floor+=("$(time_make_q "$work/bind")")
    fusermount3 -u "$work/bind"
  fi
  limit+=("$(time_make_q "$work/tmpfs")")
done
tmpfs=$(echo "${limit[*]}" | median)
echo "tmpfs ${tmpfs} ms"
[ ${#floor[@]} -gt 0 ] && echo "bindfs cold $(echo "${floor[*]}" | median) ms ($(echo "scale=2; $(echo "${floor[*]}" | median) / $tmpfs" | bc)x)"
for vfs in "$@"; do
  c=$(echo "${cold[$vfs]}" | median) w=$(echo "${warm[$vfs]}" | median)
  echo "$vfs: cold $c ms ($(echo "scale=2; $c / $tmpfs" | bc)x), warm $w ms ($(echo "scale=2; $w / $tmpfs" | bc)x)"
done
