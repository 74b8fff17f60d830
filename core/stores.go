package core

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"syscall"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/coord/userstore"
)

// Stores are shared per process: every Service, reconnected pilot or unit
// that names the same coordination address uses one connection pool (and one
// in-process server, if it came to that). The last release closes them.
var stores = struct {
	sync.Mutex
	m map[string]*sharedStore
}{m: map[string]*sharedStore{}}

type sharedStore struct {
	key    string
	store  *coord.Store
	server coord.FallbackServer // nil unless this process started it
	refs   int
}

// acquireStore connects to the coordination store at addr, or to the local
// store that stands in for it (openStore). The returned release must be
// called once.
func acquireStore(ctx context.Context, addr coord.Address, o Options) (*coord.Store, func(), error) {
	key := fmt.Sprintf("%s|ttl=%d", addr.String(), o.RecordTTL)
	stores.Lock()
	defer stores.Unlock()
	ss := stores.m[key]
	if ss == nil {
		var err error
		ss, err = openStore(ctx, addr, o)
		if err != nil {
			return nil, nil, err
		}
		ss.key = key
		stores.m[key] = ss
	}
	ss.refs++
	var once sync.Once
	release := func() { once.Do(func() { releaseStore(ss) }) }
	return ss.store, release, nil
}

func releaseStore(ss *sharedStore) {
	stores.Lock()
	defer stores.Unlock()
	ss.refs--
	if ss.refs > 0 {
		return
	}
	delete(stores.m, ss.key)
	ss.store.Close()
	if ss.server != nil {
		ss.server.Close()
	}
}

// openStore connects to the Redis at addr. Where nothing listens at a
// loopback TCP address it stands in, unless o.NoEmbedded, this user's
// lasting local store (openUserStore), or where no redis-server is
// installed to run one, a store inside this process. A reconnect never
// starts a store that could hold nothing of what it looks for.
func openStore(ctx context.Context, addr coord.Address, o Options) (*sharedStore, error) {
	cfg := coord.Config{TTL: o.RecordTTL}
	s, err := coord.Dial(ctx, addr, cfg)
	if err == nil {
		return &sharedStore{store: s}, nil
	}
	if !coord.IsRefused(err) || !addr.IsLoopback() || addr.Socket != "" || addr.TLS || o.NoEmbedded {
		if coord.IsRefused(err) && !o.reconnect { // a reconnect says why itself (reconnectError)
			hint := "start redis-server there"
			if o.NoEmbedded && addr.IsLoopback() {
				hint += " (the local store is off: " + EnvNoEmbedded + "=1 or NoEmbedded)"
			}
			return nil, fmt.Errorf("%w; %s or point the coordination URL at a running Redis", err, hint)
		}
		return nil, err
	}
	if addr.Port < 1024 {
		// No Redis of a user's listens on a privileged port: a typo, which a
		// stand-in store would hide.
		return nil, fmt.Errorf("%w; port %d is a privileged port where no Redis of yours would listen: check the coordination URL (Redis listens on 6379 unless told otherwise)",
			err, addr.Port)
	}
	ss, uerr := openUserStore(ctx, addr, o, cfg)
	switch {
	case uerr == nil:
		return ss, nil
	case errors.Is(uerr, errNothingKept) || (o.reconnect && errors.Is(uerr, userstore.ErrNoServer)):
		return nil, err // nothing to reconnect to: reconnectError says why
	case !errors.Is(uerr, userstore.ErrNoServer):
		return nil, uerr
	}
	// No redis-server to run a lasting store: a store in this process.
	srv, serr := coord.StartFallback(addr.HostPort(), addr.Username, addr.Password)
	if serr != nil {
		if errors.Is(serr, syscall.EADDRINUSE) {
			// Someone started a server there meanwhile: use it.
			s, err = coord.Dial(ctx, addr, cfg)
			if err == nil {
				return &sharedStore{store: s}, nil
			}
		}
		return nil, fmt.Errorf("%w; and the embedded fallback failed: %v", err, serr)
	}
	s, err = coord.Dial(ctx, addr, cfg)
	if err != nil {
		srv.Close()
		return nil, fmt.Errorf("connect to the embedded coordination server: %w", err)
	}
	fmt.Fprintf(o.Warnings, "bigjob: warning: no Redis server at %s, and no redis-server installed to run a lasting local store; started an in-process coordination server there instead. Nothing is persisted and it stops when this process exits (install redis-server for a store that outlives scripts; set %s=1 to turn this off).\n",
		addr.Redacted(), EnvNoEmbedded)
	o.Logger.Warn("started embedded coordination server", "addr", addr.Redacted())
	return &sharedStore{store: s, server: srv}, nil
}

// errNothingKept: a reconnect found no local store, running or kept on disk.
var errNothingKept = errors.New("no local coordination store, running or kept")

// openUserStore connects to this user's lasting local coordination store
// (coord/userstore), starting it if it is not running, in place of the
// loopback Redis at addr where nothing listens: one warning line says so,
// naming the address the script gave and the store it got.
func openUserStore(ctx context.Context, addr coord.Address, o Options, cfg coord.Config) (*sharedStore, error) {
	dir, err := userstore.Dir()
	if err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, userstore.ErrNoServer
	}
	if o.reconnect && !userstore.Running(ctx, dir) && !userstore.Kept(dir) {
		return nil, errNothingKept
	}
	supervisor, err := findAgent(o)
	if err != nil {
		return nil, fmt.Errorf("start the local coordination store: %w", err)
	}
	local, started, err := userstore.Ensure(ctx, dir, supervisor)
	if err != nil {
		return nil, err
	}
	local.DB = addr.DB
	s, err := coord.Dial(ctx, local, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to the local coordination store: %w", err)
	}
	how := "running"
	if started {
		how = "started now"
	}
	fmt.Fprintf(o.Warnings, "bigjob: warning: no Redis server at %s; using your lasting local coordination store in %s instead (%s; its pilots and units outlive this script and stay until they expire). Point the coordination URL at a Redis server to use that, or set %s=1 to get an error.\n",
		addr.Redacted(), dir, how, EnvNoEmbedded)
	o.Logger.Warn("using the local coordination store", "addr", addr.Redacted(), "store", local.Redacted(), "started", started)
	return &sharedStore{store: s}, nil
}
