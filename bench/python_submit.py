"""Submission rate from Python: N units one submit_compute_unit call at a
time, then N in one bulk call (an extension). Prints one JSON line per case.

The units go to a 2-slot fork pilot that is busy with long units, so they
queue (the usual case: a user submits a batch of tasks, which then run).
Each case also submits N units to a no-exec pilot that consumes them as they
arrive, which doubles the store's work; that rate is reported as well.

    python3 bench/python_submit.py <coordination URL> <N>
"""
import json
import shutil
import sys
import tempfile
import time

import pilot
from pilot import _ffi

CUD = {"executable": "/bin/true", "number_of_processes": 1}


def pilot_in(pcs, wd, **extra):
    desc = {"service_url": "fork://localhost", "number_of_processes": 2, "working_directory": wd}
    desc.update(extra)
    pc = pcs.create_pilot(desc)
    pc.wait_state(pilot.State.Running)
    return pc


def one_at_a_time(pc, n):
    """Seconds until n units submitted one call at a time are stored, and
    how long the calls alone took."""
    t0 = time.time()
    for _ in range(n):
        pc.submit_compute_unit(CUD)
    t1 = time.time()
    _ffi.lib.pilot_flush_all(-1)  # every unit written to the store
    return time.time() - t0, t1 - t0


def main(url, n):
    wd = tempfile.mkdtemp(prefix="bench-submit-")
    pcs = pilot.PilotComputeService(url)
    py = sys.version.split()[0]
    try:
        busy = pilot_in(pcs, wd)
        for _ in range(2):
            busy.submit_compute_unit({"executable": "/bin/sleep", "arguments": ["3600"]})
        consuming = pilot_in(pcs, wd, no_exec=True)
        for pc in (busy, consuming):  # warm up
            one_at_a_time(pc, 200)
        consuming.wait()

        stored, calls = one_at_a_time(busy, n)
        consumed, _ = one_at_a_time(consuming, n)
        consuming.wait()
        print(json.dumps({"case": "python_submit", "units": n, "python": py,
                          "calls_per_s": round(n / calls), "stored_per_s": round(n / stored),
                          "stored_per_s_while_consumed": round(n / consumed),
                          "goal": "stored_per_s >= 20000",
                          "note": "one submit_compute_unit call per unit onto a busy 2-slot pilot; stored = written "
                                  "to Redis; while_consumed: onto a no-exec pilot that takes them at once"}))
        sys.stdout.flush()

        t0 = time.time()
        busy.submit_compute_units([CUD] * n)
        bulk = time.time() - t0
        t0 = time.time()
        consuming.submit_compute_units([CUD] * n)
        consuming.wait()
        bulk_consumed = time.time() - t0
        print(json.dumps({"case": "python_bulk_submit", "units": n, "python": py,
                          "stored_per_s": round(n / bulk), "stored_per_s_while_consumed": round(n / bulk_consumed),
                          "note": "one PilotCompute.submit_compute_units call (extension)"}))
    finally:
        pcs.cancel()
        shutil.rmtree(wd, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
