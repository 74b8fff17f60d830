"""saga.job stand-in."""
from saga import _unavailable


class Service(object):
    def __init__(self, *args, **kwargs):
        _unavailable("saga.job.Service")


class Description(object):
    def __init__(self, *args, **kwargs):
        _unavailable("saga.job.Description (use bigjob.description)")
