#!/usr/bin/env bash
# Right after `vfs mount -d` returns, per round: one mount timing a cold `make -q` alone, then
# another timing the mount's barrier (reading mnt/.vfs: DockerFS's background image inspects
# done) followed by the cold `make -q`, both from the mount's return. Shows what a make over every
# image pays for inspecting them on demand against letting the background loader do it first.
#
#   make-after-mount.sh WORKDIR ROUNDS VFS      (as root; WORKDIR as for ab-make.sh)
set -euo pipefail
work=$1 rounds=$2 vfs=$3
cd "$work"
ms() { echo $((($2 - $1) / 1000000)); }
for ((round = 0; round < rounds; round++)); do
  chrt -f 10 "$vfs" mount -d -q docker "$work/mnt"
  start=$(date +%s%N)
  chrt -f 10 make -q -s ROOT="$work/mnt" >/dev/null
  end=$(date +%s%N)
  "$vfs" unmount "$work/mnt"
  chrt -f 10 "$vfs" mount -d -q docker "$work/mnt"
  start2=$(date +%s%N)
  chrt -f 10 cat "$work/mnt/.vfs" >/dev/null
  barrier=$(date +%s%N)
  chrt -f 10 make -q -s ROOT="$work/mnt" >/dev/null
  end2=$(date +%s%N)
  "$vfs" unmount "$work/mnt"
  echo "make alone $(ms "$start" "$end") ms; barrier $(ms "$start2" "$barrier") ms + make $(ms "$barrier" "$end2") ms = $(ms "$start2" "$end2") ms"
done
