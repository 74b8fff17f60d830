"""Submission rate from Python: N units one submit_compute_unit call at a
time, then N units in one bulk call (an extension), on a no-exec fork pilot.
Prints one JSON line per case.

    python3 bench/python_submit.py <coordination URL> <N>
"""
import json
import shutil
import sys
import tempfile
import time

import pilot
from pilot import _ffi


def main(url, n):
    wd = tempfile.mkdtemp(prefix="bench-submit-")
    pcs = pilot.PilotComputeService(url)
    try:
        pc = pcs.create_pilot({"service_url": "fork://localhost", "number_of_processes": 2,
                               "working_directory": wd, "no_exec": True})
        pc.wait_state(pilot.State.Running)
        cud = {"executable": "/bin/true", "number_of_processes": 1}
        for _ in range(200):  # warm up
            pc.submit_compute_unit(cud)
        pc.wait()

        t0 = time.time()
        for _ in range(n):
            pc.submit_compute_unit(cud)
        t1 = time.time()
        _ffi.lib.pilot_flush_all(-1)  # every unit written to the store
        t2 = time.time()
        pc.wait()
        print(json.dumps({"case": "python_submit", "units": n, "python": sys.version.split()[0],
                          "calls_per_s": round(n / (t1 - t0)), "stored_per_s": round(n / (t2 - t0)),
                          "goal": "stored_per_s >= 20000",
                          "note": "one submit_compute_unit call per unit; stored = written to Redis"}))
        sys.stdout.flush()

        t0 = time.time()
        pc.submit_compute_units([cud] * n)
        t1 = time.time()
        pc.wait()
        print(json.dumps({"case": "python_bulk_submit", "units": n, "python": sys.version.split()[0],
                          "stored_per_s": round(n / (t1 - t0)),
                          "note": "one PilotCompute.submit_compute_units call (extension)"}))
    finally:
        pcs.cancel()
        shutil.rmtree(wd, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
