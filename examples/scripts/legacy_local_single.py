""" BigJob's legacy API (bigjob / subjob / description) on a local fork pilot,
in the style of tests/bigjob-api/example_local_single.py.

Python 2 only: it uses print statements and "except X, e", which Python 3
cannot parse (a SyntaxError from Python itself, before BigJob is imported).
"""

import os
import sys
import time

from bigjob import bigjob, subjob, description

COORDINATION_URL = os.environ.get("COORDINATION_URL", "redis://localhost:6379")
NUMBER_JOBS = 3


def main():
    # Start BigJob: 4 processes on this machine, relative working directory "agent"
    lrms_url = "fork://localhost"

    bj = bigjob(COORDINATION_URL)
    bj.start_pilot_job(lrms_url, 4, None, None, "agent", None, None, 1)

    print "Pilot Job/BigJob URL: " + bj.pilot_url + " State: " + str(bj.get_state())

    # Submit sub-jobs, reusing one description
    jd = description()
    jd.executable = "/bin/echo"
    jd.number_of_processes = "1"
    jd.spmd_variation = "single"
    jd.environment = ["HELLOWORLD=hello_world"]
    jd.output = "stdout.txt"
    jd.error = "stderr.txt"

    jobs = []
    for i in range(NUMBER_JOBS):
        jd.arguments = ["$HELLOWORLD", str(i)]
        sj = subjob()
        sj.submit_job(bj.pilot_url, jd)
        jobs.append(sj)

    # busy wait for completion
    for sj in jobs:
        while 1:
            state = str(sj.get_state())
            if state == "Failed" or state == "Done":
                break
            time.sleep(1)
        print "Subjob: " + str(sj) + " State: " + state
        if state != "Done":
            bj.cancel()
            sys.exit(1)

    # Cleanup - stop BigJob
    bj.cancel()
    print "BigJob state after cancel: " + str(bj.get_state())


if __name__ == "__main__":
    try:
        main()
    except Exception, ex:
        print "Error: " + str(ex)
        sys.exit(2)
