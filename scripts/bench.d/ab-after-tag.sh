#!/usr/bin/env bash
# A/B of the `make -q` right after an unrelated image is tagged, for several vfs binaries in
# alternation: what a change elsewhere in the engine costs a warm mount.
#
#   ab-after-tag.sh WORKDIR ROUNDS UNRELATED_IMAGE VFS_BINARY...
#
# WORKDIR as for ab-make.sh (Makefile, out/, mnt/, tmpfs/). UNRELATED_IMAGE is an image no
# target depends on; each round tags it anew (the tags are removed at the end). The engine is
# DOCKER_HOST's. Prints, per binary, the medians of the warm run before the tag and of the run
# right after it.
set -euo pipefail
work=$1 rounds=$2 image=$3
shift 3
cd "$work"
declare -A warm after
tags=()
# shellcheck source=stats.sh
source "$(dirname "$0")/stats.sh"
for ((round = 0; round < rounds; round++)); do
  for vfs in "$@"; do
    "$vfs" mount -d -q docker "$work/mnt"
    time_make_q "$work/mnt" >/dev/null
    warm[$vfs]+="$(time_make_q "$work/mnt") "
    tag="$image-ab$round$RANDOM"
    docker tag "$image" "$tag" >/dev/null
    tags+=("$tag")
    sleep 0.5 # the event reaches the mount within ~20 ms
    after[$vfs]+="$(time_make_q "$work/mnt") "
    "$vfs" unmount "$work/mnt"
  done
done
docker rmi "${tags[@]}" >/dev/null
for vfs in "$@"; do
  echo "$vfs: warm $(echo "${warm[$vfs]}" | median) ms, right after an unrelated tag $(echo "${after[$vfs]}" | median) ms"
done
