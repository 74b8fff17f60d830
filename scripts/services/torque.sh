#!/usr/bin/env bash
# PBS/Torque-style commands for the tests: slurm-wlm-torque, the qsub, qstat,
# qdel and pbsnodes wrappers over the SLURM of scripts/services/slurm.sh
# (real Torque and OpenPBS are not in Debian 12). No daemon of its own.
#
#   scripts/services/torque.sh [start]  start SLURM (idempotent), install
#                                       slurm-wlm-torque if missing, smoke-test
#                                       qsub, qstat and qdel
#   scripts/services/torque.sh stop     nothing to stop (SLURM: slurm.sh stop)
#
# slurm-wlm-torque conflicts with gridengine-client (both ship qsub):
# installing it REMOVES gridengine-client, -master and -exec, so this script
# first stops SGE. scripts/services/sge.sh installs them back (and removes
# slurm-wlm-torque). The smoke test runs on every call (~3 s).
#
# Its files (the smoke jobs and their output): $BIGJOB_CI_TORQUE
# (/tmp/bigjob-ci-torque).
set -euo pipefail

D=${BIGJOB_CI_TORQUE:-/tmp/bigjob-ci-torque}
HERE=$(cd "$(dirname "$0")" && pwd)
H=$(hostname -s)
export DEBIAN_FRONTEND=noninteractive

SERVICE=torque
. "$HERE/common.sh"

# qstat -f JOB's job_state (C once SLURM has finished it, empty when gone).
job_state() { qstat -f "$1" 2>/dev/null | awk '$1 == "job_state" { print $3; exit }'; }

smoke() {
  local id id2 st i t0=$SECONDS
  mkdir -p "$D"
  rm -f "$D/smoke.out" "$D/smoke.err"
  # slurm-wlm-torque's qsub hands the script to sbatch: it must start with #!
  printf '#!/bin/bash\n#PBS -N bigjob-ci-smoke\n#PBS -l walltime=00:01:00\necho smoke $(hostname) $(id -un)\n' >"$D/smoke.sh"
  id=$(timeout 30 qsub -o "$D/smoke.out" -e "$D/smoke.err" "$D/smoke.sh") || die "qsub failed: $id"
  id=$(echo "$id" | tail -1 | tr -d '[:space:]')
  [[ $id =~ ^[0-9]+ ]] || die "qsub printed '$id', not a job id"
  qstat "$id" >/dev/null || die "qstat $id failed"
  for i in $(seq 300); do
    st=$(job_state "$id")
    [ "$st" = C ] && [ -s "$D/smoke.out" ] && break
    sleep 0.1
  done
  if [ "$st" != C ] || ! grep -q "^smoke $H " "$D/smoke.out" 2>/dev/null; then
    qdel "$id" >/dev/null 2>&1 || true
    echo "torque: smoke job $id did not finish within 30 s (job_state '$st', output '$(cat "$D/smoke.out" 2>/dev/null)'):" >&2
    qstat -f "$id" >&2 || true
    exit 1
  fi
  # qdel: a job that would run for 5 minutes is gone (C, CANCELLED) at once
  printf '#!/bin/bash\nsleep 300\n' >"$D/sleep.sh"
  id2=$(timeout 30 qsub -o /dev/null -e /dev/null "$D/sleep.sh" | tail -1 | tr -d '[:space:]')
  [[ $id2 =~ ^[0-9]+ ]] || die "qsub of the qdel test printed '$id2', not a job id"
  qdel "$id2" || die "qdel $id2 failed"
  for i in $(seq 300); do
    st=$(scontrol show job "$id2" 2>/dev/null | grep -o 'JobState=[A-Z_]*' || true)
    [ "$st" = JobState=CANCELLED ] && break
    sleep 0.1
  done
  [ "$st" = JobState=CANCELLED ] || die "qdel $id2: the job is '$st', not CANCELLED, after 30 s"
  say "smoke: qsub -> job $id ran ($(cat "$D/smoke.out")), qstat state C, qdel of $id2 -> CANCELLED, in $((SECONDS - t0)) s"
}

do_start() {
  mkdir -p "$D"
  bash "$HERE/slurm.sh" || die "SLURM is not up (scripts/services/slurm.sh)"
  if ! pkg_ok slurm-wlm-torque; then
    if pkg_ok gridengine-client || pkg_ok gridengine-master || pkg_ok gridengine-exec; then
      say "stopping SGE: installing slurm-wlm-torque removes gridengine-client/-master/-exec (scripts/services/sge.sh puts them back)"
      bash "$HERE/sge.sh" stop
    fi
    say "installing slurm-wlm-torque"
    apt_install slurm-wlm-torque
  fi
  local q
  for q in qsub qstat qdel pbsnodes; do
    [ "$(dpkg -S "$(readlink -f "$(command -v $q)")" 2>/dev/null | cut -d: -f1)" = slurm-wlm-torque ] ||
      die "$q on PATH ($(command -v $q || echo none)) is not slurm-wlm-torque's"
  done
  smoke
  say "up: qsub/qstat/qdel/pbsnodes of slurm-wlm-torque over SLURM (partition debug)"
}

case "${1:-start}" in
start) do_start ;;
stop) say "no daemon of its own; SLURM stops with scripts/services/slurm.sh stop" ;;
smoke) smoke ;;
*) die "usage: $0 [start|stop|smoke]" ;;
esac
