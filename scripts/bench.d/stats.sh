# Sourced by the A/B scripts beside this file.

# The median of the numbers on stdin (separated by spaces or newlines).
median() { tr ' ' '\n' | grep . | sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

# Milliseconds one `make -q -s ROOT=$1` takes in the current directory.
time_make_q() {
  local start end
  start=$(date +%s%N)
  make -q -s ROOT="$1" >/dev/null
  end=$(date +%s%N)
  echo $(((end - start) / 1000000))
}
