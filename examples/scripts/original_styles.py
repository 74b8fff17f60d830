""" Styles of the original BigJob's own examples that rely on its loose typing,
run unchanged:

  * ManyJob over the coordination URL its examples use,
    advert://localhost/?dbtype=sqlite3 (the Advert backend is gone: the
    default coordination store serves instead, with a warning);
  * a ComputeUnit object and numbers in a unit's environment and arguments
    (their str() is used, as BigJob did);
  * plain strings in input_data that name no data unit (a warning names each;
    the unit runs, as BigJob ran it after its stage-in failed).

Runs with Python 2 and 3.
"""
from __future__ import print_function

import os

from bigjob_dynamic.many_job import many_job_service
from pilot import PilotComputeService, ComputeDataService

COORDINATION_URL = os.environ.get("COORDINATION_URL", "redis://localhost:6379")
WORKDIR = os.path.join(os.getcwd(), "agent")

if __name__ == "__main__":

    resources = [{"resource_url": "fork://localhost", "number_of_processes": 2, "working_directory": WORKDIR}]
    mjs = many_job_service(resources, "advert://localhost/?dbtype=sqlite3")
    jobs = []
    for i in range(3):
        job = mjs.create_job({"executable": "/bin/echo", "arguments": ["manyjob", i], "output": "manyjob.txt"})
        job.run()
        jobs.append(job)
    for job in jobs:
        job.wait()
        print("ManyJob job:", job.get_state())
    mjs.cancel()

    pcs = PilotComputeService(COORDINATION_URL)
    pcs.create_pilot({"service_url": "fork://localhost", "number_of_processes": 2, "working_directory": WORKDIR})
    cds = ComputeDataService()
    cds.add_pilot_compute_service(pcs)
    first = cds.submit_compute_unit({"executable": "/bin/true"})
    first.wait()
    second = cds.submit_compute_unit({"executable": "/bin/sh", "arguments": ["-c", "'echo $PREVIOUS $COUNT'", 0.5],
                                      "environment": {"PREVIOUS": first, "COUNT": 3}, "output": "env.txt"})
    third = cds.submit_compute_unit({"executable": "/bin/echo", "arguments": ["ran without", "its input"],
                                     "input_data": ["hi", "not-a-data-unit"], "output": "input.txt"})
    cds.wait()
    print("Environment unit:", second.get_state())
    print("Input-data unit:", third.get_state())
    print("str of the first unit:", first)
    pcs.cancel()
