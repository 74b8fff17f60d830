"""saga.filesystem stand-in: File and Directory raise on use."""
from saga import _unavailable

OVERWRITE = 1
CREATE = 2
CREATE_PARENTS = 4
RECURSIVE = 8
READ = 16
WRITE = 32


class File(object):
    def __init__(self, *args, **kwargs):
        _unavailable("saga.filesystem.File")


class Directory(object):
    def __init__(self, *args, **kwargs):
        _unavailable("saga.filesystem.Directory")
