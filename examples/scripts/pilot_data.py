""" The Pilot-Data patterns of the original BigJob's examples, run unchanged
under Python 2 and 3:

  * a fork pilot and a PilotData in a directory (file://), through one
    ComputeDataService;
  * an input data unit made from a local file;
  * a unit that cats it (input_data), its stdout and stderr moved into an
    output data unit (output_data: [{du_url: ["std*"]}]);
  * the output data unit exported into a local directory;
  * the input data unit replicated into a second PilotData;
  * with PILOT_DATA_SSH set (ssh://[user@]host[:port]/dir), a PilotData on
    that host too: the input replicated there, and a unit that cats a data
    unit kept only there;
  * the output data unit's URL printed, for another process to reconnect
    (reconnect_data_unit.py).

Prints one line per step.
"""
from __future__ import print_function

import os

import pilot

COORDINATION_URL = os.environ.get("COORDINATION_URL", "redis://localhost:6379")
HERE = os.getcwd()

if __name__ == "__main__":
    with open(os.path.join(HERE, "test.txt"), "w") as f:
        f.write("Hello World!\n")

    pcs = pilot.PilotComputeService(coordination_url=COORDINATION_URL)
    pcs.create_pilot(pilot_compute_description={"service_url": "fork://localhost", "number_of_processes": 1,
                                                "working_directory": os.path.join(HERE, "agent")})
    pds = pilot.PilotDataService(coordination_url=COORDINATION_URL)
    pd = pds.create_pilot(pilot_data_description={"service_url": "file://" + os.path.join(HERE, "pilot-data"),
                                                  "size": 100, "affinity_machine_label": "here"})
    cds = pilot.ComputeDataService()
    cds.add_pilot_compute_service(pcs)
    cds.add_pilot_data_service(pds)

    du_in = cds.submit_data_unit({"file_urls": [os.path.join(HERE, "test.txt")], "affinity_machine_label": "here"})
    du_out = cds.submit_data_unit({"file_urls": []})
    print("Input data unit: %s" % du_in.wait())

    cu = cds.submit_compute_unit({"executable": "/bin/cat", "arguments": ["test.txt"],
                                  "input_data": [du_in.get_url()],
                                  "output_data": [{du_out.get_url(): ["std*"]}],
                                  "output": "stdout.txt", "error": "stderr.txt"})
    cds.wait()
    print("Compute unit: %s" % cu.get_state())
    print("Output files: %s" % ", ".join(sorted(du_out.list())))

    du_out.export(os.path.join(HERE, "exported"))
    with open(os.path.join(HERE, "exported", "stdout.txt")) as f:
        print("Exported: %s" % f.read().strip())

    pd2 = pds.create_pilot(pilot_data_description={"service_url": os.path.join(HERE, "replica")})
    pd2.submit_data_unit(data_unit=du_in)
    print("Replicas: %d" % len(du_in.list_pilot_data()))

    remote = os.environ.get("PILOT_DATA_SSH")
    if remote:
        pd_ssh = pds.create_pilot(pilot_data_description={"service_url": remote})
        pd_ssh.submit_data_unit(data_unit=du_in)
        print("Replicas with the remote one: %d" % len(du_in.list_pilot_data()))
        du_far = pd_ssh.submit_data_unit({"file_urls": [os.path.join(HERE, "test.txt")]})
        far = cds.submit_compute_unit({"executable": "/bin/cat", "arguments": ["test.txt"],
                                       "input_data": [du_far.get_url()], "output": "far.txt"})
        cds.wait()
        with open(os.path.join(far.get_local_working_directory(), "far.txt")) as f:
            print("Unit on remote data: %s, %s" % (far.get_state(), f.read().strip()))
    print("Output data unit: %s" % du_out.get_url())

    cds.cancel()
    pcs.cancel()
