"""Stand-ins for HTCondor's condor_submit, condor_q, condor_history and
condor_rm that run each job on this machine, for the guide's HTCondor
section (tests/test_guide.py). HTCondor is not installable on the machines
the tests run on; e2e/fake_test.go replays recorded answers instead, and
this runs the job for real, so that a pilot's agent starts from the submit
description the condor adaptor writes and runs units.

    fake_condor.py submit -terse FILE
    fake_condor.py q ID -af JobStatus HoldReason
    fake_condor.py history ID -limit 1 -af JobStatus ExitCode RemoveReason
    fake_condor.py rm ID

What a job is: the submit description's executable, run with its arguments
(the "new syntax": the list in double quotes, words with blanks in single
quotes) in a scratch directory of its own (the "execute node"), into which
transfer_input_files (relative to initialdir) are copied first; output and
error (relative to initialdir) receive its stdout and stderr. Nothing else of
HTCondor (matchmaking, requirements, request_cpus, the job's event log,
periodic_remove) is played. Jobs live in $FAKE_CONDOR_DIR: jobs/<cluster>/
holds the description, the job's pid and, once it ended, its status (4:
completed with the exit code, 3: removed by condor_rm). The answers have the
shape of adaptors/batch/condor/testdata. Works on Python 2.7 and 3.
"""
from __future__ import print_function

import os
import shutil
import signal
import subprocess
import sys
import time

STATE = os.environ.get("FAKE_CONDOR_DIR", "")


def job_dir(cluster):
    return os.path.join(STATE, "jobs", cluster)


def read(path, default=None):
    try:
        with open(path) as f:
            return f.read().strip()
    except (IOError, OSError):
        return default


def write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def parse_arguments(value):
    """The words of an arguments command in the new syntax."""
    value = value.strip()
    if not (value.startswith('"') and value.endswith('"')):
        return value.split()
    value = value[1:-1].replace('""', '"')
    words, word, quoted, i, have = [], [], False, 0, False
    while i < len(value):
        c = value[i]
        if quoted:
            if c == "'" and value[i + 1:i + 2] == "'":
                word.append("'")
                i += 1
            elif c == "'":
                quoted = False
            else:
                word.append(c)
        elif c == "'":
            quoted, have = True, True
        elif c in " \t":
            if word or have:
                words.append("".join(word))
            word, have = [], False
        else:
            word.append(c)
        i += 1
    if word or have:
        words.append("".join(word))
    return words


def parse_description(path):
    d = {}
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#") or "=" not in line:
                continue
            key, value = line.split("=", 1)
            d[key.strip().lower()] = value.strip()
    return d


def next_cluster():
    counter = os.path.join(STATE, "next")
    n = int(read(counter, "41")) + 1
    write(counter, str(n))
    return str(n)


def submit(args):
    path = args[-1]
    d = parse_description(path)
    for key in ("executable", "initialdir", "output", "error"):
        if key not in d:
            print("ERROR: fake condor_submit: no %s in %s" % (key, path), file=sys.stderr)
            return 1
    cluster = next_cluster()
    jd = job_dir(cluster)
    os.makedirs(jd)
    shutil.copy(path, os.path.join(jd, "submit"))
    # the job runs in a process of its own that outlives this command
    devnull = open(os.devnull, "r+")
    subprocess.Popen([sys.executable, os.path.abspath(__file__), "_run", cluster], stdin=devnull,
                     stdout=devnull, stderr=devnull, preexec_fn=os.setsid, close_fds=True)
    deadline = time.time() + 10
    while read(os.path.join(jd, "pid")) is None and time.time() < deadline:
        time.sleep(0.02)
    print("%s.0 - %s.0" % (cluster, cluster))
    return 0


def run(cluster):
    """The job: runs the executable as the execute node would and records
    how it ended."""
    jd = job_dir(cluster)
    d = parse_description(os.path.join(jd, "submit"))
    initial = d["initialdir"]
    scratch = os.path.join(STATE, "execute", cluster)
    os.makedirs(scratch)
    for name in [n.strip() for n in d.get("transfer_input_files", "").split(",") if n.strip()]:
        src = name if os.path.isabs(name) else os.path.join(initial, name)
        shutil.copy(src, scratch)

    def place(p):
        return p if os.path.isabs(p) else os.path.join(initial, p)

    out, err = open(place(d["output"]), "w"), open(place(d["error"]), "w")
    argv = [d["executable"]] + parse_arguments(d.get("arguments", '""'))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/"),
           "_CONDOR_SCRATCH_DIR": scratch}
    child = subprocess.Popen(argv, cwd=scratch, stdout=out, stderr=err, env=env, preexec_fn=os.setsid)
    write(os.path.join(jd, "pid"), str(child.pid))
    code = child.wait()
    if os.path.exists(os.path.join(jd, "removed")):
        write(os.path.join(jd, "status"), "3 undefined via condor_rm (by user %s)" % os.environ.get("USER", "you"))
    elif code < 0:
        write(os.path.join(jd, "status"), "4 undefined undefined")  # killed by a signal: no exit code
    else:
        write(os.path.join(jd, "status"), "4 %d undefined" % code)
    shutil.rmtree(scratch, ignore_errors=True)
    return 0


def cluster_of(job):
    return job.split(".")[0]


def q(args):
    jd = job_dir(cluster_of(args[0]))
    if os.path.isdir(jd) and read(os.path.join(jd, "status")) is None:
        print("2 undefined")  # running; a job that ended has left the queue: nothing
    return 0


def history(args):
    status = read(os.path.join(job_dir(cluster_of(args[0])), "status"))
    if status:
        print(status)
    return 0


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def rm(args):
    job = args[0]
    jd = job_dir(cluster_of(job))
    pid = read(os.path.join(jd, "pid"))
    if pid is None or read(os.path.join(jd, "status")) is not None:
        print("Couldn't find/remove all jobs matching constraint (ClusterId == %s && ProcId == 0)" % cluster_of(job))
        return 1
    write(os.path.join(jd, "removed"), "")
    pid = int(pid)
    try:
        os.killpg(pid, signal.SIGTERM)
    except OSError:
        pass
    deadline = time.time() + 5
    while alive(pid) and read(os.path.join(jd, "status")) is None and time.time() < deadline:
        time.sleep(0.05)
    if read(os.path.join(jd, "status")) is None:
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    print("Job %s marked for removal" % job)
    return 0


def main(argv):
    if not STATE:
        print("fake condor: FAKE_CONDOR_DIR is not set", file=sys.stderr)
        return 2
    cmd, args = argv[0], argv[1:]
    if cmd == "_run":
        return run(args[0])
    return {"submit": submit, "q": q, "history": history, "rm": rm}[cmd](args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
