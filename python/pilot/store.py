"""What a coordination store holds, whichever process made it (extension):
its services and pilots, and short ids for them. pilot-cli's `services`,
`pilots` and short ids are built on these.

A short id is a kind prefix and the first hex digits of an id's uuid, as
listings print them: "pcs-1f2e3d4c" (a service), "bj-..." (a pilot), "sj-..." (a
compute unit). Any unique prefix of the uuid works, as with git's commit
hashes. Works on Python 2.7 and 3.8+.
"""
from __future__ import absolute_import

from pilot import _ffi
from pilot.errors import PilotError

KINDS = ("service", "pilot", "unit")


def _store_url(coordination_url):
    return _ffi.to_bytes(_ffi.coordination_url(coordination_url))


def list_services(coordination_url=None):
    """The services of the store at coordination_url (default: what
    PilotComputeService() would use), oldest first, as dicts: "id",
    "short_id", "url" (for PilotComputeService(pcs_url=...)), "state"
    ("Active" or "Canceled"), "created" (epoch seconds), "pilots" and
    "open_units" (units not final yet)."""
    return _ffi.get_json("pilot_store_services", _store_url(coordination_url), _ffi.options())


def list_pilots(url=None):
    """The pilots of the store at url, a coordination URL (every service's;
    default: what PilotComputeService() would use), or of one service, url
    its URL (PilotComputeService.get_url()): oldest first, as dicts: "id",
    "short_id", "url" (for PilotCompute(pilot_url=...)), "state", "service",
    "service_url", "created" (epoch seconds), "slots" and "reason" (why it
    ended; None while it runs). The pilots of a script that exited or
    crashed without canceling them are here while their records live."""
    if url is None or "/pcs/" not in _ffi.to_str(_ffi.url_arg("url", url)):
        url = _ffi.coordination_url(url)
    pilots = _ffi.get_json("pilot_store_pilots", _ffi.url_arg("url", url), _ffi.options())
    for p in pilots:
        p.setdefault("reason", None)
    return pilots


def resolve(ref, coordination_url=None, kind=None):
    """The URL of what ref names in the store at coordination_url: ref is a
    URL (returned as it is) or a short id ("sj-1f2e3d4c", "bj-...", "pcs-...",
    or a bare uuid prefix). kind ("service", "pilot" or "unit") restricts
    what it may name. Raises PilotError if nothing or more than one object
    matches (the message names two of them)."""
    ref = _ffi.url_arg("short id", ref)
    if b"://" in ref:
        return _ffi.to_str(ref)
    if kind is not None and kind not in KINDS:
        raise PilotError("kind must be one of %s, not %r" % (", ".join(KINDS), kind))
    return _ffi.get_string("pilot_resolve", _store_url(coordination_url), ref,
                           _ffi.to_bytes(kind) if kind else None, _ffi.options())
