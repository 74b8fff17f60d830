#!/usr/bin/env bash
# Installs what the tests and benchmarks need on a Debian 12 machine (root):
# redis-server, a C and C++ compiler, pkg-config, pytest for python3, the
# real components the adaptor tests talk to (openssh-server, SLURM + munge,
# Son of Grid Engine, OpenMPI, task-spooler), the C-to-WASM toolchain (clang,
# lld, wasi-libc), headless Chromium (the run report's page), and checks that Go, Python 2.7 (pyenv),
# mpicc and mpirun are there and work. Safe to run again; it installs only
# what is missing, in one apt-get call, and takes well under 2 s when
# everything is present. It starts nothing: scripts/services/start.sh does
# (make services).
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v xargs >/dev/null 2>&1 || need+=(findutils)
command -v pgrep >/dev/null 2>&1 || need+=(procps)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)

# Real components (docs/TESTING.md). The tests start their own private sshd;
# scripts/services/*.sh start SLURM and SGE. slurm-wlm-torque (PBS) is not
# here: it conflicts with gridengine-client; scripts/services/torque.sh
# (make test-pbs) installs it, and installing SGE here removes it again.
# WASM plugins: clang + lld + wasi-libc build the C plugins (wasm32-wasi),
# wabt's wasm-objdump lists their exports; task-spooler is the third-party
# queue the example adaptor plugin drives.
# chromium: the run report's tests open its page headless (console errors,
# screenshot of the timeline).
# openssl: the guide's test (python/tests/test_guide.py) makes the CA and
# certificate of its TLS redis-server with it.
pkgs=(openssh-server slurm-wlm munge gridengine-master gridengine-exec gridengine-client openmpi-bin libopenmpi-dev
  clang lld wasi-libc libclang-rt-dev-wasm32 wabt task-spooler chromium openssl)
installed=" $(dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' "${pkgs[@]}" 2>/dev/null | awk '$1 == "ii" { printf "%s ", $2 }' || true)"
for p in "${pkgs[@]}"; do
  [[ $installed == *" $p "* ]] || need+=("$p")
done

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing ${need[*]}; run as root: apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if [[ " ${need[*]} " == *" gridengine-"* ]]; then
    # Answer the gridengine questions: this host is the master, cell
    # "default", and let the postinst create the cluster configuration.
    h=$(hostname -s)
    for p in gridengine-common gridengine-client gridengine-master; do
      printf '%s shared/gridenginemaster string %s\n%s shared/gridenginecell string default\n%s shared/gridengineconfig boolean true\n' "$p" "$h" "$p" "$p"
    done | debconf-set-selections
    if dpkg-query -W -f='${db:Status-Abbrev}' slurm-wlm-torque 2>/dev/null | grep -q '^ii'; then
      echo "install-deps: gridengine-client replaces slurm-wlm-torque (both ship qsub); scripts/services/torque.sh puts it back"
    fi
  fi
  # Other scripts (scripts/services/*.sh) and people may run apt at the same
  # time: wait for the dpkg lock instead of failing.
  apt=(apt-get -q -o DPkg::Lock::Timeout=300)
  log=$(mktemp /tmp/bigjob-ci-apt.XXXXXX.log)
  if ! { "${apt[@]}" update && "${apt[@]}" install -y --no-install-recommends "${need[@]}"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "install-deps: apt-get failed (full output: $log)" >&2
    exit 1
  fi
  rm -f "$log"
fi

if ! command -v go >/dev/null 2>&1; then
  echo "install-deps: Go is required (go1.24 or newer)" >&2
  exit 1
fi

if ! python3 -m pytest --version >/dev/null 2>&1; then
  echo "install-deps: installing pytest for python3"
  python3 -m pip install -q pytest
fi

if ! PYENV_VERSION=2.7.18 python2 -c 'import ctypes' >/dev/null 2>&1; then
  echo "install-deps: Python 2.7 is required as 'PYENV_VERSION=2.7.18 python2' (pyenv install 2.7.18)" >&2
  exit 1
fi

# mpicc and mpirun must work (compile and run a 2-rank program, ~0.5 s).
# OpenMPI refuses to run as root without --allow-run-as-root.
mpidir=$(mktemp -d /tmp/bigjob-ci-mpi.XXXXXX)
trap 'rm -rf "$mpidir"' EXIT
cat >"$mpidir/hello.c" <<'EOC'
#include <mpi.h>
#include <stdio.h>
int main(int argc, char **argv) {
  int rank, size;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  printf("rank %d of %d\n", rank, size);
  MPI_Finalize();
  return 0;
}
EOC
if ! mpicc -o "$mpidir/hello" "$mpidir/hello.c" >"$mpidir/log" 2>&1; then
  echo "install-deps: mpicc cannot build an MPI program:" >&2
  cat "$mpidir/log" >&2
  exit 1
fi
if ! timeout 60 mpirun --allow-run-as-root --oversubscribe -np 2 "$mpidir/hello" >"$mpidir/out" 2>&1 ||
  [ "$(grep -c '^rank [01] of 2$' "$mpidir/out")" != 2 ]; then
  echo "install-deps: mpirun -np 2 does not work:" >&2
  cat "$mpidir/out" >&2
  exit 1
fi
