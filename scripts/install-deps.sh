#!/usr/bin/env bash
# Installs what the tests and benchmarks need on a Debian 12 machine (root):
# redis-server, a C and C++ compiler, pkg-config, pytest for python3, and
# checks that Go and Python 2.7 (pyenv) are there. Safe to run again; it
# installs only what is missing.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v xargs >/dev/null 2>&1 || need+=(findutils)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: missing ${need[*]}; run as root: apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "install-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
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
