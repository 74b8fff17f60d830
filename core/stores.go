package core

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/coord/embedded"
)

// Stores are shared per process: every Service, reconnected pilot or unit
// that names the same coordination address uses one connection pool (and one
// embedded server, if it came to that). The last release closes them.
var stores = struct {
	sync.Mutex
	m map[string]*sharedStore
}{m: map[string]*sharedStore{}}

type sharedStore struct {
	key    string
	store  *coord.Store
	server *embedded.Server // nil unless this process started it
	refs   int
}

// acquireStore connects to the coordination store at addr, falling back to
// an embedded server on loopback addresses where nothing listens. The
// returned release must be called once.
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

func openStore(ctx context.Context, addr coord.Address, o Options) (*sharedStore, error) {
	cfg := coord.Config{TTL: o.RecordTTL}
	s, err := coord.Dial(ctx, addr, cfg)
	if err == nil {
		return &sharedStore{store: s}, nil
	}
	if !coord.IsRefused(err) || !addr.IsLoopback() || addr.TLS || o.NoEmbedded || o.reconnect {
		if coord.IsRefused(err) && !o.reconnect { // a reconnect says why itself (reconnectError)
			hint := "start redis-server there"
			if o.NoEmbedded && addr.IsLoopback() {
				hint += " (the embedded fallback is off: " + EnvNoEmbedded + "=1 or NoEmbedded)"
			}
			return nil, fmt.Errorf("%w; %s or point the coordination URL at a running Redis", err, hint)
		}
		return nil, err
	}
	srv, serr := embedded.Start(addr.HostPort(), addr.Username, addr.Password)
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
	fmt.Fprintf(o.Warnings, "bigjob: warning: no Redis server at %s; started an embedded in-process coordination server there. Nothing is persisted and it stops when this process exits (set %s=1 to turn this off).\n",
		addr.Redacted(), EnvNoEmbedded)
	o.Logger.Warn("started embedded coordination server", "addr", addr.Redacted())
	return &sharedStore{store: s, server: srv}, nil
}
