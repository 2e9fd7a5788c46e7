#!/usr/bin/env bash
# GitConfigFS's walks at the limit of the kernel's caches (issue 17), on the 220 YAML files of
# gitconfig-repos.py's `mono` repository (22 folders, 2,100 commits), with complete notices
# (inotify):
#   1. FUSE requests (--debug-fuse), for each walk on a fresh mount of its own (its barrier read
#      first): the cold walk, the walk right after it, and a third (warm). Walks: `make -q` over
#      one section target a file (MNT/appXX/deployYY.yaml/services/service0), `find MNT -printf
#      '%T@ %p\n'`, `ls -lR MNT`; with the change notices the host applied meanwhile and the pages
#      the kernel reclaimed (machine-wide) meanwhile;
#   2. timing, ROUNDS rounds side by side, alternating: each warm walk over one mount (warmed by
#      two walks) and over a tmpfs copy of it (`cp -a` of the mount: the same names, times,
#      modes and links; its own Makefile naming the copy). Medians and ranges, in ms: wall time,
#      and CPU time of the walk (user + system), which the machine's load changes far less.
# Usage: scripts/bench.d/gitconfig-warm.sh [ROUNDS]   (release build of vfs; default 7 rounds)
# Env: VFS (default target/release/vfs); BENCH_DIR keeps the generated repository (default: a
# temporary folder, removed at exit).
set -euo pipefail
rounds="${1:-7}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
vfs="${VFS:-$root/target/release/vfs}"
work="${BENCH_DIR:-$(mktemp -d)}"
mkdir -p "$work"
[ -d "$work/mono" ] || python3 "$root/scripts/bench.d/gitconfig-repos.py" mono "$work/mono"
shm="$(mktemp -d /dev/shm/vfs-warm.XXXXXX)"
run="$(mktemp -d)"
mnt="$run/mnt"
pid=""
cleanup() {
  if mountpoint -q "$mnt" 2>/dev/null; then "$vfs" -q unmount "$mnt" || fusermount3 -uz "$mnt"; fi
  [ -z "$pid" ] || wait "$pid" 2>/dev/null || true
  rm -rf "$shm" "$run"
  [ -n "${BENCH_DIR:-}" ] || rm -rf "$work"
}
trap cleanup EXIT

# mount_fresh [--debug-fuse]: mounts mono at $mnt in the background, its stderr in $run/vfs.log,
# with an empty state folder (nothing remembered); returns once mounted.
mount_fresh() {
  rm -rf "$run/state" && mkdir -p "$mnt" && : >"$run/vfs.log"
  # The host's debug lines too: each change notice it applies is one ("change notice").
  env -u VFS_GITCONFIG_WATCH VFS_STATE_DIR="$run/state" RUST_LOG="${log_filter:-warn}" \
    "$vfs" "$@" mount gitconfig "$work/mono" "$mnt" \
    </dev/null 2>>"$run/vfs.log" &
  pid=$!
  for _ in $(seq 300); do mountpoint -q "$mnt" && return; sleep 0.1; done
  echo "not mounted" >&2 && exit 1
}
unmount() { "$vfs" -q unmount "$mnt"; wait "$pid" || true; pid=""; }

# make_project DIR TREE: a Makefile in DIR with one target a file, on the file's first service.
make_project() {
  mkdir -p "$1/out"
  {
    printf 'all:'
    for file in "$work"/mono/app*/*.yaml; do
      rel="${file#"$work"/mono/}"
      printf ' out/%s' "${rel//\//-}"
    done
    printf '\n'
    for file in "$work"/mono/app*/*.yaml; do
      rel="${file#"$work"/mono/}"
      printf 'out/%s: %s/%s/services/service0 ; touch $@\n' "${rel//\//-}" "$2" "$rel"
    done
  } >"$1/Makefile"
  for file in "$work"/mono/app*/*.yaml; do rel="${file#"$work"/mono/}"; touch "$1/out/${rel//\//-}"; done
}
make_project "$run/p-mnt" "$mnt"
walk() { # WALK TREE PROJECT
  case "$1" in
    make) make -q -C "$3" >/dev/null ;;
    find) find "$2" -printf '%T@ %p\n' >/dev/null ;;
    ls) ls -lR "$2" >/dev/null ;;
  esac
}
# Pages the kernel reclaimed so far, machine-wide (a cached listing or link target reclaimed under
# memory pressure is asked for again, with no notice).
reclaimed() { awk '/^pgsteal_(kswapd|direct) / {sum += $2} END {print sum}' /proc/vmstat; }
requests() { # LOG-OFFSET RECLAIMED-BEFORE: the requests logged since, by kind; notices; reclaim
  local text notices
  text=$(tail -c +$(($1 + 1)) "$run/vfs.log" | grep -a 'fuser::request: FUSE(' || true)
  notices=$(tail -c +$(($1 + 1)) "$run/vfs.log" | grep -ac 'change notice' || true)
  local why="notices $notices, pages reclaimed $(($(reclaimed) - $2))"
  [ -n "$text" ] || { echo "0; $why"; return; }
  echo "$(wc -l <<<"$text") ($(awk '{for (i = 1; i < NF; i++) if ($i == "ino") {print $(i + 2); break}}' <<<"$text" \
    | sort | uniq -c | sort -rn | awk '{printf "%s%s %s", sep, $1, $2; sep = ", "}')); $why"
}

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), kernel $(uname -r), $(make --version | head -1)"
echo "vfs: $vfs ($(stat -c %y "$vfs"))"
echo
echo "| walk | cold | right after | third |"
echo "| --- | --- | --- | --- |"
for what in make find ls; do
  log_filter="fuser=debug,vfs_host=debug" mount_fresh --debug-fuse
  cat "$mnt/.vfs" >/dev/null && sleep 0.3
  row="| $what"
  for _ in cold after third; do
    offset=$(stat -c %s "$run/vfs.log") before=$(reclaimed)
    walk "$what" "$mnt" "$run/p-mnt"
    sleep 0.3
    row="$row | $(requests "$offset" "$before")"
  done
  echo "$row |"
  unmount
done

mount_fresh
cp -a "$mnt/." "$shm/"
make_project "$run/p-shm" "$shm"
for _ in 1 2; do for what in make find ls; do walk "$what" "$mnt" "$run/p-mnt"; done; done
declare -A times cpu
for _ in $(seq "$rounds"); do
  for what in make find ls; do
    for side in mnt shm; do
      tree=$mnt project=$run/p-mnt
      [ "$side" = shm ] && tree=$shm project=$run/p-shm
      # Wall time, and CPU time (user + system: the kernel's work answering from its caches is
      # system time of the walking process), which other processes' load changes far less.
      read -r real user system <<<"$( { TIMEFORMAT='%3R %3U %3S'; time walk "$what" "$tree" "$project" 2>/dev/null; } 2>&1)"
      times[$what-$side]+="$(echo "$real * 1000" | bc -l) "
      cpu[$what-$side]+="$(echo "($user + $system) * 1000" | bc -l) "
    done
  done
done
unmount
stats() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR] = $1} END {printf "%.1f %.1f %.1f", a[int((NR + 1) / 2)], a[1], a[NR]}'; }
echo
echo "| warm walk (ms, median of $rounds, min-max) | vfs wall | tmpfs wall | ratio | vfs CPU | tmpfs CPU | ratio |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for what in make find ls; do
  read -r vm vlo vhi <<<"$(stats "${times[$what-mnt]}")"
  read -r tm tlo thi <<<"$(stats "${times[$what-shm]}")"
  read -r vc vclo vchi <<<"$(stats "${cpu[$what-mnt]}")"
  read -r tc tclo tchi <<<"$(stats "${cpu[$what-shm]}")"
  printf '| %s | %s (%s-%s) | %s (%s-%s) | %.2fx | %s (%s-%s) | %s (%s-%s) | %.2fx |\n' "$what" \
    "$vm" "$vlo" "$vhi" "$tm" "$tlo" "$thi" "$(echo "$vm / $tm" | bc -l)" \
    "$vc" "$vclo" "$vchi" "$tc" "$tclo" "$tchi" "$(echo "$vc / $tc" | bc -l)"
done
echo "load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
