""" Reconnects, in another process, the data unit whose URL pilot_data.py
printed, lists its files with their sizes and checksums, and exports them.
Runs with Python 2 and 3:

    python reconnect_data_unit.py DU_URL TARGET_DIR
"""
from __future__ import print_function

import os
import sys

import pilot

if __name__ == "__main__":
    du_url, target = sys.argv[1], sys.argv[2]
    du = pilot.DataUnit(du_url=du_url)
    print("State: %s" % du.get_state())
    for name, info in sorted(du.list().items()):
        print("File: %s %d bytes sha256 %s" % (name, info["size"], info["sha256"]))
    du.export(target)
    with open(os.path.join(target, "stdout.txt")) as f:
        print("Exported: %s" % f.read().strip())
