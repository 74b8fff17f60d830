""" Pilot-direct submission with attribute-style descriptions.

A fork pilot with 4 slots; three echo compute units are queued straight onto
the pilot (pilotjob.submit_compute_unit, no ComputeDataService), each waited
for with cu.wait(). Runs with Python 2 and 3.
"""
import os
import sys
import pilot

COORDINATION_URL = os.environ.get("COORDINATION_URL", "redis://localhost:6379")
WORKDIR = os.path.join(os.getcwd(), "agent")
NUMBER_JOBS = 3

if __name__ == "__main__":

    if not os.path.isdir(WORKDIR):
        os.mkdir(WORKDIR)

    pilot_compute_service = pilot.PilotComputeService(COORDINATION_URL)

    pd = pilot.PilotComputeDescription()
    pd.service_url = "fork://localhost"
    pd.number_of_processes = 4
    pd.working_directory = WORKDIR
    pd.walltime = 10

    pilotjob = pilot_compute_service.create_pilot(pilot_compute_description=pd)
    print("Pilot: %s" % pilotjob)

    try:
        units = []
        for i in range(NUMBER_JOBS):
            cu = pilot.ComputeUnitDescription()
            cu.executable = "/bin/echo"
            cu.arguments = ["Hello", "$GREETEE,", "I am CU number", str(i)]
            cu.environment = ["GREETEE=World"]
            cu.number_of_processes = 1
            cu.spmd_variation = "single"
            cu.output = "stdout.txt"
            cu.error = "stderr.txt"
            units.append(pilotjob.submit_compute_unit(cu))

        for compute_unit in units:
            compute_unit.wait()
            details = compute_unit.get_details()
            print("CU %s: %s" % (compute_unit.get_id(), compute_unit.get_state()))
            print("Details: %s" % str(details))
            if compute_unit.get_state() != pilot.State.Done:
                sys.exit(1)
    finally:
        pilot_compute_service.cancel()

    print("Pilot state after cancel: %s" % pilotjob.get_state())
