"""The report of a run: PilotComputeService.report(path) and
`pilot-cli report PCS_URL -o FILE`. A run with units that end Done and
Failed for two reasons; the report's numbers are read back from its HTML
(the data-k, data-v and data-* marks the page carries).

Works on Python 2.7 and 3:
    python3 -m pytest python/tests/test_report.py
    cd python && PYENV_VERSION=2.7.18 python2 -m unittest tests.test_report
"""
from __future__ import print_function

import json
import os
import re

from tests.test_cli import CLICase

UNITS = [{"executable": "/bin/true"}] * 3 + [
    {"executable": "/bin/sh", "arguments": ["-c", "'exit 3'"]},
    {"executable": "/nonexistent/program"},
]


def figures(page):
    """The totals (data-k: data-v), the failures ({reason: units}) and the
    timeline's lanes of a report page."""
    totals = dict((k, float(v)) for k, v in re.findall(r'<td data-k="([a-z_]+)" data-v="([^"]*)">', page))
    failures = {}
    for reason, n in re.findall(r'<tr data-k="failure" data-state="Failed" data-reason="([^"]*)" data-units="(\d+)">',
                                page):
        failures[reason] = failures.get(reason, 0) + int(n)
    lanes = re.search(r'<canvas id="gantt"[^>]* data-lanes="(\d+)"', page)
    return totals, failures, int(lanes.group(1)) if lanes else None


class ReportTest(CLICase):
    def run_units(self):
        """A service with a 2-slot fork pilot that ran UNITS; returns the
        service."""
        import pilot
        pcs = pilot.PilotComputeService(self.need_redis())
        self.addCleanup(pcs.cancel)
        pc = pcs.create_pilot({"service_url": "fork://localhost", "number_of_processes": 2,
                               "working_directory": self.work})
        self.started.append(pc.get_url())
        cus = pc.submit_compute_units(UNITS)
        pc.wait()
        states = sorted(cu.get_state() for cu in cus)
        self.assertEqual(states, ["Done"] * 3 + ["Failed"] * 2)
        return pcs

    def check(self, path):
        self.assertTrue(os.path.isfile(path), path)
        with open(path, "rb") as f:
            page = f.read().decode("utf-8")
        self.assertTrue(page.startswith("<!DOCTYPE html>"), page[:200])
        self.assertNotIn("<script src", page, "the page loads nothing")
        self.assertNotIn("<link", page, "the page loads nothing")
        totals, failures, lanes = figures(page)
        self.assertEqual(totals.get("units"), 5, totals)
        self.assertEqual(totals.get("done"), 3, totals)
        self.assertEqual(totals.get("failed"), 2, totals)
        self.assertEqual(sorted(failures.values()), [1, 1], failures)
        self.assertTrue(any(r.startswith("exit code 3") for r in failures), failures)
        self.assertTrue(any(r.startswith("exit code 127") for r in failures), failures)
        self.assertEqual(lanes, 2)
        self.assertGreater(totals.get("utilisation"), 0)
        self.assertLessEqual(totals.get("utilisation"), 1)
        self.assertAlmostEqual(totals["busy_slot_s"] / totals["allocated_slot_s"], totals["utilisation"], 9)

    def test_service_report(self):
        pcs = self.run_units()
        path = os.path.join(self.work, "run.html")
        self.assertEqual(pcs.report(path), path)
        self.check(path)

    def test_cli_report(self):
        pcs = self.run_units()
        url = pcs.get_url()
        path = os.path.join(self.work, "run.html")
        r = self.ok("report", url, "-o", path)
        self.assertEqual(r.out, "Wrote the report of %s to %s\n" % (url, path))
        self.check(path)
        os.remove(path)
        r = self.ok("--report", url, "--output", path, "--json")
        self.assertEqual(json.loads(r.out), {"url": url, "path": path})
        self.check(path)
        # the default file name, in the working directory
        self.ok("report", url)
        self.check(os.path.join(self.work, "report.html"))

    def test_cli_report_usage(self):
        self.usage_error(self.cli("report"), "report", "PCS_URL")
        self.usage_error(self.cli("--list_pilots", "-o", "x.html"), "--output")
        self.usage_error(self.cli("report", "a", "b"), "PCS_URL")

    def test_report_of_unknown_service(self):
        url = self.need_redis() + "/pcs/pcs-00000000-0000-4000-8000-000000000000"
        r = self.cli("report", url, "-o", os.path.join(self.work, "x.html"))
        self.assertEqual(r.status, 1, r)
        self.assertIn("pcs-00000000-0000-4000-8000-000000000000", r.err, r)
        self.assertFalse(os.path.exists(os.path.join(self.work, "x.html")))
