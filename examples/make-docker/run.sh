#!/bin/sh
# The whole demonstration on a fresh machine (Docker engine and FUSE needed; no registry):
# mount, first build, an up-to-date second run, a rebuild after a source change, unmount.
# Set VFS to the vfs binary if it is not on PATH; IMAGE, BASE and CONTAINER to rename things.
set -eu
cd "$(dirname "$0")"
VFS=${VFS:-vfs}
mkdir -p .dockerfs
"$VFS" mount -d docker .dockerfs
trap '"$VFS" unmount .dockerfs' EXIT
# app/message.txt is the source this demonstration changes (not tracked by git).
[ -f app/message.txt ] || echo "hello from make-docker" > app/message.txt

# Every recipe ends with `vfs wait`, so each make sees what the one before it did.
step() { echo "== $1"; }

echo "== first run: builds the base and the image"
make
step "second run: nothing to do"
make
step "source change: rebuilds"
echo "changed at $(date)" >> app/message.txt
make
step "after the rebuild: nothing to do"
make
step "touch without a change: a cached rebuild, counted as one"
sleep 1
touch app/message.txt
make
step "and nothing to do again"
make
