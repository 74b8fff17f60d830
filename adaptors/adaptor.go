// Package adaptors defines how a pilot's agent is started on a resource (the
// local machine, a host over SSH, a batch queue) and the registry of adaptors
// by URL scheme. An adaptor only talks to the resource manager: it submits the
// container job that runs the agent, reports whether that job still exists,
// and cancels it. Pilot and unit state live in the coordination store.
//
// Adaptors keep no state that the caller cannot recover: everything needed to
// find a job again is in the Handle, which the core persists in the pilot
// record, so a second process can check or cancel a pilot it did not start.
package adaptors

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Request asks an adaptor to start a pilot's agent.
type Request struct {
	PilotID  string   // bj-<uuid>
	Resource *url.URL // the pilot's service_url

	Slots            int           // number_of_processes
	ProcessesPerNode int           // processes_per_node (0: unset)
	WorkingDirectory string        // as given; "" means the home directory
	Walltime         time.Duration // walltime; 0 when the description gives none (the queue's default applies)
	Queue            string
	Project          string
	SPMDVariation    string
	AgentPath        string         // agent_path: the agent binary already on the resource ("": stage it)
	CandidateHosts   []string       // candidate_hosts: hosts the batch job may run on
	Extra            map[string]any // description keys the core does not know

	Agent Agent
}

// Agent is the command that runs the agent. Env holds secrets (the
// coordination URL with its password): adaptors must pass it through the
// environment or a private file, never on a command line.
type Agent struct {
	Path string
	Args []string
	Env  []string // KEY=VALUE
}

// Handle identifies a submitted job. It is JSON-serialisable and opaque to
// the core.
type Handle struct {
	Scheme string          `json:"scheme"`
	ID     string          `json:"id"`  // native id: pid, batch job id
	URL    string          `json:"url"` // the resource URL it was submitted to
	Data   json.RawMessage `json:"data,omitempty"`
}

// JobState is what the resource manager says of a job.
type JobState int

const (
	JobUnknown JobState = iota // cannot tell (e.g. a pid on another host)
	JobQueued                  // waiting in a batch queue
	JobRunning
	JobEnded // gone: finished, killed, or never existed
)

func (s JobState) String() string {
	return [...]string{"unknown", "queued", "running", "ended"}[s]
}

// EndKind says how an ended job ended, as far as the resource manager tells.
type EndKind int

const (
	EndUnknown   EndKind = iota // ended; the resource manager does not say how
	EndCompleted                // its script exited with status 0
	EndWalltime                 // killed when it reached its walltime
	EndCanceled                 // removed by a user or an administrator
	EndFailed                   // non-zero exit, node failure, out of memory, ...
)

func (k EndKind) String() string {
	return [...]string{"unknown", "completed", "walltime", "canceled", "failed"}[k]
}

// Status is what the resource manager says of a job.
type Status struct {
	State JobState
	End   EndKind // for JobEnded
	// Reason is the resource manager's own word for the state, e.g. SLURM's
	// "TIMEOUT" or a Condor hold reason; "" when it gives none.
	Reason string
}

// Adaptor starts and stops pilot agents on one kind of resource. Methods
// may be called concurrently. Cancel is idempotent and succeeds on jobs that
// have ended. Errors name the resource and, when a command failed, carry its
// standard error.
type Adaptor interface {
	Submit(ctx context.Context, r Request) (Handle, error)
	State(ctx context.Context, h Handle) (Status, error)
	Cancel(ctx context.Context, h Handle) error
}

// Notifier is implemented by adaptors that learn at once when a job they
// started ends (the fork adaptor reaps its children). The channel is nil when
// the job was not started by this process.
type Notifier interface {
	Ended(h Handle) <-chan struct{}
}

// Factory makes an adaptor for a resource URL.
type Factory func(resource *url.URL) (Adaptor, error)

var registry = struct {
	sync.RWMutex
	m map[string]Factory
}{m: map[string]Factory{}}

// Register makes an adaptor available for a URL scheme. It panics if f is nil
// or the scheme is taken, as database/sql.Register does.
func Register(scheme string, f Factory) {
	if f == nil {
		panic("adaptors: Register with a nil factory for " + scheme)
	}
	if err := Add(map[string]Factory{scheme: f}); err != nil {
		panic("adaptors: " + err.Error())
	}
}

// Add makes adaptors available at run time (adaptor plugins): all of the
// schemes, or none of them when one is taken.
func Add(factories map[string]Factory) error {
	registry.Lock()
	defer registry.Unlock()
	for scheme := range factories {
		if _, dup := registry.m[strings.ToLower(scheme)]; dup {
			return fmt.Errorf("URL scheme %q is already served by another adaptor", strings.ToLower(scheme))
		}
	}
	for scheme, f := range factories {
		registry.m[strings.ToLower(scheme)] = f
	}
	return nil
}

// Schemes lists the registered schemes, sorted.
func Schemes() []string {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]string, 0, len(registry.m))
	for s := range registry.m {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Open returns the adaptor for a resource URL such as fork://localhost.
func Open(resource string) (Adaptor, *url.URL, error) {
	u, err := url.Parse(resource)
	if err != nil || u.Scheme == "" {
		return nil, nil, fmt.Errorf("resource URL %q is not a URL; give e.g. fork://localhost", resource)
	}
	scheme := strings.ToLower(u.Scheme)
	registry.RLock()
	f := registry.m[scheme]
	registry.RUnlock()
	if f == nil {
		return nil, nil, fmt.Errorf("resource URL %q: no adaptor for scheme %q; available: %s", resource, u.Scheme, strings.Join(Schemes(), ", "))
	}
	a, err := f(u)
	if err != nil {
		return nil, nil, fmt.Errorf("resource URL %q: %w", resource, err)
	}
	return a, u, nil
}

// ForHandle returns the adaptor that made h.
func ForHandle(h Handle) (Adaptor, error) {
	a, _, err := Open(h.URL)
	return a, err
}

// Host is the host part of a resource URL as it appears in pilot names:
// "localhost" when the URL names none.
func Host(u *url.URL) string {
	if h := u.Hostname(); h != "" {
		return h
	}
	return "localhost"
}

// PollHint is implemented by adaptors whose State is cheap (or expensive)
// to call. Watchers call State at most every StatePollInterval; the default,
// for adaptors without the hint, is DefaultStatePollInterval.
type PollHint interface {
	StatePollInterval() time.Duration
}

// DefaultStatePollInterval bounds how often a batch system is asked about a
// job while its pilot runs (heartbeats cover the rest).
const DefaultStatePollInterval = 15 * time.Second

// StatePollInterval is the interval for a.
func StatePollInterval(a Adaptor) time.Duration {
	if h, ok := a.(PollHint); ok {
		return h.StatePollInterval()
	}
	return DefaultStatePollInterval
}

// EndLagger is implemented by adaptors whose resource manager tells how a
// job ended only some time after it left the queue (Grid Engine's qacct).
// Watchers that get an ended job with EndUnknown ask again for up to
// EndLag before they take the end as unknown.
type EndLagger interface {
	EndLag() time.Duration
}

// EndLag is a's EndLag, or 0.
func EndLag(a Adaptor) time.Duration {
	if l, ok := a.(EndLagger); ok {
		return l.EndLag()
	}
	return 0
}

// EnvCoordination is the variable of Agent.Env that holds the coordination
// URL. Adaptors that start the agent elsewhere hand it over in a file of
// mode 0600 (the agent's -coordination-file flag) instead.
const EnvCoordination = "BIGJOB_COORDINATION"

// WalltimeMargin is how long before its walltime an agent in a batch job
// ends its pilot by itself, so that it records why before the batch system
// kills it (SGE kills at once, with SIGKILL): a thirtieth of the walltime,
// at least 10 s and at most 2 min.
func WalltimeMargin(walltime time.Duration) time.Duration {
	return min(max(walltime/30, 10*time.Second), 2*time.Minute)
}
