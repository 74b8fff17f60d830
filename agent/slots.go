package agent

// slotPool hands out the pilot's slots. Each slot belongs to a host; a unit
// that needs n slots gets them host by host in the pool's host order, as
// BigJob fills its machinefile. Not safe for concurrent use: the agent's
// main loop owns it.
type slotPool struct {
	hosts []string       // in order
	free  map[string]int // free slots per host
	nfree int
	total int
}

// newSlotPool makes a pool with one slot per entry of hosts.
func newSlotPool(hosts []string) *slotPool {
	p := &slotPool{free: map[string]int{}}
	for _, h := range hosts {
		if _, seen := p.free[h]; !seen {
			p.hosts = append(p.hosts, h)
		}
		p.free[h]++
	}
	p.nfree, p.total = len(hosts), len(hosts)
	return p
}

// take reserves n slots and returns their hosts (one entry per slot), or
// nil if fewer than n are free.
func (p *slotPool) take(n int) []string {
	if n > p.nfree {
		return nil
	}
	out := make([]string, 0, n)
	for _, h := range p.hosts {
		for p.free[h] > 0 && len(out) < n {
			p.free[h]--
			out = append(out, h)
		}
		if len(out) == n {
			break
		}
	}
	p.nfree -= n
	return out
}

// release returns slots taken earlier.
func (p *slotPool) release(hosts []string) {
	for _, h := range hosts {
		p.free[h]++
	}
	p.nfree += len(hosts)
}
