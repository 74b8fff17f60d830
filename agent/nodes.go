package agent

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// maxSlots bounds how many slots any source may describe. It guards against
// a typo such as "node[1-99999999]" making the agent allocate gigabytes.
const maxSlots = 1_000_000

// discoverSlots finds the pilot's slots the way BigJob's agent did: from the
// batch system's environment, else from the pilot description. It returns
// one host entry per slot, each host's entries together, hosts in allocation
// order (a host listed twice keeps its first place), and a one-line
// description of the source for the agent's log.
//
// Checked in order, the first variable that is set (non-blank) wins:
//
//	GLIDEIN_CPUS        that many "localhost" slots (Condor glide-in)
//	PBS_NODEFILE        a file with one host name per slot (PBS/Torque)
//	PE_HOSTFILE         a file with "host slots queue range" lines (SGE)
//	SLURM_JOB_NODELIST  or SLURM_NODELIST, a hostlist, times the CPUs per
//	                    node from SLURM_JOB_CPUS_PER_NODE ("4(x2),2"), else
//	                    SLURM_CPUS_ON_NODE for every node, else 1
//
// Otherwise it returns nprocs (at least 1) "localhost" slots. Unlike the
// original, a nodefile's per-host counts are kept as listed, never padded to
// the local CPU count. env reads a variable ("" when unset); readFile reads
// the files named by the variables. A malformed value is an error naming the
// variable and what was expected; the caller should fail the pilot with it.
func discoverSlots(env func(string) string, readFile func(string) ([]byte, error), nprocs int) (hosts []string, source string, err error) {
	if v := getenv(env, "GLIDEIN_CPUS"); v != "" {
		n, err := slotCount(v)
		if err != nil {
			return nil, "", fmt.Errorf("GLIDEIN_CPUS=%q: %v; expected the glide-in's number of CPUs, e.g. 8", v, err)
		}
		return repeatHost("localhost", n), "GLIDEIN_CPUS=" + v + " × localhost", nil
	}
	if path := getenv(env, "PBS_NODEFILE"); path != "" {
		return pbsSlots(path, readFile)
	}
	if path := getenv(env, "PE_HOSTFILE"); path != "" {
		return sgeSlots(path, readFile)
	}
	for _, name := range []string{"SLURM_JOB_NODELIST", "SLURM_NODELIST"} {
		if v := getenv(env, name); v != "" {
			return slurmSlots(env, name, v)
		}
	}
	n := max(nprocs, 1)
	if n > maxSlots {
		return nil, "", fmt.Errorf("number_of_processes %d: more than %d slots; ask for fewer processes", n, maxSlots)
	}
	return repeatHost("localhost", n), fmt.Sprintf("number_of_processes=%d × localhost", n), nil
}

// getenv is env(name) without surrounding white space.
func getenv(env func(string) string, name string) string {
	return strings.TrimSpace(env(name))
}

// slotCount parses a positive slot count no larger than maxSlots.
func slotCount(s string) (int, error) {
	n, err := strconv.Atoi(s)
	switch {
	case err != nil:
		return 0, fmt.Errorf("not a whole number")
	case n < 1:
		return 0, fmt.Errorf("not positive")
	case n > maxSlots:
		return 0, fmt.Errorf("more than %d slots", maxSlots)
	}
	return n, nil
}

func repeatHost(host string, n int) []string {
	hosts := make([]string, n)
	for i := range hosts {
		hosts[i] = host
	}
	return hosts
}

// slotList gathers slots per host; a host seen again adds to its first place.
type slotList struct {
	order []string
	count map[string]int
	total int
}

// add gives host n more slots; it fails once the total passes maxSlots.
func (l *slotList) add(host string, n int) error {
	if l.count == nil {
		l.count = map[string]int{}
	}
	if n > maxSlots-l.total {
		return fmt.Errorf("more than %d slots in all", maxSlots)
	}
	if _, seen := l.count[host]; !seen {
		l.order = append(l.order, host)
	}
	l.count[host] += n
	l.total += n
	return nil
}

// hosts is one entry per slot, grouped by host in first-seen order.
func (l *slotList) hosts() []string {
	out := make([]string, 0, l.total)
	for _, h := range l.order {
		for range l.count[h] {
			out = append(out, h)
		}
	}
	return out
}

func (l *slotList) summary() string {
	return fmt.Sprintf("%d hosts, %d slots", len(l.order), l.total)
}

// pbsSlots reads a PBS nodefile: one host name per line for each slot.
func pbsSlots(path string, readFile func(string) ([]byte, error)) ([]string, string, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("PBS_NODEFILE=%q: cannot read the nodefile (%w); expected the path of a readable file with one host name per slot", path, err)
	}
	var l slotList
	for i, line := range strings.Split(string(data), "\n") {
		host := strings.TrimSpace(line)
		if host == "" {
			continue
		}
		if strings.ContainsAny(host, " \t") {
			return nil, "", fmt.Errorf("PBS_NODEFILE=%q: line %d %q is not a host name; expected one host name per line", path, i+1, host)
		}
		if err := l.add(host, 1); err != nil {
			return nil, "", fmt.Errorf("PBS_NODEFILE=%q: %v", path, err)
		}
	}
	if l.total == 0 {
		return nil, "", fmt.Errorf("PBS_NODEFILE=%q lists no hosts; expected one host name per line for each slot", path)
	}
	return l.hosts(), fmt.Sprintf("PBS_NODEFILE=%s (%s)", path, l.summary()), nil
}

// sgeSlots reads an SGE PE_HOSTFILE: "host slots queue processor-range".
func sgeSlots(path string, readFile func(string) ([]byte, error)) ([]string, string, error) {
	data, err := readFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("PE_HOSTFILE=%q: cannot read the host file (%w); expected the path of a readable file with \"host slots queue range\" lines", path, err)
	}
	var l slotList
	for i, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 2 {
			return nil, "", fmt.Errorf("PE_HOSTFILE=%q: line %d %q has no slot count; expected \"host slots queue range\"", path, i+1, strings.TrimSpace(line))
		}
		n, err := slotCount(f[1])
		if err != nil {
			return nil, "", fmt.Errorf("PE_HOSTFILE=%q: line %d slot count %q is %v; expected \"host slots queue range\" with a positive count", path, i+1, f[1], err)
		}
		if err := l.add(f[0], n); err != nil {
			return nil, "", fmt.Errorf("PE_HOSTFILE=%q: %v", path, err)
		}
	}
	if l.total == 0 {
		return nil, "", fmt.Errorf("PE_HOSTFILE=%q lists no hosts; expected \"host slots queue range\" lines", path)
	}
	return l.hosts(), fmt.Sprintf("PE_HOSTFILE=%s (%s)", path, l.summary()), nil
}

// slurmSlots expands the node list in variable name (value list) and gives
// each node its CPU count.
func slurmSlots(env func(string) string, name, list string) ([]string, string, error) {
	nodes, err := expandHostlist(list)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", name, err)
	}
	var cpus []int
	source := name + "=" + list + " × "
	if v := getenv(env, "SLURM_JOB_CPUS_PER_NODE"); v != "" {
		if cpus, err = cpusPerNode(v, len(nodes)); err != nil {
			return nil, "", fmt.Errorf("SLURM_JOB_CPUS_PER_NODE=%q: %v; expected one count per node of %s=%q, e.g. \"4(x2),2\" for 4, 4 and 2", v, err, name, list)
		}
		source += "SLURM_JOB_CPUS_PER_NODE=" + v
	} else {
		per := 1
		if v := getenv(env, "SLURM_CPUS_ON_NODE"); v != "" {
			if per, err = slotCount(v); err != nil {
				return nil, "", fmt.Errorf("SLURM_CPUS_ON_NODE=%q: %v; expected the number of CPUs per node, e.g. 8", v, err)
			}
			source += "SLURM_CPUS_ON_NODE=" + v
		} else {
			source += "1 CPU per node (SLURM_CPUS_ON_NODE unset)"
		}
		cpus = make([]int, len(nodes))
		for i := range cpus {
			cpus[i] = per
		}
	}
	var l slotList
	for i, node := range nodes {
		if err := l.add(node, cpus[i]); err != nil {
			return nil, "", fmt.Errorf("%s=%q with %d CPUs per node: %v", name, list, cpus[i], err)
		}
	}
	return l.hosts(), source, nil
}

// cpusPerNode expands SLURM's compressed per-node counts ("4(x2),2" is 4, 4,
// 2) and checks that there is exactly one count for each of nnodes nodes.
func cpusPerNode(s string, nnodes int) ([]int, error) {
	out := make([]int, 0, nnodes)
	for _, item := range strings.Split(s, ",") {
		count, reps := item, "1"
		if i := strings.IndexByte(item, '('); i >= 0 {
			if !strings.HasPrefix(item[i:], "(x") || !strings.HasSuffix(item, ")") {
				return nil, fmt.Errorf("%q is not N or N(xM)", item)
			}
			count, reps = item[:i], item[i+2:len(item)-1]
		}
		n, err := slotCount(count)
		if err != nil {
			return nil, fmt.Errorf("count %q in %q is %v", count, item, err)
		}
		r, err := strconv.Atoi(reps)
		if err != nil || r < 1 {
			return nil, fmt.Errorf("repeat %q in %q is not a positive whole number", reps, item)
		}
		if r > nnodes-len(out) {
			return nil, fmt.Errorf("more counts than the %d nodes", nnodes)
		}
		for range r {
			out = append(out, n)
		}
	}
	if len(out) != nnodes {
		return nil, fmt.Errorf("%d counts for %d nodes", len(out), nnodes)
	}
	return out, nil
}

// hostRange is lo..hi of a bracket group, printed zero-padded to width.
type hostRange struct {
	lo, hi uint64
	width  int
}

// hostPart is a literal piece of a host name, or (ranges != nil) a bracket
// group standing for each of its numbers in turn.
type hostPart struct {
	lit    string
	ranges []hostRange
}

// expandHostlist expands a SLURM hostlist such as "node[01-03,07],login1"
// into host names, in order. Commas separate names at top level and ranges
// inside brackets. A name may hold several bracket groups; it then stands
// for their cartesian product, the leftmost group varying slowest
// ("r[1-2]-n[1-2]" is r1-n1 r1-n2 r2-n1 r2-n2). A number is printed as wide
// as the range's low end is written, so "n[08-10]" is n08 n09 n10. Errors
// quote the input and give the 1-based position of the fault; a list of
// more than maxSlots names is an error.
func expandHostlist(s string) ([]string, error) {
	bad := func(pos int, format string, args ...any) error {
		return fmt.Errorf("hostlist %q at position %d: %s", s, pos+1, fmt.Sprintf(format, args...))
	}
	var (
		items [][]hostPart
		cur   []hostPart
		start = 0  // start of the current item
		lit   = 0  // start of the current literal
		open  = -1 // position of an unclosed '['
	)
	endItem := func(i int) error {
		if lit < i {
			cur = append(cur, hostPart{lit: s[lit:i]})
		}
		if len(cur) == 0 {
			return bad(start, "empty host name; remove the extra comma")
		}
		items, cur, start, lit = append(items, cur), nil, i+1, i+1
		return nil
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			return nil, bad(i, "white space; host lists have none")
		case open >= 0 && c == '[':
			return nil, bad(i, "nested '['; close the group at position %d first", open+1)
		case open >= 0 && c == ']':
			ranges, err := parseRanges(s, open+1, i, bad)
			if err != nil {
				return nil, err
			}
			cur = append(cur, hostPart{ranges: ranges})
			open, lit = -1, i+1
		case open >= 0:
			// Inside a group: parseRanges checks it at the ']'.
		case c == '[':
			if lit < i {
				cur = append(cur, hostPart{lit: s[lit:i]})
			}
			open = i
		case c == ']':
			return nil, bad(i, "']' without '['")
		case c == ',':
			if err := endItem(i); err != nil {
				return nil, err
			}
		}
	}
	if open >= 0 {
		return nil, bad(open, "'[' is never closed; add ']'")
	}
	if err := endItem(len(s)); err != nil {
		return nil, err
	}

	total := 0
	for _, parts := range items {
		n := 1
		for _, p := range parts {
			if p.ranges != nil {
				n *= rangesLen(p.ranges) // each factor <= maxSlots: no overflow
				if n > maxSlots {
					break
				}
			}
		}
		if n > maxSlots-total {
			return nil, fmt.Errorf("hostlist %q: more than %d host names; check the ranges", s, maxSlots)
		}
		total += n
	}
	out := make([]string, 0, total)
	for _, parts := range items {
		names := []string{""}
		for _, p := range parts {
			if p.ranges == nil {
				for j := range names {
					names[j] += p.lit
				}
				continue
			}
			next := make([]string, 0, len(names)*rangesLen(p.ranges))
			for _, prefix := range names {
				for _, r := range p.ranges {
					for v := r.lo; ; v++ {
						num := strconv.FormatUint(v, 10)
						if pad := r.width - len(num); pad > 0 {
							num = strings.Repeat("0", pad) + num
						}
						next = append(next, prefix+num)
						if v == r.hi {
							break
						}
					}
				}
			}
			names = next
		}
		out = append(out, names...)
	}
	return out, nil
}

// parseRanges parses s[from:to], the inside of a bracket group: comma
// separated "N" or "LO-HI" entries of decimal digits.
func parseRanges(s string, from, to int, bad func(int, string, ...any) error) ([]hostRange, error) {
	if from == to {
		return nil, bad(from-1, "empty '[]'; put numbers or ranges inside, e.g. [1-4]")
	}
	var out []hostRange
	count := 0
	for pos := from; pos <= to; {
		end := strings.IndexByte(s[pos:to], ',')
		if end < 0 {
			end = to
		} else {
			end += pos
		}
		entry := s[pos:end]
		loS, hiS, isRange := strings.Cut(entry, "-")
		if !isRange {
			hiS = loS
		}
		if !isDigits(loS) || !isDigits(hiS) {
			return nil, bad(pos, "range %q is not N or LO-HI in decimal digits", entry)
		}
		lo, err1 := strconv.ParseUint(loS, 10, 64)
		hi, err2 := strconv.ParseUint(hiS, 10, 64)
		if err1 != nil || err2 != nil {
			return nil, bad(pos, "number in range %q is too large", entry)
		}
		if lo > hi {
			return nil, bad(pos, "descending range %q; write it low-high", entry)
		}
		if hi-lo >= maxSlots || count+int(hi-lo+1) > maxSlots {
			return nil, bad(pos, "range %q has more than %d numbers", entry, maxSlots)
		}
		count += int(hi - lo + 1)
		out = append(out, hostRange{lo: lo, hi: hi, width: len(loS)})
		pos = end + 1
	}
	return out, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func rangesLen(rs []hostRange) int {
	n := 0
	for _, r := range rs {
		n += int(r.hi - r.lo + 1)
	}
	return n
}

// isLocalHost reports whether host names the machine the agent runs on:
// "localhost" (or a name under it), a loopback address, or a name in self
// (the agent's host name, its short form, its FQDN). Names compare without
// regard to case or a trailing dot; when either side is unqualified (has no
// dot) only the parts before the first dot are compared, so "node1" matches
// "node1.cluster.org" but "node1.a.org" does not match "node1.b.org". IP
// addresses compare only as whole addresses.
func isLocalHost(host string, self []string) bool {
	h := normHost(host)
	if h == "" {
		return false
	}
	if h == "localhost" || h == "localhost.localdomain" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	hIP, err := netip.ParseAddr(h)
	hIsIP := err == nil
	if hIsIP && hIP.IsLoopback() {
		return true
	}
	for _, s := range self {
		s = normHost(s)
		if s == "" {
			continue
		}
		if sIP, err := netip.ParseAddr(s); err == nil || hIsIP {
			if err == nil && hIsIP && sIP.Unmap() == hIP.Unmap() {
				return true
			}
			continue
		}
		if s == h {
			return true
		}
		hShort, _, hQual := strings.Cut(h, ".")
		sShort, _, sQual := strings.Cut(s, ".")
		if (!hQual || !sQual) && hShort == sShort {
			return true
		}
	}
	return false
}

// normHost is a host name in lower case without white space, a trailing dot
// or IPv6 brackets.
func normHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	h = strings.TrimSuffix(h, ".")
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	return h
}
