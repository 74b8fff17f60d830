"""Progress of a run, as text: the one-line display of long waits and the
lines of `pilot-cli watch`.

A wait that lasts longer than AFTER seconds shows one line on stderr,
rewritten in place every EVERY seconds and erased when the wait returns,
only when stderr is a terminal and BIGJOB_PROGRESS is not "0": nothing
changes in what a script prints to stdout or to a file.

The progress itself is a dict from the library (see
PilotComputeService.get_progress): units, counts by state, open, units_per_s,
eta_s, pilots, failures, canceled, final.
"""
import os
import sys
import time

AFTER = 2.0
EVERY = 1.0

_FINAL = ("Done", "Failed", "Canceled")


def enabled(stream=None):
    """Whether long waits show their progress line on stream (stderr)."""
    stream = stream or sys.stderr
    if os.environ.get("BIGJOB_PROGRESS", "1").strip() == "0":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def short_id(url_or_id):
    """The short id (pcs-/bj-/sj- and 8 hex digits) of an id or URL, as
    pilot-cli prints and takes them; a unit's cu-<uuid> is its sj- id."""
    if not url_or_id:
        return ""
    tail = url_or_id.rsplit("/", 1)[-1]
    for part in reversed(tail.split(":")):
        if part.startswith("cu-"):
            part = "sj-" + part[3:]
        for kind in ("pcs-", "bj-", "sj-"):
            if part.startswith(kind):
                return part[:len(kind) + 8]
    return tail


def _duration(seconds):
    seconds = int(round(seconds))
    if seconds < 60:
        return "%d s" % seconds
    if seconds < 3600:
        return "%d min %02d s" % (seconds // 60, seconds % 60)
    return "%d h %02d min" % (seconds // 3600, (seconds % 3600) // 60)


def summary(p, rate=None):
    """One line: how many units ended of how many, failures, what runs and
    waits, the rate and the time left (rate: units/s to use instead of the
    progress's own, when it has none)."""
    counts = p.get("counts") or {}
    units = p.get("units", 0)
    ended = units - p.get("open", 0)
    if rate is None or rate < 0:
        rate = p.get("units_per_s", -1)
    parts = ["%d/%d units ended" % (ended, units)]
    for state in ("Done", "Failed", "Canceled"):
        if counts.get(state):
            parts.append("%d %s" % (counts[state], state.lower()))
    running = counts.get("Running", 0) + counts.get("Staging", 0)
    waiting = counts.get("Unknown", 0) + counts.get("New", 0) + counts.get("Pending", 0)
    parts.append("%d running" % running)
    parts.append("%d waiting" % waiting)
    if rate is not None and rate > 0:
        parts.append("%.1f units/s" % rate)
        if p.get("open"):
            parts.append("~%s left" % _duration(p["open"] / rate))
    return ", ".join(parts)


def pilot_line(g):
    """One line for a pilot of the progress."""
    age = g.get("heartbeat_age_s", -1)
    if g.get("state") in _FINAL:
        tail = g.get("reason") or ""
    elif age is None or age < 0:
        tail = "no heartbeat yet"
    else:
        tail = "heartbeat %.1f s ago" % age
    slots = g.get("slots", 0)
    busy = g.get("busy", 0) if g.get("state") not in _FINAL else 0
    return "  %s  %s  %d/%d slots busy, %d free  %s" % (g.get("name"), g.get("state"), busy, slots,
                                                       max(slots - busy, 0), tail)


def lines(p):
    """The block `pilot-cli watch` shows on a terminal."""
    out = ["service %s: %s" % (p.get("service"), summary(p))]
    for g in p.get("pilots") or []:
        out.append(pilot_line(g))
    failures = p.get("failures") or []
    if failures:
        out.append("latest failures:")
        for f in failures:
            out.append("  %s: %s" % (short_id(f.get("unit")), _one_line(f.get("reason") or "no reason recorded")))
    return out


def _one_line(text, width=160):
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[:width - 3] + "..."


class Line(object):
    """The progress line of one wait: tick() between slices of the wait,
    close() when it returns. read() gives the progress dict (or None)."""

    def __init__(self, read, stream=None, clock=time.time):
        self.read = read
        self.stream = stream or sys.stderr
        self.clock = clock
        self.start = clock()
        self.last = None
        self.shown = 0
        self.samples = []  # (time, ended)
        self.on = enabled(self.stream)

    def tick(self):
        if not self.on:
            return
        now = self.clock()
        if now - self.start < AFTER or (self.last is not None and now - self.last < EVERY):
            return
        self.last = now
        try:
            p = self.read()
        except Exception:  # the display must never break the wait
            return
        if not p:
            return
        self.samples.append((now, p.get("units", 0) - p.get("open", 0)))
        self.samples = [s for s in self.samples if now - s[0] <= 10] or self.samples[-1:]
        rate = -1
        if len(self.samples) >= 2 and self.samples[-1][0] > self.samples[0][0]:
            rate = (self.samples[-1][1] - self.samples[0][1]) / (self.samples[-1][0] - self.samples[0][0])
        text = "bigjob: " + summary(p, rate)
        self._write("\r" + text + " " * max(self.shown - len(text), 0))
        self.shown = len(text)

    def close(self):
        if self.shown:
            self._write("\r" + " " * self.shown + "\r")
            self.shown = 0

    def _write(self, text):
        try:
            self.stream.write(text)
            self.stream.flush()
        except (IOError, OSError, ValueError):
            self.on = False
