"""The exception of the pilot API."""


class PilotError(Exception):
    """An error of the pilot API. As in BigJob, the message is in .value and
    str(e) is repr(value). .status is the library's status code (negative),
    or 0 for errors raised by this module."""

    def __init__(self, value, status=0):
        Exception.__init__(self, value)
        self.value = value
        self.status = status

    def __str__(self):
        return repr(self.value)
