"""BigJob's legacy API: bigjob (a pilot), subjob (a unit) and description
(a SAGA-style job description that stores its attributes under CamelCase
names), on the same library as the pilot API.

As in BigJob, a subjob is submitted with the *relative* pilot URL of a
bigjob (bj.pilot_url, "bigjob:bj-<uuid>:<host>") that was started or
reconnected in the same process; full URLs work too.
"""
from __future__ import absolute_import

import logging
import uuid

from pilot import _ffi
from pilot.compute import ComputeUnit, PilotCompute, PilotComputeService
from pilot.errors import PilotError

logger = logging.getLogger("bigjob")

# Started or reconnected bigjobs of this process, by relative pilot URL.
_bigjobs = {}



class BigJobError(Exception):
    """An error of the legacy API: the message is in .value; str() is repr(value)."""

    def __init__(self, value):
        Exception.__init__(self, value)
        self.value = value

    def __str__(self):
        return repr(self.value)


def _coordination(url):
    """The coordination URL to use: url, or the default for none; the SAGA
    Advert backend (advert://, the legacy default) is gone, and such a URL
    stands for the default, with a warning (the library's rule)."""
    return _ffi.coordination_url(url)


def _base(url):
    """redis://[pw@]host:port of a coordination or pilot URL."""
    scheme, rest = url.split("://", 1)
    return scheme + "://" + rest.split("/", 1)[0]


class bigjob(object):
    """A pilot of the legacy API."""

    def __init__(self, coordination_url="advert://localhost/?dbtype=sqlite3", pilot_url=None):
        self.coordination_url = _coordination(coordination_url)
        self.pilot_url = None  # relative: bigjob:bj-<uuid>:<host>
        self.uuid = None
        self.job = None
        self.working_directory = None
        self._pcs = None
        self._pilot = None
        if pilot_url is not None:
            full = pilot_url
            if "://" not in pilot_url:  # the bare relative form
                full = _base(self.coordination_url) + "/" + pilot_url
            self._attach(PilotCompute(pilot_url=full))

    def _attach(self, pc):
        self._pilot = self.job = pc
        self.pilot_url = repr(pc)
        self.uuid = pc.id
        _bigjobs[self.pilot_url] = self

    @property
    def state(self):
        return self.get_state()

    def start_pilot_job(self, lrms_url, number_nodes=1, queue=None, project=None, working_directory=None,
                        userproxy=None, walltime=None, processes_per_node=1, filetransfers=None,
                        spmd_variation=None, external_queue="", pilot_compute_description=None):
        """Starts the pilot; returns its relative URL."""
        if self._pilot is not None:
            raise BigJobError("One BigJob already active. Please cancel BigJob before starting a new one.")
        if pilot_compute_description is not None:
            pcd = dict(pilot_compute_description)
        else:
            pcd = {"service_url": lrms_url, "number_of_processes": number_nodes,
                   "processes_per_node": processes_per_node}
            for key, value in (("working_directory", working_directory), ("queue", queue), ("project", project),
                               ("walltime", walltime), ("spmd_variation", spmd_variation),
                               ("file_transfer", filetransfers)):
                if value is not None:
                    pcd[key] = value
        self.working_directory = pcd.get("working_directory")
        try:
            self._pcs = PilotComputeService(self.coordination_url)
            self._attach(self._pcs.create_pilot(pcd))
        except PilotError as e:
            raise BigJobError(e.value)
        return self.pilot_url

    def _require(self):
        if self._pilot is None:
            raise BigJobError("no pilot: call start_pilot_job first (or reconnect with pilot_url=...)")
        return self._pilot

    def get_state(self):
        """The pilot's state string, or None before start_pilot_job."""
        return self._pilot.get_state() if self._pilot is not None else None

    def get_state_detail(self):
        return self.get_state()

    def get_url(self):
        """The full pilot URL (reconnectable)."""
        return self._require().get_url()

    def get_details(self):
        return self._require().get_details()

    def get_free_nodes(self):
        return self._require().get_free_nodes()

    def list_subjobs(self):
        """The full URLs of the subjobs of this pilot."""
        return [cu.get_url() for cu in self._require().list_compute_units()]

    def wait(self):
        """Returns when every subjob of the pilot is final (at once if none)."""
        self._require().wait()

    def cancel(self):
        """Stops the pilot and every subjob it runs."""
        if self._pilot is not None:
            self._pilot.cancel()

    def __repr__(self):
        return str(self.pilot_url)


def _find_bigjob(pilot_url):
    bj = _bigjobs.get(pilot_url)
    if bj is not None:
        return bj
    for bj in list(_bigjobs.values()):
        if bj._pilot is not None and bj._pilot.get_url() == pilot_url:
            return bj
    if "://" in pilot_url:  # a full URL of a pilot started elsewhere
        return bigjob(_base(pilot_url), pilot_url=pilot_url)
    raise BigJobError("no bigjob with pilot URL %s in this process: pass bj.pilot_url of a bigjob started "
                      "here, or the full URL (bj.get_url())" % pilot_url)


class UnitJob(object):
    """A legacy job object wrapping a ComputeUnit (self._cu, None until
    submitted); state_before_submit is what get_state says until then."""

    state_before_submit = "New"
    _cu = None

    def get_state(self):
        return self._cu.get_state() if self._cu is not None else self.state_before_submit

    def wait(self):
        if self._cu is not None:
            return self._cu.wait()

    def cancel(self):
        if self._cu is not None:
            self._cu.cancel()

    def get_details(self):
        return self._cu.get_details() if self._cu is not None else None


class subjob(UnitJob):
    """A compute unit of the legacy API."""

    def __init__(self, coordination_url=None, subjob_url=None):
        self._cu = None
        self._uuid = "sj-" + str(uuid.uuid1())
        self.job_description = None
        if subjob_url is not None:
            self._cu = ComputeUnit(cu_url=subjob_url)

    @classmethod
    def _wrap(cls, cu):
        s = cls()
        s._cu = cu
        return s

    @property
    def uuid(self):
        """sj-<uuid>: the name of the unit's sandbox directory."""
        if self._cu is not None:
            return "sj-" + self._cu.id[len("cu-"):]
        return self._uuid

    def submit_job(self, pilot_url, jd):
        """Queues the job described by jd on the bigjob with pilot_url."""
        bj = _find_bigjob(pilot_url)
        self.job_description = jd
        cud = jd.as_dict() if isinstance(jd, description) else dict(jd)
        try:
            self._cu = bj._require().submit_compute_unit(cud)
        except PilotError as e:
            raise BigJobError(e.value)

    def get_exe(self):
        jd = self.job_description
        if jd is None and self._cu is not None:
            return self._cu.get_details().get("Executable")
        return getattr(jd, "executable", None) if isinstance(jd, description) else (jd or {}).get("executable")

    def get_arguments(self):
        jd = self.job_description
        if isinstance(jd, description):
            return jd.arguments
        if jd is not None:
            return jd.get("arguments")
        return None

    def get_url(self):
        return self._cu.get_url() if self._cu is not None else None

    def __repr__(self):
        if self._cu is None:
            return "None"
        url = self._cu.get_url()
        return url[url.index("/", len("redis://")) + 1:]


# SAGA job description attribute names, snake_case -> CamelCase.
_CAMEL = {
    "executable": "Executable", "arguments": "Arguments", "environment": "Environment",
    "number_of_processes": "NumberOfProcesses", "spmd_variation": "SPMDVariation",
    "working_directory": "WorkingDirectory", "output": "Output", "error": "Error", "input": "Input",
    "file_transfer": "FileTransfer", "input_data": "InputData", "output_data": "OutputData",
    "total_cpu_count": "TotalCPUCount", "total_core_count": "TotalCoreCount",
    "wall_time_limit": "WallTimeLimit", "queue": "Queue", "project": "Project",
    "processes_per_host": "ProcessesPerHost", "candidate_hosts": "CandidateHosts",
    "total_physical_memory": "TotalPhysicalMemory", "cleanup": "Cleanup", "job_start_time": "JobStartTime",
    "threads_per_process": "ThreadsPerProcess", "operating_system_type": "OperatingSystemType",
    "name": "Name", "contact": "Contact",
}
_SNAKE = dict((v, k) for k, v in _CAMEL.items())


class description(object):
    """A SAGA-style job description. Attributes are set and read by their
    snake_case or CamelCase names and stored under CamelCase ones, as in
    BigJob; unknown attributes are kept as given. A known attribute that was
    never set reads as None."""

    def __init__(self):
        object.__setattr__(self, "_attrs", {})

    def __setattr__(self, name, value):
        self._attrs[_CAMEL.get(name, name)] = value

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        key = _CAMEL.get(name, name)
        if key in self._attrs:
            return self._attrs[key]
        if key in _SNAKE:
            return None
        raise AttributeError("job description has no attribute %r" % name)

    def list_attributes(self):
        """The CamelCase names of the attributes set."""
        return sorted(self._attrs)

    def as_dict(self):
        """The compute unit description this stands for (snake_case keys)."""
        return dict((_SNAKE.get(k, k), v) for k, v in self._attrs.items())

    def __repr__(self):
        return "description(%r)" % (self._attrs,)
