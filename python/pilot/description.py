"""Description dictionaries: plain dicts that also allow attribute access.

Defaults: where files go and how long a pilot lives, when a description
does not say (README.md, "Defaults", says the same):

- walltime: DEFAULT_WALLTIME minutes (3600, 60 hours, as in BigJob). A pilot
  outlives the script that created it until then, unless canceled: a script
  that crashes leaves it running. At exit, the package names the script's
  pilots still running on stderr; `pilot-cli pilots` lists every pilot of a
  store and `pilot-cli cancel PCS_URL` (or `--cancel_pilot`) ends them.
- working_directory of a pilot: $HOME. The pilot's sandbox is
  <working_directory>/bj-<uuid> on the pilot's host, and each unit runs in
  <pilot sandbox>/sj-<uuid> unless its own working_directory says otherwise.
- output and error of a unit: the files "stdout" and "stderr", relative to
  the unit's working directory (`pilot-cli cat CU_URL` prints them).
- the records of a service, its pilots and units live in the coordination
  store 7 days after their last change; finished units and pilots 1 day
  (PilotComputeService(finished_ttl=...)).
- with no Redis server at a loopback coordination URL, the store is your
  lasting local store in ~/.bigjob/store ($BIGJOB_HOME/store); pilot-cli
  keeps the pilots it started in ~/.bigjob/pilot-cli.p.
"""
from __future__ import absolute_import

import sys

# The walltime, in minutes, of a pilot whose description gives none (the
# library applies the same: vocab.DefaultWalltime).
DEFAULT_WALLTIME = 3600

_TEXT = (str, bytes) if sys.version_info[0] >= 3 else (str, unicode)  # noqa: F821 (Python 2)


class Description(dict):
    """A dict whose keys can be read and set as attributes, as BigJob's
    descriptions: pd.number_of_processes = 4 sets pd["number_of_processes"].
    Reading a missing key raises KeyError, as in BigJob (names with double
    underscores raise AttributeError, so that copy and pickle work)."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self[name]

    def __setattr__(self, name, value):
        self[name] = value

    def __delattr__(self, name):
        del self[name]


class PilotComputeDescription(Description):
    """Keys: service_url, number_of_processes, processes_per_node,
    working_directory, walltime (minutes), queue, project (or allocation),
    spmd_variation, file_transfer, affinity_datacenter_label,
    affinity_machine_label, number_executor_threads, no_exec; any other key
    is kept."""


class ComputeUnitDescription(Description):
    """Keys: executable, arguments, environment (dict or list of "K=V"),
    number_of_processes, spmd_variation ("single" or "mpi"),
    working_directory, output, error, input, file_transfer, input_data,
    output_data, affinity_datacenter_label, affinity_machine_label; any other
    key is kept."""


class DataUnitDescription(Description):
    """Keys: file_urls, affinity_datacenter_label, affinity_machine_label."""


class PilotDataDescription(Description):
    """Keys: service_url, size, affinity_datacenter_label,
    affinity_machine_label, userkey."""


# The string fields of a compute unit description.
_STRING_FIELDS = ("executable", "working_directory", "output", "error", "input")


def textual(cud):
    """The compute unit description with what the original BigJob turned into
    text with str() as text: each argument, each environment value (of a dict,
    or each "K=V" entry of a list) and the string fields (executable,
    working_directory, output, error, input). A script that puts a number, a
    ComputeUnit or any other object there gets its str(), as with BigJob;
    None (a key not given) and lists or dicts where a string belongs are left
    for the library to refuse with a message naming the key."""
    def text(v):
        if v is None or isinstance(v, _TEXT) or isinstance(v, (list, tuple, dict)):
            return v
        return str(v)
    out = dict(cud)
    args = out.get("arguments")
    if isinstance(args, (list, tuple)):
        out["arguments"] = [text(a) for a in args]
    elif args is not None:
        out["arguments"] = text(args)
    env = out.get("environment")
    if isinstance(env, dict):
        out["environment"] = dict((text(k), text(v)) for k, v in env.items())
    elif isinstance(env, (list, tuple)):
        out["environment"] = [text(e) for e in env]
    for k in _STRING_FIELDS:
        if k in out:
            out[k] = text(out[k])
    return out
