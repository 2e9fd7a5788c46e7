#!/usr/bin/env bash
# Makes the WORKDIR that ab-make.sh, ab-make-rt.sh and make-after-mount.sh take, on a throwaway
# dockerd of its own (throwaway-dockerd.sh), runs COMMAND in it with DOCKER_HOST set to that
# engine, then stops the engine and removes WORKDIR:
#
#   ab-workdir.sh WORKDIR IMAGES CONTAINERS VFS COMMAND...     (as root)
#   e.g. ab-workdir.sh /tmp/abw 1000 200 new/vfs \
#          scripts/bench.d/ab-make-rt.sh /tmp/abw 7 old/vfs new/vfs
#
# The WORKDIR: the engine (engine/), images bench/img1..IMAGES:latest and containers
# bench-c1..CONTAINERS (engine.py), the Makefile of makefile.py, out/ touched after the objects,
# an empty mnt/ and tmpfs/ holding VFS's mount copied by mirror.py (same names, links and times).
# COMMAND's status is the script's.
set -euo pipefail
HELPERS=$(cd "$(dirname "$0")" && pwd)
work=$1 images=$2 containers=$3 vfs=$4
shift 4
[ ! -e "$work" ] || {
  echo "ab-workdir: $work exists; give a new folder" >&2
  exit 1
}
for tool in dockerd docker make python3 flock fusermount3; do
  command -v "$tool" >/dev/null || {
    echo "ab-workdir: $tool is missing" >&2
    exit 1
  }
done
mkdir -p "$work/out" "$work/mnt" "$work/tmpfs"

# shellcheck source=throwaway-dockerd.sh
. "$HELPERS/throwaway-dockerd.sh"
cleanup() { # before the engine stops (throwaway_dockerd_begin)
  for mountpoint in "$work/mnt" "$work/bind"; do
    grep -qs " $mountpoint " /proc/mounts && { "$vfs" unmount "$mountpoint" || fusermount3 -uz "$mountpoint"; }
  done
  grep -qs " $work/tmpfs " /proc/mounts && umount "$work/tmpfs"
}
throwaway_dockerd_begin "$work" ab-workdir cleanup
python3 "$HELPERS/engine.py" images 1 "$images"
python3 "$HELPERS/engine.py" containers 1 "$containers"
python3 "$HELPERS/makefile.py" "$images" "$containers" >"$work/Makefile"
sleep 1
(
  cd "$work/out"
  { seq 1 "$images" && seq 1 "$containers" | sed 's/^/c/'; } | xargs -r touch
)
mount -t tmpfs -o size=512m vfs-ab-workdir "$work/tmpfs"
"$vfs" mount -d -q docker "$work/mnt"
python3 "$HELPERS/mirror.py" "$work/mnt" "$work/tmpfs" >/dev/null
"$vfs" unmount "$work/mnt"
make -q -s -C "$work" ROOT="$work/tmpfs" || {
  echo "ab-workdir: make -q finds work to do over the tmpfs copy; the setup is wrong" >&2
  exit 1
}
echo "ab-workdir: $work ready ($images images, $containers containers); DOCKER_HOST=$DOCKER_HOST" >&2
"$@"
