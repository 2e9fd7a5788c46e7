#!/usr/bin/env bash
# What users do today without vfs: one `docker image inspect` (or `docker container inspect`) per
# target, its time compared with the output's. Same answer as `make -q` over workload 1: exit 0
# when every output is newer than its object, 1 at the first one that is not.
#   inspect-check.sh OUT_DIR IMAGES CONTAINERS
set -euo pipefail
out=$1 images=$2 containers=$3

up_to_date() { # OUTPUT TIME_TEXT...
  local output=$1 newest=0 text seconds
  shift
  for text in "$@"; do
    seconds=$(date -d "$text" +%s 2>/dev/null || echo 0)
    ((seconds > newest)) && newest=$seconds
  done
  (($(stat -c %Y "$output") > newest))
}

for ((n = 1; n <= images; n++)); do
  read -r created tagged < <(docker image inspect --format '{{.Created}} {{.Metadata.LastTagTime}}' "bench/img$n:latest")
  up_to_date "$out/$n" "$created" "$tagged" || exit 1
done
for ((n = 1; n <= containers; n++)); do
  created=$(docker container inspect --format '{{.Created}}' "bench-c$n")
  up_to_date "$out/c$n" "$created" || exit 1
done
