"""State strings of the legacy bigjob API: pilot.State's, one name each."""
from pilot.state import State as _State

Unknown = _State.Unknown
New = _State.New
Pending = _State.Pending
Staging = _State.Staging
Running = _State.Running
Done = _State.Done
Failed = _State.Failed
Canceled = _State.Canceled
