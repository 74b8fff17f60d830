"""The pattern of BigJob's tests/performance/throughput.py: a 16-slot fork
pilot, wait until it runs, 128 /bin/date units through
pilotjob.submit_compute_unit, pilotjob.wait(). BigJob needs 40 s or more
(a slot is freed at most once per 5 s monitor cycle). Prints one JSON line.

    python3 bench/throughput.py <coordination URL>
"""
import json
import shutil
import sys
import tempfile
import time

from pilot import PilotComputeService

SLOTS, UNITS = 16, 128


def main(url):
    wd = tempfile.mkdtemp(prefix="bench-throughput-")
    pcs = PilotComputeService(url)
    try:
        pilotjob = pcs.create_pilot({"service_url": "fork://localhost", "number_of_processes": SLOTS,
                                     "number_executor_threads": SLOTS, "working_directory": wd})
        while pilotjob.get_state() != "Running":  # as the original script waits
            time.sleep(0.05)
        start = time.time()
        for i in range(UNITS):
            pilotjob.submit_compute_unit({"executable": "/bin/date", "number_of_processes": 1,
                                          "output": "stdout.txt", "error": "stderr.txt"})
        pilotjob.wait()
        runtime = time.time() - start
        print(json.dumps({"case": "throughput_py", "slots": SLOTS, "units": UNITS, "python": sys.version.split()[0],
                          "seconds": round(runtime, 3), "seconds_per_unit": round(runtime / UNITS, 5),
                          "baseline": "BigJob: 40 s or more (5 s monitor cycle frees slots)",
                          "goal": "seconds < 1"}))
    finally:
        pcs.cancel()
        shutil.rmtree(wd, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1])
