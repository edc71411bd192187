#!/bin/bash
# A real single-node Slurm (Debian 12's Slurm 22.05) on localhost for the project's tests.
#
# README
#   sudo launch/slurm_testbed/up.sh     # install (apt) + start; idempotent, ~10 s on a bare machine
#   sudo launch/slurm_testbed/down.sh   # stop exactly what up.sh started
#   pytest tests/test_launch_slurm.py   # the `slurm_cluster` fixture (tests/slurm_cluster.py) uses a
#                                       # running Slurm, or runs these two scripts itself as root
#
#   What runs: munged, mariadbd + slurmdbd (accounting, so `sacct` and submitit's job states work),
#   slurmctld, slurmd. One node `localhost` with the machine's CPUs and memory, one fake GPU
#   (gres gpu:1 backed by /dev/null: jobs get CUDA_VISIBLE_DEVICES but there is no CUDA),
#   partition `debug`, MaxArraySize=1001, AuthInfo=cred_expire=10 (a requeued job may start again
#   ~10 s after its requeue instead of 120 s). DefMemPerCPU=1024: 1-CPU jobs, as many at once as
#   there are CPUs.
#   No systemd needed; root needed. Every daemon this script starts has its PID recorded in
#   $SWEEP_SLURM_STATE (default /run/sweep-slurm-testbed/<daemon>.pid); down.sh stops exactly those
#   PIDs (never anything by name). A munged or MariaDB that already answers is reused, not recorded.
#   Idempotent: when the recorded daemons are alive and the node answers, it returns in well under
#   a second (resuming the node first if a previous run left it drained). Otherwise whatever it
#   recorded is stopped and everything is started again. Slurm's state (/var/spool/slurmctld) is
#   kept so job ids keep increasing (the accounting database outlives restarts: reused ids would
#   make `sacct -j ID` ambiguous); jobs left over from an earlier run are cancelled on a restart.
#   Logs: /var/log/slurm/*.log, apt's output in $SWEEP_SLURM_STATE/apt.log.
#   The daemons listen on all interfaces (ports 6817-6819): a test machine, not a shared host.
#   Environment: SWEEP_SLURM_STATE (state folder), SWEEP_SLURM_NO_INSTALL=1 (fail instead of apt).
set -euo pipefail
STATE=${SWEEP_SLURM_STATE:-/run/sweep-slurm-testbed}
HERE=$(cd "$(dirname "$0")" && pwd)
NODE=localhost
T0=$(date +%s.%N)
ts() { printf "[%6.1fs] %s\n" "$(awk -v a="$(date +%s.%N)" -v b="$T0" 'BEGIN{print a-b}')" "$*"; }
die() { echo "slurm testbed: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (installs packages, starts daemons)"

mkdir -p "$STATE"
exec 9>"$STATE/lock"  # one up.sh/down.sh at a time (two test sessions may start together)
# (every daemon below is started with 9>&-: one that inherited the lock would hold it forever)
flock -w 600 9 || die "another up.sh/down.sh holds $STATE/lock"
export SWEEP_SLURM_LOCKED=1  # down.sh, called below, must not wait on our lock

# alive NAME EXE: the PID recorded for NAME is running EXE (a stale, reused PID is not ours)
alive() { local f="$STATE/$1.pid" p; [ -s "$f" ] || return 1; p=$(cat "$f")
  local exe; exe=$(readlink -f "$2")  # /usr/sbin/slurmctld -> slurmctld-wlm (Debian alternatives)
  case "$(readlink "/proc/$p/exe" 2>/dev/null)" in "$exe"|"$exe (deleted)") return 0;; *) return 1;; esac; }
node_state() { timeout 5 sinfo -h -n $NODE -o %t 2>/dev/null | head -1 || true; }
node_ok() { case "$(node_state)" in idle|mix|alloc|comp) return 0;; *) return 1;; esac; }
resume_if_needed() { case "$(node_state)" in drain*|drng|down*|fail*)
    echo "node $NODE is '$(node_state)' ($(timeout 5 sinfo -h -n $NODE -o %E 2>/dev/null || true)): resuming"
    timeout 10 scontrol update nodename=$NODE state=resume 2>&1 || true;; esac; }
wait_node() { local i; for i in $(seq 1 "$1"); do node_ok && return 0; [ $((i % 8)) = 0 ] && resume_if_needed; sleep 0.25; done; node_ok; }

# ---- fast path: already up ----
if alive slurmctld /usr/sbin/slurmctld && alive slurmd /usr/sbin/slurmd && alive slurmdbd /usr/sbin/slurmdbd \
   && { [ ! -e "$STATE/mariadbd.pid" ] || alive mariadbd /usr/sbin/mariadbd; } \
   && { [ ! -e "$STATE/munged.pid" ] || alive munged /usr/sbin/munged; }; then
  resume_if_needed
  if wait_node 40; then ts "already up: $(timeout 5 sinfo -h -o '%P %N %t %G')"; exit 0; fi
  echo "recorded daemons alive but node is '$(node_state)': restarting everything"
fi
"$HERE/down.sh"  # whatever is left of an earlier start (no-op when nothing was recorded)

# ---- packages; postinst must not start daemons (no systemd here): policy-rc.d says no ----
PKGS="slurmctld slurmd slurm-client munge slurmdbd mariadb-server"
missing=""
for p in $PKGS; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"; done
if [ -n "$missing" ]; then
  [ "${SWEEP_SLURM_NO_INSTALL:-0}" = 1 ] && die "packages missing:$missing (SWEEP_SLURM_NO_INSTALL=1)"
  command -v apt-get >/dev/null || die "packages missing:$missing and no apt-get"
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  export DEBIAN_FRONTEND=noninteractive
  inst() { apt-get install -y -q --no-install-recommends $PKGS >>"$STATE/apt.log" 2>&1; }
  : >"$STATE/apt.log"
  inst || { apt-get update -q >>"$STATE/apt.log" 2>&1 && inst; } \
    || { tail -30 "$STATE/apt.log" >&2; die "apt-get install failed (log: $STATE/apt.log)"; }
  rm -f /usr/sbin/policy-rc.d; trap - EXIT
  ts "installed:$missing"
fi

# ---- munge (reused if one already answers) ----
if timeout 5 munge -n 2>/dev/null | timeout 5 unmunge >/dev/null 2>&1; then
  ts "munge: a munged already answers, reusing it"
else
  [ -s /etc/munge/munge.key ] || mungekey --create --force
  chown munge:munge /etc/munge/munge.key; chmod 400 /etc/munge/munge.key
  install -d -o munge -g munge -m 0755 /run/munge /var/log/munge /var/lib/munge
  rm -f /run/munge/munged.pid
  # --force: start despite the socket a killed munged left behind (none answered just above)
  runuser -u munge -- /usr/sbin/munged --force </dev/null >/dev/null 2>&1 9>&-
  for i in $(seq 1 40); do [ -s /run/munge/munged.pid ] && break; sleep 0.25; done
  cp /run/munge/munged.pid "$STATE/munged.pid"
  timeout 5 munge -n | timeout 5 unmunge >/dev/null || die "munged does not answer"
  ts "munged up (pid $(cat "$STATE/munged.pid"))"
fi

# ---- config ----
install -d -m 0755 /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
MARK="# written by the project's launch/slurm_testbed/up.sh"
for f in /etc/slurm/slurm.conf /etc/slurm/gres.conf /etc/slurm/slurmdbd.conf; do
  if [ -s "$f" ] && ! grep -qF "$MARK" "$f" && [ ! -e "$f.before-testbed" ]; then
    cp -p "$f" "$f.before-testbed"; echo "kept a copy of the existing $f as $f.before-testbed"
  fi
done
NODE_HW=$(slurmd -C | head -1 | sed -e 's/^NodeName=[^ ]*//' -e 's/UpTime=.*//')
cat > /etc/slurm/slurm.conf <<CONF
$MARK
ClusterName=sweeptest
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=cred_expire=10
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
AccountingStorageTRES=gres/gpu
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0,sched_interval=5,bf_interval=5
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
MaxArraySize=1001
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
Waittime=0
GresTypes=gpu
NodeName=$NODE NodeAddr=127.0.0.1 $NODE_HW Gres=gpu:1 State=UNKNOWN
PartitionName=debug Nodes=$NODE Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
cat > /etc/slurm/gres.conf <<CONF
$MARK
AutoDetect=off
NodeName=$NODE Name=gpu File=/dev/null
CONF
cat > /etc/slurm/slurmdbd.conf <<CONF
$MARK
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=root
StorageLoc=slurm_acct_db
LogFile=/var/log/slurm/slurmdbd.log
PidFile=$STATE/slurmdbd.pid
DebugLevel=info
CONF
chmod 600 /etc/slurm/slurmdbd.conf

# ---- accounting: MariaDB (reused if one already answers) + slurmdbd ----
if timeout 5 mariadb -e 'select 1' >/dev/null 2>&1; then
  ts "mariadb: a server already answers, reusing it"
else
  install -d -o mysql -g root -m 0755 /run/mysqld
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null
  # setsid: out of the caller's process group (a Ctrl-C in pytest's terminal must not reach it)
  setsid /usr/sbin/mariadbd --user=mysql --skip-networking --innodb-buffer-pool-size=64M \
    --innodb-lock-wait-timeout=900 </dev/null >>/var/log/slurm/mariadb.log 2>&1 9>&- &
  echo $! > "$STATE/mariadbd.pid"
  for i in $(seq 1 120); do timeout 5 mariadb -e 'select 1' >/dev/null 2>&1 && break
    alive mariadbd /usr/sbin/mariadbd || break; sleep 0.25; done
  timeout 5 mariadb -e 'select 1' >/dev/null 2>&1 || { tail -20 /var/log/slurm/mariadb.log >&2; die "mariadb did not start"; }
  ts "mariadb up (pid $(cat "$STATE/mariadbd.pid"))"
fi
/usr/sbin/slurmdbd </dev/null >/dev/null 2>&1 9>&-  # daemonizes, writes its pid file
for i in $(seq 1 120); do timeout 5 sacctmgr -n show cluster >/dev/null 2>&1 && break; sleep 0.25; done
timeout 5 sacctmgr -n show cluster >/dev/null 2>&1 || { tail -20 /var/log/slurm/slurmdbd.log >&2; die "slurmdbd does not answer"; }
ts "slurmdbd up (pid $(cat "$STATE/slurmdbd.pid"))"

# ---- controller and node ----
/usr/sbin/slurmctld </dev/null >/dev/null 2>&1 9>&-  # daemonizes
/usr/sbin/slurmd -N $NODE </dev/null >/dev/null 2>&1 9>&-  # -N: the hostname need not be localhost
for i in $(seq 1 40); do [ -s "$STATE/slurmctld.pid" ] && [ -s "$STATE/slurmd.pid" ] && break; sleep 0.25; done
alive slurmctld /usr/sbin/slurmctld || { tail -20 /var/log/slurm/slurmctld.log >&2; die "slurmctld did not start"; }
alive slurmd /usr/sbin/slurmd || { tail -20 /var/log/slurm/slurmd.log >&2; die "slurmd did not start"; }
wait_node 120 || { timeout 5 sinfo -h -o '%N %t %E' >&2 || true; tail -20 /var/log/slurm/slurmctld.log >&2; die "node not idle"; }
leftover=$(timeout 5 squeue -h -o %i 2>/dev/null || true)
if [ -n "$leftover" ]; then
  echo "cancelling jobs left from an earlier run: $(echo $leftover)"; timeout 10 scancel $leftover || true
fi
ts "slurmctld (pid $(cat "$STATE/slurmctld.pid")) + slurmd (pid $(cat "$STATE/slurmd.pid")) up: $(timeout 5 sinfo -h -o '%P %N %t %G')"
