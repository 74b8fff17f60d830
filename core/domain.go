package core

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/bigjob-go/bigjob/coord"
)

// domain is what one process knows of one pilot compute service: the store,
// the keys, and the two background activities that replace polling, the
// event watcher and the liveness monitor. Services, pilots and units of one
// service in one process share a domain; it goes away with the last release.
type domain struct {
	store   *coord.Store
	keys    coord.Keys
	addr    coord.Address
	opts    Options
	log     *slog.Logger
	watcher *watcher
	monitor *monitor

	outboxMu sync.Mutex
	outboxes map[string]*outbox // write-behind queues, by queue.target()

	keyMu   sync.Mutex
	signKey coord.Key // see signingKey
	health  storeHealth

	key  string
	refs int // guarded by domains
	drop func()
}

var domains = struct {
	sync.Mutex
	m map[string]*domain
}{m: map[string]*domain{}}

// acquireDomain returns the domain of service serviceID at addr, creating it
// (and connecting) if needed. release must be called once.
func acquireDomain(ctx context.Context, addr coord.Address, serviceID string, o Options) (*domain, func(), error) {
	o = o.withDefaults()
	key := fmt.Sprintf("%s|%s|ttl=%d", addr.String(), serviceID, o.RecordTTL)
	domains.Lock()
	d := domains.m[key]
	if d != nil {
		d.refs++
		domains.Unlock()
		return d, d.releaser(), nil
	}
	domains.Unlock()

	store, dropStore, err := acquireStore(ctx, addr, o)
	if err != nil {
		return nil, nil, err
	}
	d = &domain{
		store: store,
		keys:  coord.ServiceKeys(serviceID),
		addr:  addr,
		opts:  o,
		log:   o.Logger.With("service", serviceID),
		key:   key,
		drop:  dropStore,
	}
	d.watcher = newWatcher(d)
	d.monitor = newMonitor(d)

	domains.Lock()
	defer domains.Unlock()
	if other := domains.m[key]; other != nil { // lost a race: use the other one
		dropStore()
		other.refs++
		return other, other.releaser(), nil
	}
	d.refs = 1
	domains.m[key] = d
	return d, d.releaser(), nil
}

// retain adds a reference to the live domain d; the function returned
// drops it (once).
func (d *domain) retain() func() {
	domains.Lock()
	d.refs++
	domains.Unlock()
	return d.releaser()
}

func (d *domain) releaser() func() {
	var once sync.Once
	return func() { once.Do(d.release) }
}

func (d *domain) release() {
	domains.Lock()
	d.refs--
	last := d.refs == 0
	if last {
		delete(domains.m, d.key)
	}
	domains.Unlock()
	if last {
		d.watcher.close()
		d.monitor.close()
		d.drop()
	}
}

// FlushAll waits until every unit enqueued in this process is written to
// its store, and returns the first write error not reported yet.
func FlushAll(ctx context.Context) error {
	domains.Lock()
	all := make([]*domain, 0, len(domains.m))
	for _, d := range domains.m {
		all = append(all, d)
	}
	domains.Unlock()
	var first error
	for _, d := range all {
		if err := d.flushAll(ctx); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// base is the coordination URL prefix of pilot and unit URLs.
func (d *domain) base() string { return d.addr.Base() }
