#!/usr/bin/env bash
# A/B of DockerFS start-up for several vfs binaries in alternation: time from `vfs mount -d` to
# the last image's tag resolving, and the CPU (clock ticks, 1/100 s) of vfs and of dockerd meanwhile.
#
#   ab-ready.sh MOUNTPOINT IMAGES ROUNDS VFS_BINARY...
#
# The engine is DOCKER_HOST's; DOCKERD_PID_FILE names its pid file [/var/run/docker.pid].
set -euo pipefail
mnt=$1 images=$2 rounds=$3
shift 3
dockerd=$(cat "${DOCKERD_PID_FILE:-/var/run/docker.pid}")
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
for ((round = 0; round < rounds; round++)); do
  for vfs in "$@"; do
    before=$(ticks "$dockerd") start=$(date +%s.%N)
    message=$("$vfs" mount -d docker "$mnt" 2>&1)
    stat -L "$mnt/images/bench/img$images/latest" >/dev/null
    end=$(date +%s.%N) after=$(ticks "$dockerd")
    [[ $message =~ pid\ ([0-9]+) ]]
    echo "$vfs ready $(echo "$end - $start" | bc) s vfs_ticks $(ticks "${BASH_REMATCH[1]}") dockerd_ticks $((after - before))"
    "$vfs" unmount "$mnt"
  done
done
