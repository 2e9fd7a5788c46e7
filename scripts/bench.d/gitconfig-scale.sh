#!/usr/bin/env bash
# GitConfigFS at scale (issue 11), side by side in one run, ROUNDS rounds alternating:
#   1. a 5,001-line YAML with 2,000 commits: `git blame --porcelain big.yml` vs the first full
#      `find MNT/big.yml -printf '%T@\n'` of a fresh mount (cold: nothing cached), then a second
#      `find` of the same mount vs the same `find` over a tmpfs copy of the tree;
#   2. 220 YAML files with 2,100 commits: `git blame --porcelain` of each file in turn vs the
#      first full `find MNT -printf '%T@\n'` of a fresh mount;
#   3. resident memory of that mount after its walk, and after 10,000 edits spread over the
#      files (a `find` every 500 edits, so the mount serves them).
# Usage: scripts/bench.d/gitconfig-scale.sh [ROUNDS]   (release build of vfs; default 3 rounds)
# Env: BENCH_DIR keeps the generated repositories (default: a temporary folder, removed at exit).
set -euo pipefail
rounds="${1:-3}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
vfs="${VFS:-$root/target/release/vfs}"
work="${BENCH_DIR:-$(mktemp -d)}"
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work"
[ -d "$work/big" ] || python3 "$root/scripts/bench.d/gitconfig-repos.py" big "$work/big"
[ -d "$work/mono" ] || python3 "$root/scripts/bench.d/gitconfig-repos.py" mono "$work/mono"
shm="$(mktemp -d /dev/shm/vfs-scale.XXXXXX)"
trap 'rm -rf "$shm"; [ -n "${BENCH_DIR:-}" ] || rm -rf "$work"' EXIT

seconds() { local start end; start=$(date +%s.%N); "$@" >/dev/null 2>&1; end=$(date +%s.%N); echo "$end - $start" | bc; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mount_fresh() { # SOURCE MOUNTPOINT: a mount with an empty state folder (nothing remembered)
  rm -rf "$work/state" && mkdir -p "$2"
  VFS_STATE_DIR="$work/state" "$vfs" -q mount -d gitconfig "$1" "$2"
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$(pgrep -f "mount -d gitconfig $1 " | head -1)/status"; }

echo "machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(git --version)"
echo "vfs: $vfs"
declare -a blame1 find1 find2 tmpfs2 blameall walkall rss_curve
for round in $(seq "$rounds"); do
  blame1+=("$(cd "$work/big" && seconds git blame --porcelain big.yml)")
  mount_fresh "$work/big" "$work/mnt-big"
  find1+=("$(seconds find "$work/mnt-big/big.yml" -printf '%T@\n')")
  find2+=("$(seconds find "$work/mnt-big/big.yml" -printf '%T@\n')")
  if [ "$round" = 1 ]; then cp -a "$work/mnt-big/big.yml" "$shm/"; fi
  tmpfs2+=("$(seconds find "$shm/big.yml" -printf '%T@\n')")
  "$vfs" -q unmount "$work/mnt-big"

  blameall+=("$(cd "$work/mono" && seconds sh -c 'for f in */*.yaml; do git blame --porcelain "$f"; done')")
  mount_fresh "$work/mono" "$work/mnt-mono"
  walkall+=("$(seconds find "$work/mnt-mono" -printf '%T@\n')")
  if [ "$round" = "$rounds" ]; then
    rss_walk=$(rss_kib "$work/mono")
    for edit in $(seq 10000); do
      file=$(printf 'app%02d/deploy%02d.yaml' $((edit % 22)) $(((edit / 22) % 10)))
      sed -i "0,/key0: .*/s//key0: edit$edit/" "$work/mono/$file"
      [ $((edit % 500)) = 0 ] && find "$work/mnt-mono" -printf '%T@\n' >/dev/null
      [ $((edit % 2500)) = 0 ] && rss_curve+=("$edit: $(rss_kib "$work/mono")")
    done
    rss_edits=$(rss_kib "$work/mono")
    (cd "$work/mono" && git checkout -q -- .)
  fi
  "$vfs" -q unmount "$work/mnt-mono"
done

b1=$(printf '%s\n' "${blame1[@]}" | median); f1=$(printf '%s\n' "${find1[@]}" | median)
f2=$(printf '%s\n' "${find2[@]}" | median); t2=$(printf '%s\n' "${tmpfs2[@]}" | median)
ba=$(printf '%s\n' "${blameall[@]}" | median); wa=$(printf '%s\n' "${walkall[@]}" | median)
echo
echo "| measure (median of $rounds) | seconds | baseline | ratio | target |"
echo "| --- | --- | --- | --- | --- |"
printf '| first find of big.yml (5,002 nodes) vs git blame --porcelain | %.3f | %.3f | %.2fx | <= 1.0x |\n' "$f1" "$b1" "$(echo "$f1 / $b1" | bc -l)"
printf '| second find of big.yml vs the same find on tmpfs | %.4f | %.4f | %.2fx | <= 2x |\n' "$f2" "$t2" "$(echo "$f2 / $t2" | bc -l)"
printf '| first walk of 220 files vs git blame of each in turn | %.3f | %.3f | %.2fx | <= 0.5x |\n' "$wa" "$ba" "$(echo "$wa / $ba" | bc -l)"
echo
echo "resident memory of the 220-file mount: after its walk ${rss_walk} KiB; after 10,000 edits ${rss_edits} KiB"
echo "during the edits (edits: KiB): ${rss_curve[*]}"
