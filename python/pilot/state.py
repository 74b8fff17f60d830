"""States of pilots and compute units, with BigJob's names."""


class State(object):
    """String constants; each value equals its name, as in BigJob. Scripts
    compare get_state() with these or with the literals ("Done")."""
    Unknown = "Unknown"
    New = "New"
    Pending = "Pending"
    Running = "Running"
    Done = "Done"
    Canceled = "Canceled"
    Failed = "Failed"
    Staging = "Staging"


FINAL = frozenset([State.Done, State.Canceled, State.Failed])
