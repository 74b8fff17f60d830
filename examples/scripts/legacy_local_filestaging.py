""" File staging with BigJob's legacy API (bigjob / subjob / description) on a
local fork pilot, in the style of
tests/bigjob-api/example_local_single_filestaging.py:

  * the pilot's file_transfer (start_pilot_job's filetransfers) is staged
    into the pilot's sandbox before it runs; a unit's working directory is a
    directory of that sandbox, so units read such a file as ../<name> (or as
    $BIGJOB_PILOT_SANDBOX/<name>);
  * a unit's file_transfer ("ssh://<abs path> > SUBJOB_WORK_DIR") is staged
    into its working directory before it runs;
  * an entry that cannot be staged fails its unit, with the entry and the
    fix in its reason (BigJob skipped it without a word, and the unit failed
    later or not at all).

Runs with Python 2 and 3.
"""
from __future__ import print_function

import os
import sys
import time

from bigjob import bigjob, subjob, description

COORDINATION_URL = os.environ.get("COORDINATION_URL", "redis://localhost:6379")


def write(name, text):
    path = os.path.join(os.getcwd(), name)
    with open(path, "w") as f:
        f.write(text)
    return path


def wait(sj):
    while 1:
        state = str(sj.get_state())
        if state in ("Done", "Failed", "Canceled"):
            return state
        time.sleep(0.5)


def main():
    test_txt = write("test.txt", "Hello World!\n")
    pilot_txt = write("pilot.txt", "Hello from the pilot's sandbox!\n")

    bj = bigjob(COORDINATION_URL)
    bj.start_pilot_job("fork://localhost", 2, None, None, "agent", None, None, 1,
                       filetransfers=["ssh://" + pilot_txt])
    print("Pilot Job/BigJob URL: " + bj.pilot_url)

    jd = description()
    jd.executable = "/bin/cat"
    jd.arguments = ["test.txt", "../pilot.txt"]
    jd.output = "stdout.txt"
    jd.error = "stderr.txt"
    jd.file_transfer = ["ssh://" + test_txt + " > SUBJOB_WORK_DIR"]
    sj = subjob()
    sj.submit_job(bj.pilot_url, jd)

    jd = description()
    jd.executable = "/bin/cat"
    jd.arguments = ["missing.txt"]
    jd.file_transfer = ["ssh://" + os.path.join(os.getcwd(), "missing.txt") + " > SUBJOB_WORK_DIR"]
    missing = subjob()
    missing.submit_job(bj.pilot_url, jd)

    print("Subjob: " + str(sj) + " State: " + wait(sj))
    print("Output: " + sj.get_details()["sandbox"] + "/stdout.txt")
    print("Subjob: " + str(missing) + " State: " + wait(missing))
    print("Reason: " + missing.get_details()["reason"])

    bj.cancel()
    print("BigJob state after cancel: " + str(bj.get_state()))


if __name__ == "__main__":
    try:
        main()
    except Exception as ex:
        print("Error: " + str(ex))
        sys.exit(2)
