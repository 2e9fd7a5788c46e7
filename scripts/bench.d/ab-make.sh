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
run() { local start end; start=$(date +%s%N); make -q -s ROOT="$1" >/dev/null; end=$(date +%s%N); echo $(((end - start) / 1000000)); }
for ((round = 0; round < rounds; round++)); do
  for vfs in "$@"; do
    "$vfs" mount -d -q docker "$work/mnt"
    cold[$vfs]+="$(run "$work/mnt") "
    warm[$vfs]+="$(run "$work/mnt") "
    "$vfs" unmount "$work/mnt"
  done
  if command -v bindfs >/dev/null; then
    mkdir -p "$work/bind"
    bindfs -o ro,entry_timeout=600,attr_timeout=600,negative_timeout=600 "$work/tmpfs" "$work/bind"
    floor+=("$(run "$work/bind")")
    fusermount3 -u "$work/bind"
  fi
  limit+=("$(run "$work/tmpfs")")
done
median() { tr ' ' '\n' | grep . | sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
tmpfs=$(echo "${limit[*]}" | median)
echo "tmpfs ${tmpfs} ms"
[ ${#floor[@]} -gt 0 ] && echo "bindfs cold $(echo "${floor[*]}" | median) ms ($(echo "scale=2; $(echo "${floor[*]}" | median) / $tmpfs" | bc)x)"
for vfs in "$@"; do
  c=$(echo "${cold[$vfs]}" | median) w=$(echo "${warm[$vfs]}" | median)
  echo "$vfs: cold $c ms ($(echo "scale=2; $c / $tmpfs" | bc)x), warm $w ms ($(echo "scale=2; $w / $tmpfs" | bc)x)"
done
