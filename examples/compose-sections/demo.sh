#!/usr/bin/env bash
# Shows that editing one service rebuilds only that service's target:
# sets up the repository, mounts it, builds, edits `db`, builds again, unmounts.
# Needs the `vfs` binary on PATH (or VFS=path/to/vfs) and FUSE.
set -euo pipefail
cd "$(dirname "$0")"
VFS="${VFS:-vfs}"
bash setup.sh . >/dev/null
"$VFS" mount -d gitconfig repo .cfgfs
trap '"$VFS" unmount .cfgfs' EXIT
echo "== first build (every service)"
make --no-print-directory
echo "== nothing changed"
make --no-print-directory
echo "== after editing the db service"
sleep 0.1
# db's command is the first `sleep 3600`; cache's stays as it is.
sed -i '0,/command: sleep 3600/s//command: sleep 7200/' repo/docker-compose.yml
sleep 1   # longer than the mount's TTL
make --no-print-directory
