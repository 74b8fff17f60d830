""" Two fork pilots behind one decentral ComputeDataService.

The units go to the service-wide queue; whichever pilot has a free slot
takes the next one (late binding). Adapted from BigJob's
example-pilot-api-decentral.py. Runs with Python 2 and 3.
"""
import os
import sys

import pilot
from pilot import PilotComputeService, ComputeDataServiceDecentral, State

COORDINATION_URL = os.environ.get("COORDINATION_URL", "redis://localhost:6379")
NUMBER_JOBS = 4

if __name__ == "__main__":

    pilot_compute_service = PilotComputeService(COORDINATION_URL)

    # two one-slot pilots, both working under ./work
    for i in range(2):
        pilot_compute_description = {"service_url": "fork://localhost",
                                     "number_of_processes": 1,
                                     "working_directory": os.path.join(os.getcwd(), "work"),
                                     "walltime": 10}
        pilot_compute_service.create_pilot(pilot_compute_description=pilot_compute_description)

    compute_data_service = ComputeDataServiceDecentral()
    compute_data_service.add_pilot_compute_service(pilot_compute_service)

    # start work: /bin/date of days 0..3 of the epoch, and a greeting each
    units = []
    for i in range(NUMBER_JOBS):
        compute_unit_description = {"executable": "/bin/date",
                                    "arguments": ["-u", "-d", "@%d" % (i * 86400), "+%Y-%m-%d"],
                                    "number_of_processes": 1,
                                    "output": "stdout.txt",
                                    "error": "stderr.txt"}
        units.append(compute_data_service.submit_compute_unit(compute_unit_description))
        compute_unit_description = {"executable": "/bin/echo",
                                    "arguments": ["Hello from unit", str(i)],
                                    "number_of_processes": 1,
                                    "output": "stdout.txt",
                                    "error": "stderr.txt"}
        units.append(compute_data_service.submit_compute_unit(compute_unit_description))

    print("Wait for CUs to complete")
    compute_data_service.wait()

    all_done = True
    for cu in units:
        if cu.get_state() == State.Done:
            print("Finished CU %s" % cu.get_id())
        else:
            print("CU %s not done: %s" % (cu.get_id(), cu.get_state()))
            all_done = False

    print("PCS State %s" % pilot_compute_service)

    print("Terminate Pilot Compute/Data Service")
    compute_data_service.cancel()
    pilot_compute_service.cancel()

    print("Pilots: %s" % ", ".join(pc.get_state() for pc in pilot_compute_service.list_pilots()))
    if not all_done:
        sys.exit(1)
