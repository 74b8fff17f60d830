#!/usr/bin/env bash
# Single-host SLURM 22.05 (Debian 12 packages) for the tests, started by hand
# (no systemd): munged, slurmctld (port 6817) and slurmd (6818) on this host,
# one partition "debug" holding this node, no accounting. Jobs may be
# submitted as root.
#
#   scripts/services/slurm.sh [start]  start what is not running; on a live,
#                                      unchanged install it changes nothing (~1 s)
#   scripts/services/slurm.sh stop     stop the daemons this script started
#                                      (by their pid files)
#   scripts/services/slurm.sh status   exit 0 when the node is idle/mixed/allocated
#
# WITH_DBD=1 also starts MariaDB (127.0.0.1:13306) and slurmdbd (6819), so
# that sacct works; WITH_DBD=0 turns accounting off again. Unset, it keeps
# whatever the previous run set up. SMOKE=1 runs the smoke job even when
# nothing had to be started (it always runs after a start).
#
# State, logs and pid files: $BIGJOB_CI_SLURM (/tmp/bigjob-ci-slurm). The
# configuration must live where the clients look: /etc/slurm/slurm.conf.
set -euo pipefail

D=${BIGJOB_CI_SLURM:-/tmp/bigjob-ci-slurm}
CONF=/etc/slurm/slurm.conf
DBDCONF=/etc/slurm/slurmdbd.conf
M=$D/mysql
MYSQL_PORT=13306
MUNGE_SOCKET=/run/munge/munge.socket.2
H=$(hostname -s)
export DEBIAN_FRONTEND=noninteractive

SERVICE=slurm
. "$(dirname "$0")/common.sh"

port_busy() { (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
node_state() { timeout 10 sinfo -h -n "$H" -o %T 2>/dev/null | head -1 || true; }
node_ok() { [[ $(node_state) =~ ^(idle|mixed|allocated|completing)$ ]]; }

do_stop() {
  # in parallel: each takes 1-2 s to shut down
  stop_pid "$D/slurmd.pid" slurmd &
  stop_pid "$D/slurmctld.pid" slurmctld &
  stop_pid "$D/slurmdbd.pid" slurmdbd &
  wait
  stop_pid "$M/mariadb.pid" mariadbd
  # munged only if this script started it (something else may use it)
  if [ -e "$D/munged.ours" ]; then
    stop_pid /run/munge/munged.pid munged
    rm -f "$D/munged.ours"
  fi
}

start_dbd() {
  command -v slurmdbd >/dev/null && command -v mariadbd >/dev/null ||
    apt_install slurmdbd mariadb-server
  mkdir -p "$M"
  if ! alive "$M/mariadb.pid" mariadbd; then
    if [ ! -d "$M/data/mysql" ]; then
      mariadb-install-db --no-defaults --user=root --datadir="$M/data" \
        --auth-root-authentication-method=normal >"$M/install.log" 2>&1 ||
        { tail -n 30 "$M/install.log" >&2; die "mariadb-install-db failed"; }
    fi
    setsid -f mariadbd --no-defaults --user=root --datadir="$M/data" \
      --port=$MYSQL_PORT --bind-address=127.0.0.1 --socket="$M/sock" \
      --pid-file="$M/mariadb.pid" --log-error="$M/err.log" --skip-log-bin \
      </dev/null >/dev/null 2>&1
    wait_for "MariaDB" "$M/err.log" mariadb --no-defaults -S "$M/sock" -uroot -e 'select 1'
    mariadb --no-defaults -S "$M/sock" -uroot -e "CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmpw'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
    say "started mariadbd on 127.0.0.1:$MYSQL_PORT"
  fi
  local new
  new=$(cat <<EOC
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
LogFile=$D/log/slurmdbd.log
PidFile=$D/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$MYSQL_PORT
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
EOC
)
  if [ "$new" != "$(cat "$DBDCONF" 2>/dev/null)" ]; then
    (umask 077 && printf '%s\n' "$new" >"$DBDCONF")
    stop_pid "$D/slurmdbd.pid" slurmdbd
  fi
  if ! alive "$D/slurmdbd.pid" slurmdbd; then
    slurmdbd </dev/null >>"$D/log/slurmdbd.out" 2>&1
    wait_for "slurmdbd" "$D/log/slurmdbd.log" bash -c 'echo >/dev/tcp/127.0.0.1/6819'
    say "started slurmdbd on port 6819"
  fi
}

do_start() {
  local started=0
  if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null ||
    ! command -v sinfo >/dev/null || ! command -v munged >/dev/null; then
    say "installing slurm-wlm munge"
    apt_install slurm-wlm munge
  fi
  mkdir -p "$D/ctld" "$D/d" "$D/log"
  chmod 755 "$D"

  # A SLURM that this script did not start but that holds our ports (other
  # state dir, by hand) is left alone: we do not start a second one. Private
  # SLURMs of tests on other ports and munge sockets do not matter.
  local p port
  for p in slurmctld:6817 slurmd:6818; do
    port=${p#*:} p=${p%:*}
    if ! alive "$D/$p.pid" "$p" && port_busy "$port"; then
      die "port $port is in use by a $p this script did not start ($(ss -ltnpH "sport = :$port" 2>/dev/null | grep -o 'pid=[0-9]*' | head -1)); stop it first"
    fi
  done

  # munge: the package creates the key; the daemon runs as user munge
  if [ ! -s /etc/munge/munge.key ]; then
    mungekey --create --keyfile /etc/munge/munge.key
    chown munge:munge /etc/munge/munge.key
    chmod 600 /etc/munge/munge.key
  fi
  # munged on the default socket (the one slurm.conf's auth/munge uses);
  # munged's of other tests on sockets of their own do not count
  if ! munge -n -S "$MUNGE_SOCKET" 2>/dev/null | unmunge -S "$MUNGE_SOCKET" >/dev/null 2>&1; then
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged --socket="$MUNGE_SOCKET" </dev/null >/dev/null 2>&1 ||
      { tail -n 20 /var/log/munge/munged.log >&2; die "munged did not start"; }
    touch "$D/munged.ours"
    say "started munged"
    started=1
  fi
  wait_for "munged" /var/log/munge/munged.log bash -c "munge -n -S $MUNGE_SOCKET | unmunge -S $MUNGE_SOCKET"

  # accounting: WITH_DBD unset keeps what runs now
  local dbd=${WITH_DBD:-}
  if [ -z "$dbd" ]; then
    if alive "$D/slurmdbd.pid" slurmdbd; then dbd=1; else dbd=0; fi
  fi
  local acct="AccountingStorageType=accounting_storage/none"
  if [ "$dbd" = 1 ]; then
    start_dbd
    acct="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30"
  fi

  # The node line is what slurmd finds (CPUs, sockets, cores, memory).
  local node
  node=$(slurmd -C | head -1)
  [[ $node == NodeName=* ]] || die "slurmd -C printed no node line: $node"
  local new
  new=$(cat <<EOC
# Written by scripts/services/slurm.sh: a single-host SLURM for the tests.
ClusterName=bigjob-ci
SlurmctldHost=$H
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=$D/ctld
SlurmdSpoolDir=$D/d
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/log/slurmctld.log
SlurmdLogFile=$D/log/slurmd.log
SlurmctldPort=6817
SlurmdPort=6818
# no usable cgroup v2 on this machine kind: track processes by pid
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# start jobs at once instead of batching them (defaults: 3 s delay, 60 s loop)
SchedulerParameters=batch_sched_delay=0,sched_interval=1,sched_min_interval=0,bf_interval=1,default_queue_depth=1000
# a walltime kill: TERM, then KILL 5 s later (default 30 s)
KillWait=5
OverTimeLimit=0
InactiveLimit=0
# finished jobs stay visible in scontrol/squeue for 5 minutes
MinJobAge=300
ReturnToService=2
SlurmdTimeout=60
$acct
$node State=UNKNOWN
PartitionName=debug Nodes=$H Default=YES MaxTime=INFINITE State=UP
EOC
)
  local changed=0
  if [ "$new" != "$(cat "$CONF" 2>/dev/null)" ]; then
    mkdir -p "$(dirname "$CONF")"
    printf '%s\n' "$new" >"$CONF.bigjob-ci.tmp"
    mv "$CONF.bigjob-ci.tmp" "$CONF"
    changed=1
  fi
  if [ "$changed" = 1 ] && { alive "$D/slurmctld.pid" slurmctld || alive "$D/slurmd.pid" slurmd; }; then
    say "configuration changed: restarting slurmctld and slurmd"
    stop_pid "$D/slurmd.pid" slurmd
    stop_pid "$D/slurmctld.pid" slurmctld
  fi
  if [ "$dbd" = 0 ]; then
    stop_pid "$D/slurmdbd.pid" slurmdbd
    stop_pid "$M/mariadb.pid" mariadbd
  fi

  # Both daemonize (a session of their own: a Ctrl-C of make does not reach
  # them); they write their pid files themselves.
  if ! alive "$D/slurmctld.pid" slurmctld; then
    slurmctld </dev/null >>"$D/log/slurmctld.out" 2>&1 ||
      { tail -n 30 "$D/log/slurmctld.log" >&2; die "slurmctld did not start"; }
    wait_for "slurmctld" "$D/log/slurmctld.log" scontrol ping
    say "started slurmctld on port 6817"
    started=1
  fi
  if ! alive "$D/slurmd.pid" slurmd; then
    slurmd </dev/null >>"$D/log/slurmd.out" 2>&1 ||
      { tail -n 30 "$D/log/slurmd.log" >&2; die "slurmd did not start"; }
    say "started slurmd on port 6818"
    started=1
  fi

  # Wait for the node; a node left DOWN/DRAIN by an earlier run is resumed.
  local i s
  for i in $(seq 600); do
    node_ok && break
    s=$(node_state)
    if [[ $s =~ ^(down|drained|draining|drain|fail)$ ]] && [ $((i % 20)) = 1 ]; then
      scontrol update NodeName="$H" State=RESUME >/dev/null 2>&1 || true
    fi
    sleep 0.1
  done
  if ! node_ok; then
    echo "slurm: node $H is '$(node_state)', not idle, after 60 s; last lines of $D/log/slurmd.log and slurmctld.log:" >&2
    tail -n 15 "$D/log/slurmd.log" "$D/log/slurmctld.log" >&2 2>/dev/null || true
    exit 1
  fi

  if [ "$started" = 1 ] || [ "$changed" = 1 ] || [ "${SMOKE:-0}" = 1 ]; then
    smoke
  fi
  say "up: node $H $(node_state), partition debug, accounting $([ "$dbd" = 1 ] && echo slurmdbd || echo off)"
}

# A job must start and finish within 30 s.
smoke() {
  local out=$D/smoke.out id t0=$SECONDS
  rm -f "$out"
  if ! id=$(timeout 30 sbatch --parsable --wait -J bigjob-ci-smoke -t 1 -o "$out" --wrap 'echo smoke $(hostname) $(id -un)' 2>&1); then
    scancel -n bigjob-ci-smoke >/dev/null 2>&1 || true
    echo "slurm: smoke job did not finish within 30 s: $id" >&2
    squeue >&2 || true
    tail -n 15 "$D/log/slurmctld.log" "$D/log/slurmd.log" >&2 2>/dev/null || true
    exit 1
  fi
  grep -q "^smoke $H " "$out" || die "smoke job $id wrote '$(cat "$out" 2>/dev/null)', not 'smoke $H ...'"
  say "smoke job $id ran in $((SECONDS - t0)) s: $(cat "$out")"
}

case "${1:-start}" in
start) do_start ;;
stop) do_stop ;;
status)
  # sinfo needs 9 s to give up on a controller that is not there: look at
  # the pid files first
  if ! alive "$D/slurmctld.pid" slurmctld || ! alive "$D/slurmd.pid" slurmd; then
    say "not running (no live slurmctld and slurmd pid files in $D)"
    exit 1
  fi
  if node_ok; then say "node $H $(node_state)"; else say "node $H is '$(node_state)', not idle/mixed/allocated"; exit 1; fi ;;
smoke) smoke ;;
*) die "usage: $0 [start|stop|status|smoke]" ;;
esac
