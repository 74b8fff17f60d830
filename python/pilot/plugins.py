"""WASM plugins (an extension of BigJob's API): third-party resource
adaptors and unit hooks, sandboxed by libpilot (plugins/ABI.md).

    import pilot
    pilot.load_plugin("plugins/tsp/plugin.json")        # serves tsp://
    pcs.create_pilot({"service_url": "tsp://localhost", "number_of_processes": 2,
                      "hooks": ["allowlist", "/site/outputs/plugin.json"]})
"""
from __future__ import absolute_import

import json

from pilot import _ffi


def load_plugin(manifest_path):
    """Loads the plugin whose manifest (plugin.json) is at manifest_path and
    returns its info: name, version, kinds, schemes, digest, engine, and
    grants (what it may do outside its sandbox, in plain words). An adaptor
    plugin serves its URL schemes from then on; a hook plugin can be named
    in a pilot description's "hooks". A plugin that is refused (its sha256
    does not match, an export is missing, a wrong ABI version, a grant no
    plugin may have) raises PilotError naming the problem."""
    return _ffi.get_json("pilot_plugin_load", _ffi.to_bytes(manifest_path))


def plugins():
    """The info of every loaded plugin, sorted by name."""
    return _ffi.get_json("pilot_plugins")


def call_plugin(name, export, request, work_dir=None):
    """Calls a loaded plugin's export (e.g. "hook_pre_unit") with request (a
    dict) as the host would, and returns its answer: for testing plugins.
    Commands and files act on this machine, with work_dir as $WORKDIR. A
    plugin that traps, runs out of memory or time raises PilotError, and so
    does a hook_pre_unit answer that rewrites the unit beyond the plugin's
    grants (an agent would not run that unit)."""
    wd = _ffi.to_bytes(work_dir) if work_dir is not None else None
    answer = _ffi.get_string("pilot_plugin_call", _ffi.to_bytes(name), _ffi.to_bytes(export),
                             _ffi.encode("plugin request", request), wd)
    return _ffi.native(json.loads(answer))
