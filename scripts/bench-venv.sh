#!/usr/bin/env bash
# Creates build/bench-venv, the private virtual environment of the peers
# benchmark (bench/peers.py): Parsl and Dask from PyPI, for python3. Safe to
# run again: an environment that imports both is left as it is.
set -euo pipefail
venv=${1:-build/bench-venv}
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import parsl, dask, distributed' 2>/dev/null; then
  exit 0
fi
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check parsl dask distributed
"$venv/bin/python" -c 'import parsl, dask, distributed; print("bench-venv: parsl", parsl.__version__, "dask", dask.__version__)'
