"""A stand-in for saga-python, so that BigJob scripts that only import saga
run. The classes scripts use for file copies exist but raise on use, with
what to do instead: this reimplementation does not include saga-python."""


class SagaException(Exception):
    pass


class NoSuccess(SagaException):
    pass


def _unavailable(what):
    raise NotImplementedError(
        "%s: saga-python is not part of this BigJob reimplementation; copy files with shutil (local) or "
        "scp/sftp, or stage them with the compute unit's file_transfer" % what)


class Url(object):
    def __init__(self, *args, **kwargs):
        _unavailable("saga.Url")


class Session(object):
    def __init__(self, *args, **kwargs):
        _unavailable("saga.Session")


class Context(object):
    def __init__(self, *args, **kwargs):
        _unavailable("saga.Context")


from saga import filesystem, job  # noqa: E402,F401
