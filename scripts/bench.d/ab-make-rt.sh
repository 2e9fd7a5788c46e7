#!/usr/bin/env bash
# ab-make.sh's A/B of two vfs binaries (cold and warm `make -q` over a DockerFS mount), for a
# busy machine: the mount and make run with real-time priority (chrt -f 10, so other load
# hardly moves the figures), the two binaries swap places every round, and every round is
# printed with the vfs process's CPU time, then the tmpfs reference and (when installed) bindfs
# freshly mounted over the tmpfs copy, cold: the FUSE floor of a cold run.
#
#   ab-make-rt.sh WORKDIR ROUNDS VFS_A VFS_B      (as root; WORKDIR as for ab-make.sh)
#   AB_SETTLED=1: the cold make starts after the mount's barrier (reading mnt/.vfs: DockerFS's
#                 background image inspects done), so it times the FUSE requests alone
set -euo pipefail
work=$1 rounds=$2 a=$3 b=$4
cd "$work"
tick=$(getconf CLK_TCK)
rt_make_q() { # ROOT: milliseconds of one real-time `make -q -s ROOT=…`
  local start end
  start=$(date +%s%N)
  chrt -f 10 make -q -s ROOT="$1" >/dev/null
  end=$(date +%s%N)
  echo $(((end - start) / 1000000))
}
cpu_ms() { awk -v tick="$tick" '{print ($14 + $15) * 1000 / tick}' "/proc/$1/stat"; }
for ((round = 0; round < rounds; round++)); do
  if ((round % 2)); then order=("$b" "$a"); else order=("$a" "$b"); fi
  for vfs in "${order[@]}"; do
    chrt -f 10 "$vfs" mount -d -q docker "$work/mnt"
    pid=$(pgrep -n -f "^$vfs mount")
    if [ "${AB_SETTLED:-}" = 1 ]; then cat "$work/mnt/.vfs" >/dev/null; fi
    c0=$(cpu_ms "$pid")
    cold=$(rt_make_q "$work/mnt")
    c1=$(cpu_ms "$pid")
    warm=$(rt_make_q "$work/mnt")
    c2=$(cpu_ms "$pid")
    "$vfs" unmount "$work/mnt"
    echo "$vfs cold ${cold} ms (vfs cpu $(echo "$c1 - $c0" | bc) ms) warm ${warm} ms (vfs cpu $(echo "$c2 - $c1" | bc) ms)"
  done
  echo "tmpfs $(rt_make_q "$work/tmpfs") ms"
  if command -v bindfs >/dev/null; then
    mkdir -p "$work/bind"
    chrt -f 10 bindfs -o ro,entry_timeout=600,attr_timeout=600,negative_timeout=600 "$work/tmpfs" "$work/bind"
    echo "bindfs cold $(rt_make_q "$work/bind") ms"
    fusermount3 -u "$work/bind"
  fi
done
