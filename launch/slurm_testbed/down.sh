#!/bin/bash
# Stop the daemons launch/slurm_testbed/up.sh started: only the PIDs it recorded in
# $SWEEP_SLURM_STATE (default /run/sweep-slurm-testbed), never anything by name. Jobs still on
# the test cluster are cancelled first. SIGTERM, then SIGKILL after 15 s. Root needed.
set -uo pipefail
STATE=${SWEEP_SLURM_STATE:-/run/sweep-slurm-testbed}
[ -d "$STATE" ] || exit 0
if [ -z "${SWEEP_SLURM_LOCKED:-}" ]; then  # up.sh calls us while holding the lock
  exec 9>"$STATE/lock"; flock -w 600 9 || { echo "another up.sh/down.sh holds $STATE/lock" >&2; exit 1; }
fi

# mine NAME EXE: prints the recorded PID if that process still runs EXE (a reused PID is left alone)
mine() { local f="$STATE/$1.pid" p; [ -s "$f" ] || return 1; p=$(cat "$f")
  local exe; exe=$(readlink -f "$2")  # /usr/sbin/slurmctld -> slurmctld-wlm (Debian alternatives)
  case "$(readlink "/proc/$p/exe" 2>/dev/null)" in "$exe"|"$exe (deleted)") echo "$p";; *) return 1;; esac; }
stop() { local p i; p=$(mine "$1" "$2"); rm -f "$STATE/$1.pid"; [ -n "$p" ] || return 0
  kill "$p" 2>/dev/null || return 0
  for i in $(seq 1 60); do kill -0 "$p" 2>/dev/null || { echo "stopped $1 (pid $p)"; return 0; }; sleep 0.25; done
  echo "$1 (pid $p) still alive after 15 s: SIGKILL"; kill -9 "$p" 2>/dev/null || true; }

if mine slurmctld /usr/sbin/slurmctld >/dev/null && mine slurmd /usr/sbin/slurmd >/dev/null; then
  jobs=$(timeout 5 squeue -h -o %i 2>/dev/null)
  if [ -n "$jobs" ]; then
    echo "cancelling jobs: $(echo $jobs)"; timeout 10 scancel $jobs
    for i in $(seq 1 60); do [ -z "$(timeout 5 squeue -h -o %i 2>/dev/null)" ] && break; sleep 0.25; done
  fi
fi
stop slurmd /usr/sbin/slurmd  # first, then the controller, then accounting
stop slurmctld /usr/sbin/slurmctld
stop slurmdbd /usr/sbin/slurmdbd
stop mariadbd /usr/sbin/mariadbd
stop munged /usr/sbin/munged
rm -f "$STATE/fixture-started" "$STATE"/users/* 2>/dev/null
exit 0
