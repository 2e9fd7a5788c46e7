#!/bin/sh
# Makes a tiny base image without a registry: a root filesystem holding busybox, imported.
# Usage: ./make-base.sh REPOSITORY:TAG
set -eu
reference=${1:?usage: $0 REPOSITORY:TAG}
busybox=$(command -v busybox)  # busybox-static on Debian: no shared libraries needed
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/bin"
cp "$busybox" "$root/bin/busybox"
for applet in sh cat echo ls sleep true; do
  ln -s busybox "$root/bin/$applet"
done
tar -C "$root" -cf - bin | docker import --change 'CMD ["sh"]' - "$reference"
