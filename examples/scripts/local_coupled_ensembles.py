""" Coupled ensembles, in the style of BigJob's
tutorial/barebones-local/local_coupled_ensembles.py: A and B tasks write into
one shared working directory, pilotjob.wait() is the barrier, then C tasks
join A and B.

Python 2 only: print statements, "except X, e" and dict.iteritems() are not
Python 3 (Python 3 cannot even parse this file).
"""

import os
import sys
import saga  # as in the original tutorial: imported, never used

from pilot import PilotComputeService, State

# redis://@host:port: an empty password, as the tutorials write it
COORDINATION_URL = os.environ.get("COORDINATION_URL", "redis://localhost:6379")
COORD = COORDINATION_URL.replace("redis://", "redis://@", 1)
WORKDIR = os.getcwd() + "/example1"
NUMBER_JOBS = 4

if __name__ == "__main__":

    pilot_compute_service = PilotComputeService(COORD)
    pilot_compute_description = {"service_url": "fork://localhost",
                                 "number_of_processes": 4,
                                 "working_directory": WORKDIR,
                                 "walltime": 10}
    pilotjob = pilot_compute_service.create_pilot(pilot_compute_description=pilot_compute_description)

    try:
        tasks = {}
        # stage one: A and B tasks, both in the pilot-relative directory "shared"
        for kind in ("A", "B"):
            for i in range(NUMBER_JOBS):
                task_desc = {"executable": "/bin/echo",
                             "arguments": ["%s-task $TASK_NO" % kind],
                             "environment": {"TASK_NO": i},
                             "working_directory": "shared",
                             "number_of_processes": 1,
                             "output": "%s-%d.txt" % (kind, i),
                             "error": "%s-%d.err" % (kind, i)}
                tasks["%s%d" % (kind, i)] = pilotjob.submit_compute_unit(task_desc)

        print "Waiting for A and B tasks to complete..."
        pilotjob.wait()

        # stage two: C task i joins the outputs of A task i and B task i
        for i in range(NUMBER_JOBS):
            task_desc = {"executable": "/bin/cat",
                         "arguments": ["A-%d.txt" % i, "B-%d.txt" % i],
                         "working_directory": "shared",
                         "number_of_processes": 1,
                         "output": "C-%d.txt" % i,
                         "error": "C-%d.err" % i}
            tasks["C%d" % i] = pilotjob.submit_compute_unit(task_desc)

        print "Waiting for C tasks to complete..."
        pilotjob.wait()

        failed = 0
        for name, task in sorted(tasks.iteritems()):
            print "Task %s (%s): %s" % (name, task.get_id(), task.get_state())
            if task.get_state() != State.Done:
                failed += 1
        pilot_compute_service.cancel()
        if failed:
            sys.exit(1)

    except Exception, ex:
        print "AN ERROR OCCURRED: %s" % (str(ex))
        pilot_compute_service.cancel()
        sys.exit(-1)

    print "Done"
