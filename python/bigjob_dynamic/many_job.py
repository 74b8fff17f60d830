"""ManyJob: a set of pilots (one per resource dictionary) that take jobs
from one shared queue, each as it has room (late binding). Broken in the
original BigJob at its last release; working here.

    mjs = many_job_service([{"resource_url": "fork://localhost", "number_of_processes": 2}], COORD)
    job = mjs.create_job({"executable": "/bin/date"})
    job.run(); job.wait(); mjs.cancel()
"""
from __future__ import absolute_import

from bigjob.bigjob_manager import UnitJob, description
from pilot.compute import ComputeDataService, PilotComputeService

# resource dictionary key -> pilot compute description key
_KEYS = {"resource_url": "service_url", "number_of_processes": "number_of_processes",
         "processes_per_node": "processes_per_node", "allocation": "project", "queue": "queue",
         "working_directory": "working_directory", "walltime": "walltime", "file_transfer": "file_transfer",
         "affinity_datacenter_label": "affinity_datacenter_label",
         "affinity_machine_label": "affinity_machine_label"}


class many_job_service(object):
    def __init__(self, bigjob_list, coordination_url):
        self.coordination_url = coordination_url
        self._pcs = PilotComputeService(coordination_url)
        self._cds = ComputeDataService()
        self._cds.add_pilot_compute_service(self._pcs)
        self._resources = []
        for resource in bigjob_list:
            self.add_resource(resource)

    def add_resource(self, resource_dictionary):
        """Starts a pilot for a resource dictionary (keys resource_url,
        number_of_processes, processes_per_node, allocation, queue,
        working_directory, walltime, file_transfer); returns the dictionary
        with the pilot under "bigjob"."""
        pcd = dict((_KEYS[k], v) for k, v in resource_dictionary.items() if k in _KEYS and v is not None)
        entry = dict(resource_dictionary)
        entry["bigjob"] = self._pcs.create_pilot(pcd)
        self._resources.append(entry)
        return entry

    def remove_resource(self, bj_dict):
        bj_dict["bigjob"].cancel()
        self._resources.remove(bj_dict)

    def get_resources(self):
        return list(self._resources)

    def list_bigjobs(self):
        return [r["bigjob"] for r in self._resources]

    def create_job(self, job_description):
        return sub_job(self, job_description)

    def cancel(self):
        self._pcs.cancel()


class sub_job(UnitJob):
    """A job of a many_job_service; run() queues it."""

    state_before_submit = "Unknown"

    def __init__(self, manyjob, job_description):
        self.manyjob = manyjob
        self.job_description = job_description
        self._cu = None

    def run(self):
        jd = self.job_description
        cud = jd.as_dict() if isinstance(jd, description) else dict(jd)
        self._cu = self.manyjob._cds.submit_compute_unit(cud)

    def get_exe(self):
        jd = self.job_description
        return jd.executable if isinstance(jd, description) else jd.get("executable")

    def get_arguments(self):
        jd = self.job_description
        return jd.arguments if isinstance(jd, description) else jd.get("arguments")

    def __repr__(self):
        return repr(self._cu.get_url()) if self._cu is not None else "None"
