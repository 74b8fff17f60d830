"""The path BigJob scripts take, against the pilot path and xargs: N /bin/true
units submitted one call at a time through ComputeDataService, then
cds.wait(); the same units through PilotCompute.submit_compute_unit and
pilotjob.wait(); and `xargs -P2 -n1 true` over N lines. One 2-slot fork pilot
(sandboxes under WORKDIR), started before the clock runs. Each round runs the
three back to back; the ratios are the medians of the rounds' ratios.

    python3 bench/cds_throughput.py <coordination URL> <N> <rounds> <workdir>
"""
import json
import shutil
import subprocess
import sys
import tempfile
import time

import pilot


def xargs(n):
    t0 = time.time()
    p = subprocess.Popen(["xargs", "-P2", "-n1", "true"], stdin=subprocess.PIPE)
    p.communicate(("x\n" * n).encode())
    return time.time() - t0


def through_cds(pcs, n):
    cds = pilot.ComputeDataService()
    cds.add_pilot_compute_service(pcs)
    t0 = time.time()
    for _ in range(n):
        cds.submit_compute_unit({"executable": "/bin/true"})
    cds.wait()
    return time.time() - t0


def through_pilot(pc, n):
    t0 = time.time()
    for _ in range(n):
        pc.submit_compute_unit({"executable": "/bin/true"})
    pc.wait()
    return time.time() - t0


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def main(url, n, rounds, workdir):
    wd = tempfile.mkdtemp(prefix="bench-cds-", dir=workdir)
    pcs = pilot.PilotComputeService(url)
    try:
        pc = pcs.create_pilot({"service_url": "fork://localhost", "number_of_processes": 2, "working_directory": wd})
        pc.wait_state(pilot.State.Running)
        through_pilot(pc, 200)  # warm up
        through_cds(pcs, 200)
        rates = {"cds": [], "pilot": [], "xargs": []}
        for _ in range(rounds):
            rates["xargs"].append(n / xargs(n))
            rates["pilot"].append(n / through_pilot(pc, n))
            rates["cds"].append(n / through_cds(pcs, n))
        to_pilot = [c / p for c, p in zip(rates["cds"], rates["pilot"])]
        to_xargs = [c / x for c, x in zip(rates["cds"], rates["xargs"])]
        print(json.dumps({
            "case": "cds_throughput", "units": n, "slots": 2, "rounds": rounds, "python": sys.version.split()[0],
            "cds_units_per_s": round(median(rates["cds"])), "pilot_units_per_s": round(median(rates["pilot"])),
            "xargs_units_per_s": round(median(rates["xargs"])),
            "ratio_to_pilot": round(median(to_pilot), 2), "ratio_to_xargs": round(median(to_xargs), 2),
            "round_ratios_to_pilot": [round(r, 2) for r in to_pilot], "round_ratios_to_xargs": [round(r, 2) for r in to_xargs],
            "baseline": "the same units through PilotCompute.submit_compute_unit, and xargs -P2 -n1 true",
            "goal": "ratio_to_pilot >= 0.9 and ratio_to_xargs >= 0.85"}))
    finally:
        pcs.cancel()
        shutil.rmtree(wd, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
