""" The second half of a workflow that spans two scripts (see leave_running.py).

Given a pilot URL and a unit URL printed by leave_running.py, in another
process: reconnects to the pilot and to the unit, prints their states, the
unit's exit code and output, and how many units the pilot has; submits one
more unit to the pilot and waits for it; then cancels the pilot.
Runs with Python 2 and 3:

    python reconnect_by_url.py PILOT_URL CU_URL
"""
from __future__ import print_function

import os
import sys

import pilot

if __name__ == "__main__":
    pilot_url, cu_url = sys.argv[1], sys.argv[2]
    pc = pilot.PilotCompute(pilot_url=pilot_url)
    cu = pilot.ComputeUnit(cu_url=cu_url)
    print("Pilot state: %s" % pc.get_state())
    print("CU state: %s, exit code %s" % (cu.get_state(), cu.get_details()["exit_code"]))
    with open(os.path.join(cu.get_local_working_directory(), "stdout.txt")) as f:
        print("CU output: %s" % f.read().strip())
    print("Units of the pilot: %d" % len(pc.list_compute_units()))
    more = pc.submit_compute_unit({"executable": "/bin/echo", "arguments": ["one more"], "output": "stdout.txt"})
    print("New CU: %s" % more.wait())
    pc.cancel()
    print("Pilot state after cancel: %s" % pc.get_state())
