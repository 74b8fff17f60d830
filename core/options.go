package core

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/bigjob-go/bigjob/coord"
)

// DefaultCoordinationURL is used when Options.CoordinationURL is empty (and
// $BIGJOB_COORDINATION_URL too). The original BigJob defaults to
// redis://localhost, which is the same server.
const DefaultCoordinationURL = "redis://localhost:6379"

// EnvCoordinationURL names the coordination URL used when a script names
// none, or names a store of the original BigJob that is gone (advert://), for
// a site or a user whose Redis is elsewhere.
const EnvCoordinationURL = "BIGJOB_COORDINATION_URL"

// EnvNoEmbedded, set to 1, turns the local stand-in store off (NoEmbedded).
const EnvNoEmbedded = "BIGJOB_NO_EMBEDDED_REDIS"

// EnvAgent names the pilot-agent binary, if Options.AgentPath is empty.
const EnvAgent = "BIGJOB_AGENT"

// Options configure a Service or a reconnection. The zero value is usable:
// every field documents its default.
type Options struct {
	// CoordinationURL is the Redis that coordinates pilots and units, in any
	// form coord.ParseURL accepts. Default $BIGJOB_COORDINATION_URL, else
	// DefaultCoordinationURL. A URL of the original BigJob's Advert backend
	// (advert://, sqlasyncadvert://), which is gone, stands for that default,
	// with a warning, as the original's own bigjob class had it. When it
	// names a loopback address where nothing listens (and not a privileged
	// port, which would be a typo), the user's lasting local store stands in
	// for it (package coord/userstore; started if it is not running), or,
	// where no redis-server is installed to run that, a store inside this
	// process (see NoEmbedded).
	CoordinationURL string

	// NoEmbedded turns the local stand-in store off: an unreachable Redis is
	// an error. The environment variable BIGJOB_NO_EMBEDDED_REDIS=1 does the
	// same.
	NoEmbedded bool

	// Warnings receives the one-line warnings printed when a local store
	// stands in for the coordination URL, or the URL is the original's
	// Advert backend. Default os.Stderr; io.Discard silences them.
	Warnings io.Writer

	// AgentPath is the pilot-agent binary. Default: $BIGJOB_AGENT, then
	// pilot-agent next to the running executable, then on PATH.
	AgentPath string

	// Logger receives the library's logs. Default: discarded.
	Logger *slog.Logger

	// HeartbeatInterval is how often agents refresh their pilot record.
	// Default 1 s.
	HeartbeatInterval time.Duration

	// HeartbeatTimeout is how long a running pilot may go without a heartbeat
	// (as seen by a process watching it) before it is declared Failed.
	// Default 10 s.
	HeartbeatTimeout time.Duration

	// StoreGrace is how long an agent keeps its units running while it cannot
	// reach the coordination store; after that it kills them and exits. A
	// wait in this process that cannot read the store for as long returns
	// ErrStoreUnreachable. Default 60 s.
	StoreGrace time.Duration

	// StopTimeout bounds how long Cancel waits for an agent to stop by itself
	// before the adaptor kills it. Default 10 s.
	StopTimeout time.Duration

	// Hooks names the hook plugins (loaded plugins' names or manifest
	// paths) of every pilot this Service creates whose description has no
	// "hooks" key. See package plugins.
	Hooks []string

	// RecordTTL is how long records live after their last change; heartbeats
	// keep a running pilot's records alive. Default 7 days; negative: forever.
	RecordTTL time.Duration

	// MaxAttempts is how often a unit of the service queue may be started.
	// When the pilot running it is lost (its agent killed, its node gone,
	// its walltime reached, cut off from the store), the unit goes back to
	// the service queue for another pilot until it was started this often;
	// then it is Failed with the reason. Units submitted to a pilot fail with
	// their pilot. 0: the default, 3; less than 0 is an error. Set when the
	// service is created.
	MaxAttempts int

	// FinishedTTL is how long the records of finished units and pilots, and
	// of a canceled service, are kept before Redis prunes them, so that long
	// runs do not grow the store. Default 24 h; set when the service is
	// created. Objects of this process remember the final state they saw.
	FinishedTTL time.Duration

	// reconnect: the options open an existing object by its URL, so no
	// empty store is started (it would not hold it); see reconnectOptions.
	reconnect bool
}

func (o Options) withDefaults() Options {
	if o.Warnings == nil {
		o.Warnings = os.Stderr
	}
	if legacyStore(o.CoordinationURL) {
		fmt.Fprintf(o.Warnings, "bigjob: warning: coordination URL %s names the Advert backend of the original BigJob, which is gone; using %s instead (set %s or give a redis:// URL)\n",
			coord.RedactURL(o.CoordinationURL), defaultCoordinationURL(), EnvCoordinationURL)
		o.CoordinationURL = ""
	}
	if o.CoordinationURL == "" {
		o.CoordinationURL = defaultCoordinationURL()
	}
	if os.Getenv(EnvNoEmbedded) == "1" {
		o.NoEmbedded = true
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = time.Second
	}
	if o.HeartbeatTimeout <= 0 {
		o.HeartbeatTimeout = 10 * time.Second
	}
	if o.StoreGrace <= 0 {
		o.StoreGrace = 60 * time.Second
	}
	if o.StopTimeout <= 0 {
		o.StopTimeout = 10 * time.Second
	}
	if o.MaxAttempts == 0 { // a negative one is refused by NewService, not replaced
		o.MaxAttempts = coord.DefaultMaxAttempts
	}
	if o.FinishedTTL <= 0 {
		o.FinishedTTL = 24 * time.Hour
	}
	return o
}

// defaultCoordinationURL is $BIGJOB_COORDINATION_URL, else
// DefaultCoordinationURL.
func defaultCoordinationURL() string {
	if u := os.Getenv(EnvCoordinationURL); u != "" {
		return u
	}
	return DefaultCoordinationURL
}

// legacyStore reports whether url names a coordination backend of the
// original BigJob that is gone: SAGA's Advert service.
func legacyStore(url string) bool {
	scheme, _, ok := strings.Cut(url, "://")
	scheme = strings.ToLower(scheme)
	return ok && (scheme == "advert" || scheme == "sqlasyncadvert")
}

// CoordinationURL is the coordination URL a Service made with
// o.CoordinationURL uses: that URL, or the default for none, and the default
// (with the warning on o.Warnings) for one of the original BigJob's Advert
// backend.
func CoordinationURL(o Options) string { return o.withDefaults().CoordinationURL }
