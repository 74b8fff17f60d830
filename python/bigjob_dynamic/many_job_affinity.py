"""ManyJob with affinity labels: the same shared queue (late binding takes
the place of BigJob's affinity scheduling)."""
from __future__ import absolute_import

from bigjob_dynamic.many_job import many_job_service, sub_job

many_job_affinity_service = many_job_service

__all__ = ["many_job_affinity_service", "many_job_service", "sub_job"]
