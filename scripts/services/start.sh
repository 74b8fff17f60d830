#!/usr/bin/env bash
# Start the batch systems the tests talk to, at the same time: SLURM
# (scripts/services/slurm.sh) and SGE (scripts/services/sge.sh). One line per
# service; the full output of each is in /tmp/bigjob-ci-services/<name>.log
# and is printed when it fails. Idempotent: on live services it takes ~1 s.
#
#   scripts/services/start.sh          start (make services)
#   scripts/services/start.sh stop     stop both (only daemons the scripts started)
#   scripts/services/start.sh status   exit 0 when both take jobs
#
# PBS (scripts/services/torque.sh, make test-pbs) is not here: it removes the
# SGE packages. sshd and MPI need nothing started (the tests start their own
# sshd; mpirun runs directly).
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
L=/tmp/bigjob-ci-services
SERVICES=(slurm sge)
mkdir -p "$L"

cmd=${1:-start}
case "$cmd" in
start | stop | status) ;;
*) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac

ms() { echo $(($(date +%s%N) / 1000000)); }
declare -A pid
for s in "${SERVICES[@]}"; do
  (
    t0=$(ms)
    bash "$HERE/$s.sh" "$cmd" >"$L/$s.log" 2>&1
    rc=$?
    echo $(($(ms) - t0)) >"$L/$s.ms"
    exit $rc
  ) &
  pid[$s]=$!
done

rc=0
for s in "${SERVICES[@]}"; do
  if wait "${pid[$s]}"; then r=ok; else r=FAILED rc=1; fi
  m=$(cat "$L/$s.ms" 2>/dev/null || echo 0)
  # the script's last line says what runs (or what it stopped)
  last=$(tail -n 1 "$L/$s.log" | sed "s/^$s: //")
  printf '%-6s %-6s %3d.%d s  %s\n' "$s" "$r" $((m / 1000)) $((m % 1000 / 100)) "${last:-nothing to do}"
  if [ $r != ok ]; then
    echo "    scripts/services/$s.sh $cmd failed; its output ($L/$s.log):"
    sed 's/^/    /' "$L/$s.log"
  fi
done
exit $rc
