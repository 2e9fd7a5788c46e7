#!/usr/bin/env bash
# Creates the example's git repository: ./repo with docker-compose.yml committed, and the
# mountpoint ./.cfgfs. Run from examples/compose-sections (or give the directory as $1).
set -euo pipefail
here="$(cd "${1:-$(dirname "$0")}" && pwd)"
cd "$here"
rm -rf repo out
mkdir -p repo .cfgfs
cp docker-compose.yml repo/
cd repo
git init -q -b main
git config user.name "Example"
git config user.email "example@example.com"
git add docker-compose.yml
GIT_COMMITTER_DATE="@1600000000 +0000" GIT_AUTHOR_DATE="@1600000000 +0000" \
    git commit -q -m "compose file"
echo "repository ready in $here/repo; mount it with:"
echo "  vfs mount -d gitconfig $here/repo $here/.cfgfs"
