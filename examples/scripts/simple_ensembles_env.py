""" A simple ensemble through a ComputeDataService, with the unit environment
given both ways BigJob accepts it:

  * as a dict with int values:  {'TASK_NO': i}
  * as a list of "K=V" strings: ['TASK_NO=%s' % i]

Each task echoes 'I am task number $TASK_NO'; the shell on the pilot expands
the variable. Runs with Python 2 and 3.
"""
import os
import sys

from pilot import PilotComputeService, ComputeDataService, State

COORDINATION_URL = os.environ.get("COORDINATION_URL", "redis://localhost:6379")
WORKDIR = os.path.join(os.getcwd(), "agent")
NUMBER_JOBS = 4

if __name__ == "__main__":

    pilot_compute_service = PilotComputeService(coordination_url=COORDINATION_URL)
    pilot_compute_description = {"service_url": "fork://localhost",
                                 "number_of_processes": 2,
                                 "working_directory": WORKDIR,
                                 "walltime": 10}
    pilot_compute_service.create_pilot(pilot_compute_description=pilot_compute_description)

    compute_data_service = ComputeDataService()
    compute_data_service.add_pilot_compute_service(pilot_compute_service)

    print("Finished Pilot-Job setup. Submitting compute units")

    tasks = []
    for i in range(NUMBER_JOBS):
        # environment as a dict, output in stdout.txt / stderr.txt
        task_desc = {"executable": "/bin/echo",
                     "arguments": ["I am task number $TASK_NO"],
                     "environment": {'TASK_NO': i},
                     "number_of_processes": 1,
                     "output": "stdout.txt",
                     "error": "stderr.txt"}
        tasks.append(compute_data_service.submit_compute_unit(task_desc))

    for i in range(NUMBER_JOBS, 2 * NUMBER_JOBS):
        # environment as a list; BigJob's default output names stdout / stderr
        task_desc = {"executable": "/bin/echo",
                     "arguments": ["I am task number $TASK_NO"],
                     "environment": ['TASK_NO=%s' % i],
                     "number_of_processes": 1,
                     "spmd_variation": "single"}
        tasks.append(compute_data_service.submit_compute_unit(task_desc))

    print("Waiting for compute units to complete")
    compute_data_service.wait()

    failed = 0
    for task in tasks:
        print("* Task %s state: %s" % (task.get_id(), task.get_state()))
        if task.get_state() != State.Done:
            failed += 1

    print("Terminate Pilot Jobs")
    compute_data_service.cancel()
    pilot_compute_service.cancel()

    print("%d tasks done, %d failed" % (len(tasks) - failed, failed))
    sys.exit(1 if failed else 0)
