#!/usr/bin/env bash
# Single-host Son of Grid Engine 8.1.9 (Debian gridengine-* packages) for the
# tests, started by hand (no systemd): sge_qmaster (port 6444) and sge_execd
# (6445), queue all.q with one slot per CPU, parallel environment "smp"
# (-pe smp N), root may submit, the scheduler runs every second.
#
#   scripts/services/sge.sh [start]  install what is missing, start what is not
#                                    running; on a live install it changes
#                                    nothing (~1 s)
#   scripts/services/sge.sh stop     stop qmaster and execd (by their pid files)
#   scripts/services/sge.sh status   exit 0 when all.q@<host> takes jobs
#
# gridengine-client and slurm-wlm-torque both ship qsub and conflict:
# scripts/services/torque.sh removes the gridengine packages, and this script
# installs them again (which removes slurm-wlm-torque). SMOKE=1 runs the smoke
# job even when nothing had to be started (it always runs after a start).
#
# The cluster configuration and spool are where the packages put them
# (/var/lib/gridengine, /var/spool/gridengine); this script's own files (logs,
# the smoke job, configuration templates) are in $BIGJOB_CI_SGE
# (/tmp/bigjob-ci-sge).
set -euo pipefail

D=${BIGJOB_CI_SGE:-/tmp/bigjob-ci-sge}
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default DEBIAN_FRONTEND=noninteractive
C=$SGE_ROOT/$SGE_CELL/common
SPOOL=/var/spool/gridengine
QPID=$SPOOL/qmaster/qmaster.pid
H=$(hostname -s)
PKGS=(gridengine-common gridengine-client gridengine-master gridengine-exec)

SERVICE=sge
. "$(dirname "$0")/common.sh"

# execd writes its pid file under its spool directory, named after the host
# name it resolved (here "localhost" or the short name); take the live one.
execd_pidfile() {
  local f
  for f in "$SPOOL"/execd/*/execd.pid; do
    alive "$f" sge_execd && { echo "$f"; return 0; }
  done
  return 1
}

do_stop() {
  local f
  # in parallel: execd takes ~2 s to stop, qmaster ~10 s ("controlled
  # shutdown")
  if f=$(execd_pidfile); then stop_pid "$f" sge_execd 30 & fi
  stop_pid "$QPID" sge_qmaster 30 &
  wait
}

# before_apt answers debconf's questions of the gridengine packages.
before_apt() {
  local p
  for p in gridengine-common gridengine-client gridengine-master; do
    printf '%s shared/gridenginemaster string %s\n%s shared/gridenginecell string default\n%s shared/gridengineconfig boolean true\n' "$p" "$H" "$p" "$p"
  done | debconf-set-selections
}

installed() {
  local s p
  s=" $(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${PKGS[@]}" 2>/dev/null | awk '$1 == "ii" { printf "%s ", $2 }' || true)"
  for p in "${PKGS[@]}"; do [[ $s == *" $p "* ]] || return 1; done
}

# Instance line of all.q on this host in `qstat -f` without state flags
# (u = execd unreachable, E = error, d = disabled, a = alarm, ...).
queue_ok() { timeout 10 qstat -f -q "all.q@$H" 2>/dev/null | grep -Eq "^all\.q@$H +[A-Z]+ +[0-9]+/[0-9]+/[0-9]+ +[^ ]+ +lx-amd64 *$"; }

# set_conf SHOWCMD MODCMD KEY VALUE...: change configuration keys through
# qconf's editor interface, only those that differ; sets CONF_CHANGED=1 if it
# changed something.
CONF_CHANGED=0
set_conf() {
  local show=$1 mod=$2 sedargs=() k v cur conf
  shift 2
  conf=$($show) || die "$show failed"
  while [ $# -gt 0 ]; do
    k=$1 v=$2
    shift 2
    cur=$(awk -v k="$k" '$1 == k { $1 = ""; sub(/^ +/, ""); print; exit }' <<<"$conf")
    [ "$cur" = "$v" ] || sedargs+=(-e "s#^$k .*#$k $v#")
  done
  [ ${#sedargs[@]} -gt 0 ] || return 0
  {
    echo '#!/bin/sh'
    printf 'sed -i'
    printf " '%s'" "${sedargs[@]}"
    echo ' "$1"'
  } >"$D/editor.sh"
  chmod +x "$D/editor.sh"
  EDITOR=$D/editor.sh $mod >>"$D/qconf.log" 2>&1 || { tail -n 5 "$D/qconf.log" >&2; die "$mod failed"; }
  CONF_CHANGED=1
}

do_start() {
  local started=0 restart_execd=0 fresh=0 changed=0
  mkdir -p "$D"

  if ! installed; then
    # the running daemons (if any) belong to packages that are gone
    do_stop
    say "installing ${PKGS[*]}$(pkg_ok slurm-wlm-torque && echo ' (this removes slurm-wlm-torque)' || true)"
    apt_install "${PKGS[@]}"
    fresh=1
  fi
  # daemons whose binaries were removed under them (slurm-wlm-torque was
  # installed and the packages put back since) are restarted
  local f
  for f in "$QPID" "$(execd_pidfile || true)"; do
    if [ -n "$f" ] && [ -s "$f" ] && [[ $(readlink "/proc/$(cat "$f")/exe" 2>/dev/null) == *" (deleted)" ]]; then
      say "restarting the daemons: their binaries were replaced"
      do_stop
      break
    fi
  done
  [ -f "$C/bootstrap" ] || die "$C/bootstrap is missing: the gridengine-master postinst did not create the cell (dpkg-reconfigure gridengine-master)"

  # 127.0.0.1 resolves back to "localhost": without the alias commlib refuses
  # every client ("client IP resolved to host name localhost. This is not
  # identical to clients host name vm").
  local qchanged=0
  if [ "$(cat "$C/host_aliases" 2>/dev/null)" != "$H localhost" ]; then
    echo "$H localhost" >"$C/host_aliases"
    qchanged=1
  fi
  if [ "$(cat "$C/act_qmaster" 2>/dev/null)" != "$H" ]; then
    echo "$H" >"$C/act_qmaster"
    qchanged=1
  fi
  if [ "$qchanged" = 1 ] && alive "$QPID" sge_qmaster; then
    say "host names changed: restarting sge_qmaster"
    do_stop
  fi

  if ! alive "$QPID" sge_qmaster; then
    if pgrep -x sge_qmaster >/dev/null; then
      die "an sge_qmaster without the pid file $QPID is running (pid $(pgrep -x sge_qmaster | tr '\n' ' ')); stop it first"
    fi
    /usr/sbin/sge_qmaster </dev/null >>"$D/qmaster.out" 2>&1 ||
      { tail -n 20 "$SPOOL/qmaster/messages" >&2; die "sge_qmaster did not start"; }
    wait_for "sge_qmaster" "$SPOOL/qmaster/messages" qconf -sh
    say "started sge_qmaster on port 6444"
    started=1
  fi

  qconf -sh 2>/dev/null | grep -qx "$H" || qconf -ah "$H" >>"$D/qconf.log" 2>&1
  qconf -ss 2>/dev/null | grep -qx "$H" || qconf -as "$H" >>"$D/qconf.log" 2>&1

  # root may submit (min_uid/min_gid default to 1000); execd reads this only
  # when it starts
  CONF_CHANGED=0
  set_conf "qconf -sconf global" "qconf -mconf global" min_uid 0 min_gid 0
  [ "$CONF_CHANGED" = 0 ] || restart_execd=1 changed=1
  # schedule every second, not every 15 s
  set_conf "qconf -ssconf" "qconf -msconf" schedule_interval 0:0:1 flush_submit_sec 1 flush_finish_sec 1

  if [ "$restart_execd" = 1 ] && f=$(execd_pidfile); then
    say "global configuration changed: restarting sge_execd"
    stop_pid "$f" sge_execd 30
  fi
  if ! execd_pidfile >/dev/null; then
    if pgrep -x sge_execd >/dev/null; then
      die "an sge_execd without a pid file under $SPOOL/execd is running (pid $(pgrep -x sge_execd | tr '\n' ' ')); stop it first"
    fi
    mkdir -p "$SPOOL/execd"
    chown sgeadmin:sgeadmin "$SPOOL/execd" 2>/dev/null || true
    /usr/sbin/sge_execd </dev/null >>"$D/execd.out" 2>&1 ||
      { cat "$D/execd.out" >&2; die "sge_execd did not start"; }
    wait_for "sge_execd" "$D/execd.out" execd_pidfile
    say "started sge_execd on port 6445"
    started=1
  fi

  # parallel environment smp: all slots of a job on one host
  if ! qconf -sp smp >/dev/null 2>&1; then
    cat >"$D/pe.smp" <<'EOC'
pe_name            smp
slots              999
user_lists         NONE
xuser_lists        NONE
start_proc_args    NONE
stop_proc_args     NONE
allocation_rule    $pe_slots
control_slaves     FALSE
job_is_first_task  TRUE
urgency_slots      min
accounting_summary FALSE
qsort_args         NONE
EOC
    qconf -Ap "$D/pe.smp" >>"$D/qconf.log" 2>&1 || { tail -n 5 "$D/qconf.log" >&2; die "qconf -Ap smp failed"; }
    say "added parallel environment smp"
    changed=1
  fi

  # queue all.q: this host, one slot per CPU, smp, no load alarms (a busy
  # 2-core machine would otherwise put the queue in alarm state and stop
  # scheduling)
  if ! qconf -sq all.q >/dev/null 2>&1; then
    printf '#!/bin/sh\nsed -i -e "s/^qname .*/qname all.q/" -e "s/^hostlist .*/hostlist %s/" -e "s/^pe_list .*/pe_list smp/" "$1"\n' "$H" >"$D/editor.sh"
    chmod +x "$D/editor.sh"
    EDITOR=$D/editor.sh qconf -aq >>"$D/qconf.log" 2>&1 || { tail -n 5 "$D/qconf.log" >&2; die "qconf -aq all.q failed"; }
    say "added queue all.q"
    changed=1
  fi
  set_conf "qconf -sq all.q" "qconf -mq all.q" hostlist "$H" slots "$(nproc)" pe_list smp \
    load_thresholds NONE shell /bin/sh shell_start_mode unix_behavior
  [ "$CONF_CHANGED" = 0 ] || changed=1

  local i
  for i in $(seq 600); do
    queue_ok && break
    sleep 0.1
  done
  if ! queue_ok; then
    echo "sge: queue all.q@$H is not ready after 60 s:" >&2
    qstat -f >&2 || true
    tail -n 15 "$SPOOL/qmaster/messages" "$SPOOL"/execd/*/messages >&2 2>/dev/null || true
    exit 1
  fi

  if [ "$started" = 1 ] || [ "$fresh" = 1 ] || [ "$changed" = 1 ] || [ "${SMOKE:-0}" = 1 ]; then
    smoke
  fi
  say "up: all.q@$H with $(nproc) slots, pe smp"
}

# A 2-slot job in pe smp, as root, must start and finish within 30 s.
smoke() {
  local out=$D/smoke.out id t0=$SECONDS
  rm -f "$out"
  printf '#!/bin/sh\necho smoke $(hostname) $(id -un) $NSLOTS\n' >"$D/smoke.sh"
  if ! id=$(timeout 30 qsub -terse -sync y -pe smp 2 -N bigjob-ci-smoke -o "$out" -j y "$D/smoke.sh" 2>&1); then
    qdel bigjob-ci-smoke >/dev/null 2>&1 || true
    echo "sge: smoke job did not finish within 30 s: $id" >&2
    qstat -f >&2 || true
    exit 1
  fi
  id=$(echo "$id" | head -1)
  grep -q "^smoke $H root 2\$" "$out" || die "smoke job $id wrote '$(cat "$out" 2>/dev/null)', not 'smoke $H root 2'"
  say "smoke job $id (-pe smp 2) ran in $((SECONDS - t0)) s: $(cat "$out")"
}

case "${1:-start}" in
start) do_start ;;
stop) do_stop ;;
status)
  if alive "$QPID" sge_qmaster && execd_pidfile >/dev/null && queue_ok; then say "all.q@$H up"; else say "not running"; exit 1; fi ;;
smoke) smoke ;;
*) die "usage: $0 [start|stop|status|smoke]" ;;
esac
