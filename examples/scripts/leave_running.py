""" The first half of a workflow that spans two scripts (see reconnect_by_url.py).

Starts a fork pilot with 2 slots, submits three echo units straight onto it,
waits for them, prints the service's URL, the pilot's and each unit's, and
exits without canceling anything, as the original's reconnect examples do:
the pilot and its units stay where the coordination store keeps them.
Runs with Python 2 and 3.
"""
from __future__ import print_function

import os

import pilot

COORDINATION_URL = os.environ.get("COORDINATION_URL", "redis://localhost:6379")
WORKDIR = os.path.join(os.getcwd(), "agent")

if __name__ == "__main__":
    pcs = pilot.PilotComputeService(COORDINATION_URL)
    pc = pcs.create_pilot({"service_url": "fork://localhost", "number_of_processes": 2,
                           "working_directory": WORKDIR, "walltime": 10})
    units = [pc.submit_compute_unit({"executable": "/bin/echo", "arguments": ["unit", i], "output": "stdout.txt"})
             for i in range(3)]
    for cu in units:
        cu.wait()
    print("PCS: %s" % pcs.get_url())
    print("Pilot: %s" % pc.get_url())
    for cu in units:
        print("CU: %s %s" % (cu.get_url(), cu.get_state()))
