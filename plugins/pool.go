package plugins

import "context"

// pool holds at most max live instances of one plugin. A caller takes an
// idle instance, or makes one while fewer than max exist, or waits. An
// instance goes back after a clean call and is discarded (closed, its place
// freed) after a trap, a timeout or a protocol error.
type pool struct {
	idle  chan *instance
	slots chan struct{} // one token per live instance
	fresh func(context.Context) (*instance, error)
}

func newPool(max int, fresh func(context.Context) (*instance, error)) *pool {
	return &pool{idle: make(chan *instance, max), slots: make(chan struct{}, max), fresh: fresh}
}

// get returns an instance for the caller's exclusive use.
func (p *pool) get(ctx context.Context) (*instance, error) {
	select {
	case in := <-p.idle:
		return in, nil
	default:
	}
	select {
	case in := <-p.idle:
		return in, nil
	case p.slots <- struct{}{}:
		in, err := p.fresh(ctx)
		if err != nil {
			<-p.slots
			return nil, err
		}
		return in, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// put returns a healthy instance.
func (p *pool) put(in *instance) { p.idle <- in }

// discard closes an instance that must not run again.
func (p *pool) discard(in *instance) {
	in.close()
	<-p.slots
}

// drain closes the idle instances.
func (p *pool) drain() {
	for {
		select {
		case in := <-p.idle:
			p.discard(in)
		default:
			return
		}
	}
}
