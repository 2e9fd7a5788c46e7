# A dockerd of a benchmark's own, sourced by scripts/bench.d/*.sh: its own data-root, exec-root,
# socket and pidfile under one folder, its own Linux bridge (vfsbrN, 10.213.N.1/24), no
# iptables, no masquerading, the vfs storage driver (so its images go with the folder). Not
# `--bridge=none`: a dockerd started with it deletes the machine's docker0 (moby's
# removeDefaultBridgeInterface), and the main engine's containers could not start after it. Neither the machine's engine nor tests running
# beside see it.
#
#   throwaway_dockerd_start DIR NAME   starts it in DIR (created), exports DOCKER_HOST; NAME
#                                      prefixes its messages
#   throwaway_dockerd_stop             stops it, if it was started (for an EXIT trap)
#   throwaway_dockerd_begin WORK NAME [CLEANUP]
#                                      for a script that runs in a folder WORK of its own:
#                                      sets its traps, then starts the engine in WORK/engine.
#                                      On the script's exit (its end, an error, Ctrl-C: 130,
#                                      TERM: 143) runs CLEANUP, a function of the script's (its
#                                      own unmounts and kills, with set +e), then
#                                      throwaway_dockerd_stop, removes WORK and exits with the
#                                      script's status
#
# Starting and stopping happen with the machine's engine lock (/tmp/vfs-docker-engine.lock, fd 9)
# held exclusively, as vfs_testkit's throwaway engines do (which also keeps two from picking the
# same bridge). The run in between holds no lock: it uses
# only its own engine and bridge, and a lock held through an hour-long run would stall every
# engine test of the machine.
#
# After the start: THROWAWAY_DOCKERD_DIR, THROWAWAY_DOCKERD_SOCKET (for curl --unix-socket),
# THROWAWAY_DOCKERD_PID; its log is DIR/dockerd.log.
THROWAWAY_DOCKERD_DIR= THROWAWAY_DOCKERD_SOCKET= THROWAWAY_DOCKERD_PID= THROWAWAY_DOCKERD_NAME=
THROWAWAY_DOCKERD_BRIDGE= THROWAWAY_DOCKERD_WORK= THROWAWAY_DOCKERD_CLEANUP=

throwaway_dockerd_alone() {
  echo "$THROWAWAY_DOCKERD_NAME: waiting for the machine's engine alone (exclusive engine lock)" >&2
  flock -x 9
}

throwaway_dockerd_start() { # DIR NAME
  THROWAWAY_DOCKERD_DIR=$1 THROWAWAY_DOCKERD_NAME=$2
  THROWAWAY_DOCKERD_SOCKET=$1/docker.sock
  mkdir -p "$1"
  exec 9>/tmp/vfs-docker-engine.lock
  throwaway_dockerd_alone
  local number
  for number in $(seq 0 255); do
    [ -e "/sys/class/net/vfsbr$number" ] && continue
    [ -n "$(ip -4 -o address show to "10.213.$number.0/24")" ] && continue
    THROWAWAY_DOCKERD_BRIDGE=vfsbr$number
    break
  done
  [ -n "$THROWAWAY_DOCKERD_BRIDGE" ] || {
    echo "$2: no free vfsbrN bridge for the throwaway dockerd" >&2
    return 1
  }
  ip link add name "$THROWAWAY_DOCKERD_BRIDGE" type bridge
  ip address add "10.213.$number.1/24" dev "$THROWAWAY_DOCKERD_BRIDGE"
  ip link set "$THROWAWAY_DOCKERD_BRIDGE" up
  # fd 9 is not passed on: the engine must not keep the lock's file open.
  setsid dockerd --data-root "$1/data" --exec-root "$1/exec" --pidfile "$1/dockerd.pid" \
    -H "unix://$THROWAWAY_DOCKERD_SOCKET" --bridge "$THROWAWAY_DOCKERD_BRIDGE" \
    --iptables=false --ip-masq=false \
    --storage-driver=vfs >"$1/dockerd.log" 2>&1 9>&- &
  THROWAWAY_DOCKERD_PID=$!
  export DOCKER_HOST=unix://$THROWAWAY_DOCKERD_SOCKET
  for _ in $(seq 300); do docker info >/dev/null 2>&1 && break; sleep 0.1; done
  docker info >/dev/null || {
    echo "$2: the throwaway dockerd did not start: $1/dockerd.log" >&2
    return 1
  }
  # $! is setsid's, which is dockerd's unless setsid had to fork.
  THROWAWAY_DOCKERD_PID=$(cat "$1/dockerd.pid")
  flock -u 9
}

throwaway_dockerd_stop() {
  [ -n "$THROWAWAY_DOCKERD_PID" ] || return 0
  local pid=$THROWAWAY_DOCKERD_PID
  THROWAWAY_DOCKERD_PID=
  throwaway_dockerd_alone
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  # Whatever it left mounted under its folder, so that the folder can go.
  { grep -o " $THROWAWAY_DOCKERD_DIR/[^ ]*" /proc/self/mounts || true; } | sort -r |
    xargs -r -n1 umount -l
  [ -z "$THROWAWAY_DOCKERD_BRIDGE" ] || ip link delete "$THROWAWAY_DOCKERD_BRIDGE" || true
  THROWAWAY_DOCKERD_BRIDGE=
  flock -u 9
}

throwaway_dockerd_begin() { # WORK NAME [CLEANUP]
  THROWAWAY_DOCKERD_WORK=$1 THROWAWAY_DOCKERD_CLEANUP=${3:-}
  trap throwaway_dockerd_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  throwaway_dockerd_start "$1/engine" "$2"
}

throwaway_dockerd_exit() {
  local status=$?
  trap - EXIT INT TERM
  set +e
  [ -z "$THROWAWAY_DOCKERD_CLEANUP" ] || "$THROWAWAY_DOCKERD_CLEANUP"
  throwaway_dockerd_stop
  rm -rf "$THROWAWAY_DOCKERD_WORK"
  exit "$status"
}
