""" Coupled ensembles on one pilot: stage A, then stage B that reads the
outputs of stage A, then stage C that collects stage B.

pilotjob.wait() is the barrier between the stages; a B unit finds the files
of the A units in their sandboxes (get_local_working_directory()). Runs with
Python 2 and 3.
"""
import os
import sys

import pilot

COORDINATION_URL = os.environ.get("COORDINATION_URL", "redis://localhost:6379")
WORKDIR = os.path.join(os.getcwd(), "ensembles")
NUMBER_JOBS = 4


def check(units, stage):
    for cu in units:
        state = cu.get_state()
        print("%s task %s: %s" % (stage, cu.get_id(), state))
        if state != "Done":
            raise Exception("%s task %s ended %s" % (stage, cu.get_id(), state))


if __name__ == "__main__":

    pilot_compute_service = pilot.PilotComputeService(COORDINATION_URL)
    pilot_compute_description = pilot.PilotComputeDescription()
    pilot_compute_description.service_url = "fork://localhost"
    pilot_compute_description.number_of_processes = 4
    pilot_compute_description.working_directory = WORKDIR
    pilot_compute_description.walltime = 10
    pilotjob = pilot_compute_service.create_pilot(pilot_compute_description)

    try:
        # stage A: every task writes one line
        a_tasks = []
        for i in range(NUMBER_JOBS):
            cud = pilot.ComputeUnitDescription()
            cud.executable = "/bin/echo"
            cud.arguments = ["A-task $TASK_NO"]
            cud.environment = {"TASK_NO": i}
            cud.output = "A-stdout.txt"
            cud.error = "A-stderr.txt"
            a_tasks.append(pilotjob.submit_compute_unit(cud))
        print("Waiting for stage A")
        pilotjob.wait()
        check(a_tasks, "A")

        # stage B: task i reads the outputs of A tasks i and i+1
        b_tasks = []
        for i in range(NUMBER_JOBS):
            first = a_tasks[i].get_local_working_directory()
            second = a_tasks[(i + 1) % NUMBER_JOBS].get_local_working_directory()
            cud = pilot.ComputeUnitDescription()
            cud.executable = "/bin/cat"
            cud.arguments = [os.path.join(first, "A-stdout.txt"), os.path.join(second, "A-stdout.txt")]
            cud.output = "B-stdout.txt"
            cud.error = "B-stderr.txt"
            b_tasks.append(pilotjob.submit_compute_unit(cud))
        print("Waiting for stage B")
        pilotjob.wait()
        check(b_tasks, "B")

        # stage C: one task counts the lines stage B wrote (a shell pipeline)
        inputs = [os.path.join(t.get_local_working_directory(), "B-stdout.txt") for t in b_tasks]
        cud = pilot.ComputeUnitDescription()
        cud.executable = "/bin/cat"
        cud.arguments = inputs + ["|", "sort", "|", "uniq", "-c"]
        cud.output = "C-stdout.txt"
        cud.error = "C-stderr.txt"
        c_task = pilotjob.submit_compute_unit(cud)
        print("Waiting for stage C")
        pilotjob.wait()
        check([c_task], "C")

        print("Stage C output: %s" % os.path.join(c_task.get_local_working_directory(), "C-stdout.txt"))
    except Exception as ex:
        print("Error: %s" % ex)
        pilot_compute_service.cancel()
        sys.exit(1)

    pilot_compute_service.cancel()
    print("Done")
