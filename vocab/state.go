package vocab

// State is the state of a pilot or a compute unit. The strings are BigJob's,
// case included: scripts compare them with literals such as "Done".
type State string

// States. Pilots go Unknown → Running → Done | Failed. Units go Unknown
// (queued) → New (taken by an agent) → [Staging] → Running → Done | Failed |
// Canceled.
const (
	Unknown  State = "Unknown"
	New      State = "New"
	Pending  State = "Pending"
	Staging  State = "Staging"
	Running  State = "Running"
	Done     State = "Done"
	Canceled State = "Canceled"
	Failed   State = "Failed"
)

// States lists every state, each at the index that is its code in the C ABI
// (PILOT_STATE_* in include/pilot.h). This is the one list: the C helpers,
// the Lua scripts' final states and the Python module are checked against
// it or made from it.
var States = [...]State{Unknown, New, Pending, Running, Done, Canceled, Failed, Staging}

// Final reports whether s is terminal: Done, Failed or Canceled. A final
// state never changes again.
func (s State) Final() bool { return s == Done || s == Failed || s == Canceled }

func (s State) String() string { return string(s) }
