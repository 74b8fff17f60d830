"""pilot-cli: BigJob's command line tool for pilots and compute units.

    pilot-cli -c redis://localhost --submit_pilot fork://localhost --number_cores 2
    pilot-cli --list_pilots
    pilot-cli --submit_cu PILOT_URL /bin/echo hello
    pilot-cli --run_cu PILOT_URL /bin/date
    pilot-cli --list_cus PILOT_URL
    pilot-cli --get_cu_state CU_URL
    pilot-cli --wait_cus PILOT_URL
    pilot-cli --cancel_cu CU_URL
    pilot-cli --cancel_pilot PILOT_URL
    pilot-cli explain CU_URL            (or --explain CU_URL)
    pilot-cli report PCS_URL -o run.html (or --report PCS_URL)
    pilot-cli watch PCS_URL|PILOT_URL    (or --watch URL; --json for JSON lines)
    pilot-cli --list_pilots --json
    pilot-cli services                  (or --list_services)
    pilot-cli pilots [PCS_URL]          (or --list_store_pilots [PCS_URL])
    pilot-cli units PILOT_URL|PCS_URL   (or --list_units URL)
    pilot-cli cat CU_URL                (or --cat CU_URL)
    pilot-cli cancel PCS_URL            (or --cancel_service PCS_URL)

Installed as the console script `pilot-cli` (pilot.cli:main); also runs as
`python -m pilot.cli`. Works on Python 2.7 and 3.

It takes every option of BigJob's pilot-cli and prints the same lines. Each
call does one action. As in BigJob, the URLs of the pilots it started are kept
(pickled, protocol 2, so both interpreters read it) in
~/.bigjob/pilot-cli.p ($HOME is honored); --list_pilots reads them and
--cancel_pilot and --clean remove them. Differences from BigJob:

- --wait_cus PILOT_URL waits until every unit of the pilot is final, and
  --cancel_cu CU_URL cancels the unit (both were broken);
- ~/.bigjob is created when missing;
- --pilot_description and --compute_unit_description are parsed with
  ast.literal_eval (a Python dict literal; JSON is accepted too), never eval;
- command arguments that start with "-" can follow "--":
  pilot-cli --run_cu PILOT_URL -- /bin/echo -n hello;
- usage errors (a bad literal, two actions, no action, an option that the
  action does not use) exit with status 2 and a message naming the option;
  errors of the pilot API print "pilot-cli: <message>" and exit with status 1.

Added:

- `pilot-cli explain CU_URL` (or `--explain CU_URL`) says why a compute unit
  is not running yet, or what became of it: first a one-sentence summary,
  then its state, queue, attempts and lost reason, and one line per pilot
  that could run it (its state, slots, the age of its last heartbeat, and
  whether it can take the unit, or why not).
- `pilot-cli report PCS_URL -o FILE` (or `--report PCS_URL`) writes the
  report of a pilot compute service's run (PilotComputeService.report) to
  FILE (default report.html): one self-contained HTML page with the totals,
  a timeline of every unit on its pilot's slots, slot utilisation over time,
  the distributions of queue wait and run time, the failures by reason and
  per-host figures. PCS_URL is the URL PilotComputeService.get_url() gives.
- `pilot-cli watch URL` (or `--watch URL`) follows a pilot compute service's
  run (URL: its PCS_URL, or a PILOT_URL for that pilot's service) from the
  store's event stream: units ended of those submitted, counts by state,
  units per second and the time left at that rate, each pilot's busy and
  free slots and heartbeat age, and the latest failures with their reasons,
  redrawn in place on a terminal (a line per change otherwise). It ends when
  every unit submitted is final (for a PILOT_URL: or that pilot ended), the
  service was canceled, or every pilot it had ended, and prints the final
  summary. Exit status: 0 when every unit ended Done, 3 when one failed, was
  canceled or was left unrun. --every SECONDS (default 1) is how often it
  redraws at the latest; with --json it prints one JSON object per line (as
  PilotComputeService.get_progress, with units_per_s, eta_s and failures
  [{"unit", "reason"}]), the last one with "final": true.
- What a store holds, whichever script put it there (one that crashed
  too): `pilot-cli services` lists the pilot compute services of the store
  at --coordination (short id, state, pilots, open units, age, URL);
  `pilot-cli pilots [PCS_URL]` every pilot of the store, or of one service
  (short id, state, slots, service, age, URL), and how to cancel them;
  `pilot-cli units PILOT_URL|PCS_URL` the units of a pilot (as --list_cus)
  or of a service, those of the service queue included, each with the pilot
  that holds or ran it; `pilot-cli cat CU_URL` prints a unit's stdout and
  stderr (files on this host: the unit's sandbox, on a remote pilot's host,
  is not fetched); `pilot-cli cancel PCS_URL` cancels a service and every
  pilot it started. --list_cus shows the units a pilot took from the
  service queue (ComputeDataService's path) too.
- Short ids: wherever an action takes a URL, the short id a listing prints
  stands for it (sj-1f2e3d4c for a unit, bj-... a pilot, pcs-... a
  service; any unique prefix of the uuid, or the whole sj-<uuid> that
  --list_cus prints), resolved in the store at --coordination; an unknown
  or ambiguous one is an error that says so.
- `--json` makes any action print one JSON document on stdout instead of its
  lines (errors still go to stderr, with the same exit status). Keys are
  always present, null when they do not apply:
    --list_pilots      {"pilots": [{"url", "state", "error"}]}
                       (state null and error the message when a saved pilot
                       cannot be read)
    --list_cus URL     {"url", "state", "units": [{"url", "id", "state",
    --wait_cus URL      "queue_time", "run_time"}]}  (the pilot, its state and
                       its units; --wait_cus prints it after the wait;
                       queue_time and run_time in seconds)
    --get_cu_state URL {"url", "state"}
    --cancel_cu URL    {"url", "state"}  (the unit's state after the cancel)
    --submit_cu, --run_cu  {"url", "state"}  (the unit; run_cu: its final state)
    --submit_pilot     {"url", "state"}
    --cancel_pilot URL {"url", "state"}  (the pilot's state after the cancel)
    explain URL        {"unit", "state", "queue", "queue_length", "slots",
                        "pilot", "attempts", "max_attempts", "lost_reason",
                        "reason", "summary", "pilots": [{"name", "state",
                        "slots", "last_heartbeat", "heartbeat_age_s",
                        "can_take", "why"}]}  (see ComputeUnit.explain)
    report URL         {"url", "path"}  (the service and the file written)
    services           {"store", "services": [{"id", "short_id", "url",
                        "state", "created", "pilots", "open_units"}]}
    pilots [URL]       {"url", "pilots": [{"id", "short_id", "url", "state",
                        "service", "service_url", "created", "slots",
                        "reason"}]}  (url: the store or the service)
    units PCS_URL      {"url", "units": [{"id", "short_id", "url", "state",
                        "queue", "pilot", "submitted", "started", "ended",
                        "exit_code"}]}  (units PILOT_URL: as --list_cus)
    cat URL            {"url", "state", "host", "stdout", "stderr",
                        "stdout_path", "stderr_path"}
    cancel URL         {"url", "state"}
    --version          {"version"}
    --clean            {"state_file", "removed"}
  The document is printed with sorted keys.

A pilot outlives the pilot-cli call that started it, and later calls find
it, as long as its coordination store keeps running: a Redis server, or, with
no Redis server at a loopback URL, your lasting local coordination store,
which the library starts (and warns so) in ~/.bigjob/store ($BIGJOB_HOME) and
which stops by itself once it has held nothing for a while.
"""
from __future__ import absolute_import, print_function

import argparse
import ast
import errno
import json
import os
import pickle
import sys
import tempfile
import time

PROG = "pilot-cli"
STATE_DIR = os.path.join("~", ".bigjob")
STATE_FILE = "pilot-cli.p"
PICKLE_PROTOCOL = 2  # readable by Python 2.7 and 3

EPILOG = """\
Each call does one action. The URLs of the pilots started here are kept in
~/.bigjob/pilot-cli.p. Put -- before a command or arguments that start with
"-": %(prog)s --run_cu PILOT_URL -- /bin/echo -n hi

With no Redis server at a loopback URL, the library uses your lasting local
coordination store in ~/.bigjob/store, which outlives this command, so later
calls find the pilot; point --coordination at a Redis server to use that
instead.

Exit status: 0 on success, 1 on errors of the pilot API, 2 on usage errors;
watch: 3 when a unit of the run failed, was canceled or was left unrun."""

# (attribute, option) of the actions; exactly one is given per call.
ACTIONS = [
    ("watch", "--watch"),
    ("submit_pilot", "--submit_pilot"), ("list_pilots", "--list_pilots"), ("cancel_pilot", "--cancel_pilot"),
    ("submit_cu", "--submit_cu"), ("run_cu", "--run_cu"), ("get_cu_state", "--get_cu_state"),
    ("wait_cus", "--wait_cus"), ("list_cus", "--list_cus"), ("cancel_cu", "--cancel_cu"),
    ("explain", "--explain"), ("report", "--report"), ("clean", "--clean"), ("version", "--version"),
    ("services", "--list_services"),
    ("pilots", "--list_store_pilots"),
    ("units", "--list_units"),
    ("cat", "--cat"),
    ("cancel", "--cancel_service"),
]

# The positional forms of --explain and --report: pilot-cli explain CU_URL,
# pilot-cli report PCS_URL.
EXPLAIN_COMMAND = "explain"
REPORT_COMMAND = "report"
COMMANDS = {EXPLAIN_COMMAND: "CU_URL of one compute unit", REPORT_COMMAND: "PCS_URL of one pilot compute service"}
COMMANDS["watch"] = "PCS_URL of one pilot compute service, or a PILOT_URL"
WATCH_FAILED = 3  # the exit status of a watch whose run did not end all Done
# What a store holds: pilot-cli services, pilots [PCS_URL], units
# PILOT_URL|PCS_URL, cat CU_URL, cancel PCS_URL.
COMMANDS["services"] = "no argument"
COMMANDS["pilots"] = "PCS_URL of one pilot compute service, or nothing for every pilot of the store"
COMMANDS["units"] = "PILOT_URL of one pilot or PCS_URL of one pilot compute service"
COMMANDS["cat"] = "CU_URL of one compute unit"
COMMANDS["cancel"] = "PCS_URL of one pilot compute service"
# (least, most) words a command takes; (1, 1) when not listed.
COMMAND_WORDS = {"services": (0, 0), "pilots": (0, 1)}
# The kind of object each action's URL argument names, so that a short id
# (sj-1f2e3d4c, bj-..., pcs-...) can stand for it (pilot.resolve).
URL_KINDS = {
    "cancel_pilot": "pilot", "list_cus": "pilot", "wait_cus": "pilot", "submit_cu": "pilot", "run_cu": "pilot",
    "get_cu_state": "unit", "cancel_cu": "unit", "explain": "unit", "report": "service",
}
URL_KINDS["pilots"] = "service"
URL_KINDS["units"] = None  # a pilot or a service
URL_KINDS["cat"] = "unit"
URL_KINDS["cancel"] = "service"
URL_KINDS["watch"] = None  # a service or a pilot
DEFAULT_REPORT = "report.html"

# What ast.literal_eval raises on bad input (RecursionError is a RuntimeError).
_LITERAL_ERRORS = (ValueError, SyntaxError, TypeError, MemoryError, RuntimeError)

_NOT_GIVEN = object()  # default of --submit_pilot (given without a value, it is None)


class UsageError(Exception):
    """A bad command line: printed with the usage, exit status 2."""


class CLIError(Exception):
    """An error of this tool (not of the pilot API): exit status 1."""


def _out(line=""):
    """Prints a line of output at once (the waits come after some lines)."""
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _err(line):
    sys.stderr.write("%s: %s\n" % (PROG, line))
    sys.stderr.flush()


def _positive_int(text):
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError("expected a positive integer, not %r" % (text,))
    return n


def parse_description(option, text):
    """The dict of a description option: a Python dict literal (or JSON),
    parsed without evaluating code. A bad value is a UsageError naming the
    option."""
    try:
        value = ast.literal_eval(text)
    except _LITERAL_ERRORS as e:
        try:
            value = json.loads(text)
        except ValueError:
            raise UsageError("%s: not a Python dict literal: %s (%r)" % (option, _describe(e), text))
    if not isinstance(value, dict):
        raise UsageError("%s: expected a dict literal such as \"{'executable': '/bin/date'}\", not a %s (%r)"
                         % (option, type(value).__name__, text))
    return value


def _describe(e):
    if isinstance(e, SyntaxError) and e.msg:
        return e.msg
    if isinstance(e, ValueError) and "malformed" in str(e):
        return "only literals are allowed (strings, numbers, lists, dicts, True, False, None), not names or calls"
    return str(e) or type(e).__name__


def build_parser():
    p = argparse.ArgumentParser(
        prog=PROG, description="BigJob Command Line Utility: start pilots and run compute units on them.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--coordination", "-c", metavar="URL", default="redis://localhost",
                   help="coordination store of new pilots: redis://[password@]host[:port] "
                        "(default: %(default)s)")
    p.add_argument("--clean", action="store_true", default=False,
                   help="forget the saved pilot URLs (delete ~/.bigjob/pilot-cli.p)")
    p.add_argument("--version", action="store_true", default=False, help="print the BigJob version")
    p.add_argument("--json", action="store_true", default=False,
                   help="print one JSON document instead of lines (see the keys in pydoc pilot.cli)")

    g = p.add_argument_group("Manage pilots")
    g.add_argument("--number_cores", metavar="N", type=_positive_int, default=None,
                   help="with --submit_pilot: number of processes of the pilot (default: 1)")
    g.add_argument("--cores_per_node", metavar="N", type=_positive_int, default=None,
                   help="with --submit_pilot: processes per node (default: 1)")
    g.add_argument("--submit_pilot", nargs="?", metavar="RESOURCE_URL", default=_NOT_GIVEN,
                   help="start a pilot on a resource, e.g. fork://localhost, and save its URL")
    g.add_argument("--pilot_description", metavar="PILOT_COMPUTE_DESCRIPTION", default=None,
                   help="with --submit_pilot: the pilot compute description as a Python dict literal, e.g. "
                        "\"{'service_url': 'fork://localhost', 'number_of_processes': 1, "
                        "'working_directory': '/tmp'}\"")
    g.add_argument("--cancel_pilot", metavar="PILOT_URL", default=None,
                   help="cancel a pilot and forget its URL")
    g.add_argument("--list_pilots", action="store_true", default=False,
                   help="list the saved pilots and their states")
    g.add_argument("--wait_cus", metavar="PILOT_URL", default=None,
                   help="wait until every compute unit of a pilot has terminated")
    g.add_argument("--list_cus", metavar="PILOT_URL", default=None,
                   help="list the compute units of a pilot")

    g = p.add_argument_group("Manage compute units")
    g.add_argument("--submit_cu", nargs="+", metavar=("PILOT_URL", "COMMAND ARGS"), default=None,
                   help="submit a compute unit to a pilot (does not wait)")
    g.add_argument("--compute_unit_description", metavar="COMPUTE_UNIT_DESCRIPTION", default=None,
                   help="with --submit_cu/--run_cu PILOT_URL: the compute unit description as a Python "
                        "dict literal, e.g. \"{'executable': '/bin/date', 'arguments': [], "
                        "'number_of_processes': 1, 'output': 'stdout.txt', 'error': 'stderr.txt'}\"")
    g.add_argument("--run_cu", nargs="+", metavar=("PILOT_URL", "COMMAND ARGS"), default=None,
                   help="submit a compute unit to a pilot and wait until it has terminated")
    g.add_argument("--get_cu_state", metavar="CU_URL", default=None, help="print the state of a compute unit")
    g.add_argument("--cancel_cu", metavar="CU_URL", default=None, help="cancel a compute unit")
    g.add_argument("--explain", metavar="CU_URL", default=None,
                   help="say why a compute unit is not running yet, or what became of it "
                        "(also: %(prog)s explain CU_URL)")

    g = p.add_argument_group("What a store holds (short ids such as sj-1f2e3d4c stand for URLs everywhere)")
    g.add_argument("--list_services", dest="services", action="store_true", default=False,
                   help="list the pilot compute services of the store at --coordination (also: %(prog)s services)")
    g.add_argument("--list_store_pilots", dest="pilots", nargs="?", const=True, default=None, metavar="PCS_URL",
                   help="list every pilot of the store at --coordination, or of one service, whichever script "
                        "started it (also: %(prog)s pilots [PCS_URL])")
    g.add_argument("--list_units", dest="units", metavar="PILOT_URL|PCS_URL", default=None,
                   help="list the compute units of a pilot or of a service, the service queue's included "
                        "(also: %(prog)s units URL)")
    g.add_argument("--cat", dest="cat", metavar="CU_URL", default=None,
                   help="print a compute unit's stdout and stderr (also: %(prog)s cat CU_URL)")
    g.add_argument("--cancel_service", dest="cancel", metavar="PCS_URL", default=None,
                   help="cancel a pilot compute service: every pilot it started (also: %(prog)s cancel PCS_URL)")

    g = p.add_argument_group("Report")
    g.add_argument("--report", metavar="PCS_URL", default=None,
                   help="write the report of a pilot compute service's run as one HTML page "
                        "(also: %(prog)s report PCS_URL -o FILE)")
    g.add_argument("--output", "-o", metavar="FILE", default=None,
                   help="with report: the file to write (default: %s)" % DEFAULT_REPORT)
    g = p.add_argument_group("Watch")
    g.add_argument("--watch", metavar="URL", default=None,
                   help="follow a run until it ends: counts, rate, time left, pilots, failures "
                        "(also: %(prog)s watch PCS_URL|PILOT_URL)")
    g.add_argument("--every", metavar="SECONDS", type=float, default=None,
                   help="with watch: redraw at least this often (default 1)")
    # The command after "--" (see the epilog).
    p.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    return p


def _given(args, attr):
    v = getattr(args, attr)
    if attr == "submit_pilot":
        return v is not _NOT_GIVEN
    return v not in (None, False)


def check_args(args):
    """Checks what argparse cannot; returns the action's attribute name."""
    given = [(a, o) for a, o in ACTIONS if _given(args, a)]
    command = not any(a in ("submit_cu", "run_cu") for a, _ in given)
    if command and args.rest and args.rest[0] in COMMANDS:  # pilot-cli explain CU_URL, report PCS_URL
        name, words, args.rest = args.rest[0], args.rest[1:], []
        if given:
            raise UsageError("one action at a time: %s and %s" % (" and ".join(o for _, o in given), name))
        least, most = COMMAND_WORDS.get(name, (1, 1))
        if not least <= len(words) <= most:
            raise UsageError("%s: give the %s (got %s)" % (name, COMMANDS[name], " ".join(words) if words else "none"))
        setattr(args, name, words[0] if words else True)
        given = [(name, name)]
    if not given:
        raise UsageError("no action given: use one of %s (see --help)" % ", ".join(o for _, o in ACTIONS))
    if len(given) > 1:
        raise UsageError("one action at a time: %s" % " and ".join(o for _, o in given))
    action = given[0][0]
    if not args.coordination:
        raise UsageError("--coordination: the URL is empty")

    def only_with(option, value, allowed):
        if value is not None and action not in allowed:
            raise UsageError("%s is only used with %s" % (option, " or ".join("--" + a for a in allowed)))

    only_with("--number_cores", args.number_cores, ["submit_pilot"])
    only_with("--cores_per_node", args.cores_per_node, ["submit_pilot"])
    only_with("--pilot_description", args.pilot_description, ["submit_pilot"])
    only_with("--compute_unit_description", args.compute_unit_description, ["submit_cu", "run_cu"])
    only_with("--output", args.output, ["report"])
    only_with("--every", args.every, ["watch"])
    if args.every is not None and not args.every > 0:
        raise UsageError("--every: give a positive number of seconds, not %s" % args.every)
    if action == "report" and args.output == "":
        raise UsageError("--output: the file name is empty")
    if args.rest and action not in ("submit_cu", "run_cu"):
        raise UsageError("unrecognized arguments: %s" % " ".join(args.rest))

    if action == "submit_pilot":
        if args.pilot_description is not None:
            if args.number_cores is not None or args.cores_per_node is not None:
                raise UsageError("--pilot_description: give the numbers of processes in the description, "
                                 "not with --number_cores/--cores_per_node")
            args.pilot_description = parse_description("--pilot_description", args.pilot_description)
        elif args.submit_pilot is None:
            raise UsageError("--submit_pilot: give a RESOURCE_URL (e.g. fork://localhost) or --pilot_description")
    elif action in ("submit_cu", "run_cu"):
        option = "--" + action
        words = getattr(args, action) + list(args.rest)
        if args.compute_unit_description is not None:
            if len(words) > 1:
                raise UsageError("%s: give either a command or --compute_unit_description, not both (got %s)"
                                 % (option, " ".join(words[1:])))
            args.compute_unit_description = parse_description("--compute_unit_description",
                                                              args.compute_unit_description)
        elif len(words) < 2:
            raise UsageError("%s: give PILOT_URL and the COMMAND to run (or --compute_unit_description)" % option)
        setattr(args, action, words)
    return action


class BigJobCLI(object):
    """The actions; the list of saved pilot URLs is read when first needed."""

    def __init__(self, pilot_module, as_json=False):
        self.pilot = pilot_module
        self.as_json = as_json
        self._pilots = None

    # Saved pilots ----------------------------------------------------------

    @staticmethod
    def state_file():
        return os.path.join(os.path.expanduser(STATE_DIR), STATE_FILE)

    @property
    def pilots(self):
        if self._pilots is None:
            self._pilots = self._restore()
        return self._pilots

    def _restore(self):
        path = self.state_file()
        try:
            with open(path, "rb") as f:
                urls = pickle.load(f)
        except (IOError, OSError) as e:
            if e.errno == errno.ENOENT:
                return []
            raise CLIError("cannot read %s: %s" % (path, e.strerror or e))
        except Exception as e:  # a corrupt file: start afresh, as BigJob did
            _err("warning: ignoring unreadable %s (%s: %s); --clean removes it" % (path, type(e).__name__, e))
            return []
        if not isinstance(urls, list) or not all(isinstance(u, (str, type(u"")))
                                                 for u in urls):
            _err("warning: ignoring %s: it does not hold a list of pilot URLs; --clean removes it" % path)
            return []
        return [_native(u) for u in urls]

    def _persist(self):
        path = self.state_file()
        directory = os.path.dirname(path)
        try:
            if not os.path.isdir(directory):
                os.makedirs(directory)
            fd, tmp = tempfile.mkstemp(prefix=STATE_FILE + ".", dir=directory)
            try:
                with os.fdopen(fd, "wb") as f:
                    pickle.dump(list(self.pilots), f, PICKLE_PROTOCOL)
                os.rename(tmp, path)
            except BaseException:
                os.unlink(tmp)
                raise
        except (IOError, OSError) as e:
            raise CLIError("cannot save the pilot list in %s: %s" % (path, e.strerror or e))

    # Output ----------------------------------------------------------------

    def _say(self, line=""):
        """A line of the text output (nothing with --json)."""
        if not self.as_json:
            _out(line)

    def _emit(self, doc):
        """The JSON document of the action (only with --json)."""
        if self.as_json:
            _out(json.dumps(doc, sort_keys=True, indent=2, separators=(",", ": ")))

    # Pilots ----------------------------------------------------------------

    def submit_pilot(self, coordination_url, resource_url, number_cores, cores_per_node):
        pcd = {
            "service_url": resource_url,
            "working_directory": os.getcwd(),
            "number_of_processes": number_cores,
            "processes_per_node": cores_per_node,
        }
        self.submit_pilot_by_description(coordination_url, pcd)

    def submit_pilot_by_description(self, coordination_url, pcd):
        self.pilot.compute.remind_at_exit = False  # the pilot is meant to outlive this call
        pcs = self.pilot.PilotComputeService(coordination_url=coordination_url)
        pc = pcs.create_pilot(pilot_compute_description=pcd)
        url = pc.get_url()
        self._say("Started Pilot: %s" % url)
        self.pilots.append(url)
        self._persist()
        if self.as_json:
            self._emit({"url": url, "state": pc.get_state()})

    def cancel_pilot(self, pilot_url):
        pc = self.pilot.PilotCompute(pilot_url=pilot_url)
        pc.cancel()
        if pilot_url in self.pilots:
            self.pilots.remove(pilot_url)
            self._persist()
        self._say("Terminated Pilot: %s" % pilot_url)
        if self.as_json:
            self._emit({"url": pilot_url, "state": pc.get_state()})

    def list_pilots(self):
        self._say("\nPilot Compute" + "\t" * 9 + "State")
        self._say("-" * 101)
        if not self.pilots:
            self._say("No pilot found")
        rows = []
        for url in self.pilots:
            error = None
            try:
                pc = self.pilot.PilotCompute(pilot_url=url)
                state = pc.get_state()
                url = pc.get_url()
            except self.pilot.PilotError as e:
                state, error = None, e.value
            rows.append({"url": url, "state": state, "error": error})
            self._say("%s\t%s" % (url, state if error is None else "Unknown (%s)" % error))
        self._say()
        self._emit({"pilots": rows})

    def list_cus(self, pilot_url):
        pc = self.pilot.PilotCompute(pilot_url=pilot_url)
        cus = pc.list_compute_units()
        doc = {"url": pc.get_url(), "state": pc.get_state(), "units": []}
        self._say("\nPilot Compute: %s" % doc["url"])
        self._say("State: %s" % doc["state"])
        self._say("#\tCompute Unit" + "\t" * 5 + "State\tQueue\tRuntime")
        self._say("-" * 89)
        if not cus:
            self._say("No Compute Unit found.")
        for i, cu in enumerate(cus):
            url = cu.get_url()
            short = url.rsplit(":jobs:", 1)[-1].split("/?", 1)[0]
            state = cu.get_state()
            details = cu.get_details() or {}
            queue_time = _elapsed(details, "start_time", "end_queue_time")
            run_time = _elapsed(details, "end_queue_time", "end_time")
            doc["units"].append({"url": url, "id": cu.get_id(), "state": state, "queue_time": round(queue_time, 3),
                                 "run_time": round(run_time, 3)})
            self._say("%d\t%s\t\t%s\t%.1f\t%.1f" % (i + 1, short, state, queue_time, run_time))
        self._say()
        self._emit(doc)

    def wait_cus(self, pilot_url):
        pc = self.pilot.PilotCompute(pilot_url=pilot_url)
        self._say("Waiting for termination")
        pc.wait()
        self._say("All CUs of %s terminated" % pc.get_url())
        if self.as_json:
            self.list_cus(pilot_url)

    # Compute units ---------------------------------------------------------

    @staticmethod
    def command_description(command):
        return {
            "executable": command[0],
            "arguments": list(command[1:]),
            "total_core_count": 1,
            "number_of_processes": 1,
            "output": "stdout.txt",
            "error": "stderr.txt",
        }

    def _submit(self, pilot_url, cud):
        pc = self.pilot.PilotCompute(pilot_url=pilot_url)
        cu = pc.submit_compute_unit(cud)
        self._say("Started ComputeUnit: %s" % cu.get_url())
        return cu

    def submit_cu(self, pilot_url, cud):
        cu = self._submit(pilot_url, cud)
        if self.as_json:
            self._emit({"url": cu.get_url(), "state": cu.get_state()})
        return cu

    def run_cu(self, pilot_url, cud):
        cu = self._submit(pilot_url, cud)
        self._say("Waiting for termination")
        state = cu.wait()
        self._say("CU %s terminated" % cu.get_url())
        self._emit({"url": cu.get_url(), "state": state})
        return cu

    def get_cu_state(self, cu_url):
        cu = self.pilot.ComputeUnit(cu_url=cu_url)
        state = cu.get_state()
        self._say("Compute Unit: %s State: %s" % (cu_url, state))
        self._emit({"url": cu_url, "state": state})

    def cancel_cu(self, cu_url):
        cu = self.pilot.ComputeUnit(cu_url=cu_url)
        cu.cancel()
        self._say("Terminated CU: %s" % cu_url)
        if self.as_json:
            self._emit({"url": cu_url, "state": cu.get_state()})

    def explain(self, cu_url):
        e = self.pilot.ComputeUnit(cu_url=cu_url).explain()
        self._emit(e)
        if self.as_json:
            return
        for line in explanation_lines(e):
            _out(line)

    # Report ----------------------------------------------------------------

    def report(self, pcs_url, path):
        self.pilot.PilotComputeService(pcs_url=pcs_url).report(path)
        self._say("Wrote the report of %s to %s" % (pcs_url, path))
        self._emit({"url": pcs_url, "path": path})

    # Watch -----------------------------------------------------------------

    def watch(self, url, every=1.0):
        """Follows the run at url until it ends; returns the exit status."""
        from pilot import progress
        pilot_name = None
        if "/pcs/" not in url:  # a pilot: follow its service
            pc = self.pilot.PilotCompute(pilot_url=url)
            pilot_name = url.rsplit("/", 1)[-1]
            url = pc.get_service_url()
        pcs = self.pilot.PilotComputeService(pcs_url=url)
        watch = pcs.watch_progress()
        tty = not self.as_json and _isatty(sys.stdout)
        drawn = 0
        try:
            while True:
                p = watch.next(every)
                ended = p["final"] or _pilot_ended(p, pilot_name)
                if self.as_json:
                    p["final"] = ended
                    _out(json.dumps(p, sort_keys=True))
                elif tty:
                    block = progress.lines(p)
                    if drawn:
                        sys.stdout.write("\x1b[%dA\x1b[J" % drawn)
                    for line in block:
                        _out(line)
                    drawn = len(block)
                elif not ended:
                    _out(progress.summary(p))
                if ended:
                    break
        finally:
            watch.close()
        if not self.as_json and not tty:
            for line in progress.lines(p):
                _out(line)
        counts = p.get("counts") or {}
        return 0 if p.get("units", 0) == counts.get("Done", 0) else WATCH_FAILED

    # Auxiliary -------------------------------------------------------------

    def version(self):
        self._say("BigJob Version: %s" % self.pilot.version)
        self._emit({"version": self.pilot.version})

    def clean(self):
        removed = True
        try:
            os.remove(self.state_file())
        except OSError as e:
            if e.errno != errno.ENOENT:
                raise CLIError("cannot remove %s: %s" % (self.state_file(), e.strerror or e))
            removed = False
        self._pilots = []
        self._emit({"state_file": self.state_file(), "removed": removed})


def explanation_lines(e):
    """The text report of ComputeUnit.explain(): the summary first, then one
    line per field and per pilot."""
    def none(v):
        return "none" if v in (None, "") else v

    waiting = e.get("queue_length", 0)
    lines = [
        e.get("summary") or "",
        "Unit:         %s" % e.get("unit"),
        "State:        %s" % e.get("state"),
        "Queue:        %s (%d unit%s waiting)" % (e.get("queue"), waiting, "" if waiting == 1 else "s"),
        "Slots:        %s" % e.get("slots"),
        "Pilot:        %s" % none(e.get("pilot")),
        "Attempts:     %s of %s" % (e.get("attempts"), e.get("max_attempts")),
        "Lost reason:  %s" % none(e.get("lost_reason")),
        "Reason:       %s" % none(e.get("reason")),
    ]
    pilots = e.get("pilots") or []
    if not pilots:
        lines.append("Pilots:       none")
        return lines
    lines.append("Pilots:")
    for p in pilots:
        age = p.get("heartbeat_age_s")
        if age is None or age < 0:
            heartbeat = "no heartbeat yet"
        else:
            heartbeat = "last heartbeat %.1f s ago" % age
        if p.get("can_take") and p.get("why"):
            take = "can take it (%s)" % p["why"]
        elif p.get("can_take"):
            take = "can take it"
        else:
            take = "cannot take it: %s" % none(p.get("why"))
        slots = p.get("slots")
        lines.append("  %s  %s  %s slot%s  %s  %s" % (p.get("name"), p.get("state"), slots,
                                                    "" if slots == 1 else "s", heartbeat, take))
    return lines


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _pilot_ended(p, name):
    """Whether the pilot called name (None: no pilot watched) is final in
    progress p."""
    for g in p.get("pilots") or []:
        if name is not None and g.get("name") == name:
            return g.get("state") in ("Done", "Failed", "Canceled")
    return False


def _native(text):
    """text as the native str (Python 2 reads Python 3's pickles as unicode)."""
    if not isinstance(text, str):
        return text.encode("utf-8")
    return text


def _elapsed(details, start, end):
    try:
        return float(details[end]) - float(details[start])
    except (KeyError, TypeError, ValueError):
        return 0.0


def resolve_short_ids(args, action, pilot_module):
    """Replaces a short id given for the action's URL (sj-1f2e3d4c, bj-...,
    pcs-..., as listings print them) by the URL it names in the store at
    --coordination."""
    if action not in URL_KINDS:
        return
    value = getattr(args, action)
    words = value if isinstance(value, list) else [value]
    if not words or not isinstance(words[0], str) or "://" in words[0]:
        return
    words[0] = pilot_module.resolve(words[0], args.coordination, URL_KINDS[action])
    if not isinstance(value, list):
        setattr(args, action, words[0])


def run(args, action, pilot_module):
    resolve_short_ids(args, action, pilot_module)
    app = BigJobCLI(pilot_module, as_json=args.json)
    if action in STORE_ACTIONS:
        return STORE_ACTIONS[action](StoreCLI(app, args.coordination), getattr(args, action))
    if action == "submit_pilot":
        if args.pilot_description is not None:
            pcd = args.pilot_description
            if args.submit_pilot and "service_url" not in pcd:
                pcd["service_url"] = args.submit_pilot
            app.submit_pilot_by_description(args.coordination, pcd)
        else:
            app.submit_pilot(args.coordination, args.submit_pilot,
                             args.number_cores if args.number_cores is not None else 1,
                             args.cores_per_node if args.cores_per_node is not None else 1)
    elif action in ("submit_cu", "run_cu"):
        words = getattr(args, action)
        cud = args.compute_unit_description
        if cud is None:
            cud = app.command_description(words[1:])
        getattr(app, action)(words[0], cud)
    elif action == "report":
        app.report(args.report, args.output or DEFAULT_REPORT)
    elif action == "watch":
        return app.watch(args.watch, args.every or 1.0)
    elif action in ("list_pilots", "clean", "version"):
        getattr(app, action)()
    else:
        getattr(app, action)(getattr(args, action))


class StoreCLI(object):
    """The actions on what a store holds: services, pilots, units, cat and
    cancel. Text goes through app's _say, JSON through its _emit."""

    def __init__(self, app, coordination_url):
        self.app, self.pilot, self.coordination = app, app.pilot, coordination_url

    def services(self, _):
        svcs = self.pilot.list_services(self.coordination)
        self.app._say("%-13s  %-8s  %6s  %6s  %10s  %s" % ("Service", "State", "Pilots", "Open", "Age", "URL"))
        if not svcs:
            self.app._say("No pilot compute service found in %s" % self.coordination)
        for s in svcs:
            self.app._say("%-13s  %-8s  %6d  %6d  %10s  %s" % (s["short_id"], s["state"], s["pilots"],
                                                             s["open_units"], _age(s["created"]), s["url"]))
        self.app._emit({"store": self.coordination, "services": svcs})

    def pilots(self, pcs_url):
        url = pcs_url if isinstance(pcs_url, str) else self.coordination
        pilots = self.pilot.list_pilots(url)
        self.app._say("%-11s  %-8s  %5s  %-13s  %10s  %s" % ("Pilot", "State", "Slots", "Service", "Age", "URL"))
        if not pilots:
            self.app._say("No pilot found in %s" % url)
        for p in pilots:
            self.app._say("%-11s  %-8s  %5d  %-13s  %10s  %s" % (p["short_id"], p["state"], p["slots"],
                                                               short_id(p["service"]), _age(p["created"]), p["url"]))
        live = [p for p in pilots if p["state"] not in ("Done", "Canceled", "Failed")]
        if live:
            self.app._say("Cancel one with: %s --cancel_pilot %s (or every pilot of a service: %s cancel %s)"
                          % (PROG, live[0]["short_id"], PROG, short_id(live[0]["service"])))
        self.app._emit({"url": url, "pilots": pilots})

    def units(self, url):
        if "/pcs/" not in url:
            return self.app.list_cus(url)
        pcs = self.pilot.PilotComputeService(pcs_url=url)
        units = pcs.list_units()
        self.app._say("%-11s  %-8s  %-11s  %-11s  %8s  %s" % ("Unit", "State", "Queue", "Pilot", "Runtime", "URL"))
        if not units:
            self.app._say("No Compute Unit found.")
        for u in units:
            queue = "service" if u["queue"] == "service" else short_id(u["queue"])
            ran = u["ended"] - u["started"] if u["started"] and u["ended"] else 0.0
            self.app._say("%-11s  %-8s  %-11s  %-11s  %8.1f  %s" % (u["short_id"], u["state"], queue,
                                                                  short_id(u["pilot"]) or "-", ran, u["url"]))
        self.app._emit({"url": url, "units": units})

    def cat(self, cu_url):
        cu = self.pilot.ComputeUnit(cu_url=cu_url)
        details = cu.get_details() or {}
        sandbox = cu.get_local_working_directory()
        if not sandbox:
            raise CLIError("%s has not started yet (state %s): it has no output" % (cu_url, cu.get_state()))
        try:
            description = json.loads(details.get("description") or "{}")
        except ValueError:
            description = {}
        doc = {"url": cu_url, "state": cu.get_state(), "host": details.get("run_host")}
        for stream, default in (("stdout", "stdout"), ("stderr", "stderr")):
            key = "output" if stream == "stdout" else "error"
            path = os.path.join(sandbox, description.get(key) or default)
            try:
                with open(path, "rb") as f:
                    text = f.read().decode("utf-8", "replace")
            except (IOError, OSError) as e:
                where = " on %s" % doc["host"] if doc["host"] else ""
                raise CLIError("cannot read the %s of %s: %s (%s%s)" % (stream, cu_url, e.strerror or e, path, where))
            doc[stream], doc[stream + "_path"] = text, path
        if not self.app.as_json:
            for stream in ("stdout", "stderr"):
                _out("==> %s: %s <==" % (stream, doc[stream + "_path"]))
                sys.stdout.write(_native(doc[stream]) if sys.version_info[0] == 2 else doc[stream])
                if doc[stream] and not doc[stream].endswith("\n"):
                    _out()
            sys.stdout.flush()
        self.app._emit(doc)

    def cancel(self, pcs_url):
        pcs = self.pilot.PilotComputeService(pcs_url=pcs_url)
        pcs.cancel()
        self.app._say("Canceled Pilot Compute Service: %s" % pcs_url)
        self.app._emit({"url": pcs_url, "state": "Canceled"})


STORE_ACTIONS = {"services": StoreCLI.services, "pilots": StoreCLI.pilots, "units": StoreCLI.units,
                 "cat": StoreCLI.cat, "cancel": StoreCLI.cancel}


def short_id(url_or_id):
    """pilot.progress.short_id, imported when used: this module loads the
    package (and its library) only once it has parsed the command line."""
    from pilot.progress import short_id as short
    return short(url_or_id)


def _age(created):
    """How long ago epoch seconds created were, as 42s, 5m, 3h or 2d."""
    if not created:
        return "?"
    seconds = max(0, time.time() - created)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return "%d%s" % (seconds // size, unit)
    return "%ds" % seconds


def _silence_stdout():
    """Points stdout at /dev/null, so that the flush at exit does not fail
    again on a closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


def main(argv=None):
    """Runs pilot-cli with argv (default sys.argv[1:]); returns the exit
    status (argparse exits with 2 itself on bad options)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra:
        # argparse gives "rest" only the words before the first option: take
        # the CU_URL of "explain --json CU_URL" too; anything else is an error
        # as parse_args would raise it.
        if args.rest[:1] and args.rest[0] in COMMANDS and not any(w.startswith("-") for w in extra):
            args.rest += extra
        else:
            parser.error("unrecognized arguments: %s" % " ".join(extra))
    try:
        action = check_args(args)
    except UsageError as e:
        parser.error(str(e))
    try:
        import pilot
    except Exception as e:
        _err("cannot load the pilot library: %s" % e)
        return 1
    try:
        status = run(args, action, pilot)
    except pilot.PilotError as e:
        _err(e.value)
        return 1
    except CLIError as e:
        _err(e)
        return 1
    except EnvironmentError as e:  # OSError, IOError
        if e.errno == errno.EPIPE:  # e.g. pilot-cli --list_pilots | head -1
            _silence_stdout()
            return 1
        _err(e)
        return 1
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
