package report

import (
	"cmp"
	"container/heap"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/bigjob-go/bigjob/vocab"
)

// Figures are the numbers of a report. Times are in seconds.
type Figures struct {
	Service   string
	Units     int // unit records
	Done      int
	Failed    int
	Canceled  int
	Open      int // not final yet
	Started   int // units that started (have a start time)
	FirstTime float64
	LastTime  float64
	// Makespan is from the first submission to the last end (or to when
	// the records were read, if a unit or pilot has not ended).
	Makespan float64
	// Throughput is final units per second of the makespan.
	Throughput float64
	// BusySlotSeconds is the sum over started units of slots × run time;
	// AllocatedSlotSeconds the sum over pilots of slots × the time their
	// agent ran. Utilisation is the first over the second, Overhead the
	// rest (the share of allocated slot time no unit used).
	BusySlotSeconds      float64
	AllocatedSlotSeconds float64
	Utilisation          float64
	Overhead             float64
	Lanes                int // timeline lanes, all pilots together
	Pilots               []PilotFigures
	Hosts                []HostFigures
	Failures             []Failure
	QueueWait, RunTime   Dist
}

// PilotFigures are the figures of one pilot.
type PilotFigures struct {
	Pilot
	Lanes                int // timeline lanes: its slots, or more if its units overlapped more
	Units, Done, Failed  int
	BusySlotSeconds      float64
	AllocatedSlotSeconds float64
	Utilisation          float64
	// Busy is the share of its slots in use in each of UtilisationBins
	// equal intervals of its agent's run.
	Busy []float64
}

// HostFigures are the figures of the units that ran on one host.
type HostFigures struct {
	Host            string
	Units           int
	Done, Failed    int
	BusySlotSeconds float64
	MeanRunTime     float64
}

// Failure is a group of units that ended Failed or Canceled for one reason.
type Failure struct {
	State  vocab.State
	Reason string
	Units  int
}

// Dist describes a distribution of durations: its count, mean, quantiles
// and a histogram of Bins equal bins from 0 to Max.
type Dist struct {
	N                        int
	Mean, P50, P90, P99, Max float64
	Counts                   []int
	BinWidth                 float64
}

// UtilisationBins and HistogramBins are the resolutions of the charts.
const (
	UtilisationBins = 120
	HistogramBins   = 40
)

// stderrTail starts the part of an agent's failure reason that quotes the
// unit's stderr; failures are grouped by what comes before it.
const stderrTail = "; stderr ends with: "

// failureReason is the reason a Failed or Canceled unit is grouped under:
// its recorded reason without the quoted stderr, else its exit code.
func failureReason(st vocab.State, reason string, exit int32) string {
	if st != vocab.Failed && st != vocab.Canceled {
		return ""
	}
	reason, _, _ = strings.Cut(reason, stderrTail)
	switch {
	case reason != "":
		return reason
	case exit >= 0:
		return fmt.Sprintf("exit code %d", exit)
	}
	return "no reason recorded"
}

// segment is one slot lane of a unit on the timeline.
type segment struct {
	lane       int32 // across all pilots
	start, end float64
	state      vocab.State
}

// Summarize computes the figures of r and lays its units out on the lanes
// of the timeline (segments, ordered by pilot and start).
func Summarize(r *Run) (Figures, []segment) {
	f := Figures{Service: r.Service, Units: len(r.Units), FirstTime: math.Inf(1)}
	hosts := make([]HostFigures, len(r.Hosts))
	for i, h := range r.Hosts {
		hosts[i].Host = h
	}
	pilots := make([]PilotFigures, len(r.Pilots))
	for i, p := range r.Pilots {
		pilots[i].Pilot = p
		f.FirstTime = min(f.FirstTime, nonzero(p.Created, p.Running))
	}
	fails := map[[2]string]int{}
	var queue, run []float64
	byPilot := make([][]int, len(r.Pilots))
	for i := range r.Units {
		u := &r.Units[i]
		switch u.State {
		case vocab.Done:
			f.Done++
		case vocab.Failed:
			f.Failed++
		case vocab.Canceled:
			f.Canceled++
		default:
			f.Open++
		}
		if u.Reason >= 0 {
			fails[[2]string{string(u.State), r.Reasons[u.Reason]}]++
		}
		f.FirstTime = min(f.FirstTime, nonzero(u.Submitted, u.Started))
		if u.Pilot >= 0 {
			p := &pilots[u.Pilot]
			p.Units++
			switch u.State {
			case vocab.Done:
				p.Done++
			case vocab.Failed:
				p.Failed++
			}
		}
		if u.Started == 0 {
			continue
		}
		f.Started++
		end := r.end(u.Ended)
		busy := float64(u.Slots) * (end - u.Started)
		f.BusySlotSeconds += busy
		if u.Submitted > 0 {
			queue = append(queue, max(0, u.Started-u.Submitted))
		}
		if u.Ended > 0 {
			run = append(run, max(0, u.Ended-u.Started))
		}
		if u.Host >= 0 {
			h := &hosts[u.Host]
			h.Units++
			h.BusySlotSeconds += busy
			h.MeanRunTime += end - u.Started
			switch u.State {
			case vocab.Done:
				h.Done++
			case vocab.Failed:
				h.Failed++
			}
		}
		if u.Pilot >= 0 {
			byPilot[u.Pilot] = append(byPilot[u.Pilot], i)
		}
	}
	f.LastTime = f.FirstTime
	for _, u := range r.Units {
		f.LastTime = max(f.LastTime, r.end(u.Ended), u.Submitted)
	}
	var segs []segment
	for i := range pilots {
		p := &pilots[i]
		if p.Running > 0 {
			p.AllocatedSlotSeconds = float64(p.Slots) * (r.end(p.End) - p.Running)
			f.LastTime = max(f.LastTime, r.end(p.End))
		}
		f.AllocatedSlotSeconds += p.AllocatedSlotSeconds
		segs = r.layOut(p, byPilot[i], int32(f.Lanes), segs)
		f.Lanes += p.Lanes
		if p.AllocatedSlotSeconds > 0 {
			p.Utilisation = p.BusySlotSeconds / p.AllocatedSlotSeconds
		}
	}
	if math.IsInf(f.FirstTime, 1) {
		f.FirstTime, f.LastTime = r.Now, r.Now
	}
	f.Makespan = f.LastTime - f.FirstTime
	if f.Makespan > 0 {
		f.Throughput = float64(f.Done+f.Failed+f.Canceled) / f.Makespan
	}
	if f.AllocatedSlotSeconds > 0 {
		f.Utilisation = f.BusySlotSeconds / f.AllocatedSlotSeconds
		f.Overhead = 1 - f.Utilisation
	}
	for i := range hosts {
		if hosts[i].Units > 0 {
			hosts[i].MeanRunTime /= float64(hosts[i].Units)
		}
	}
	slices.SortFunc(hosts, func(a, b HostFigures) int { return cmp.Compare(a.Host, b.Host) })
	f.Hosts, f.Pilots = hosts, pilots
	for k, n := range fails {
		f.Failures = append(f.Failures, Failure{State: vocab.State(k[0]), Reason: k[1], Units: n})
	}
	slices.SortFunc(f.Failures, func(a, b Failure) int {
		return cmp.Or(cmp.Compare(b.Units, a.Units), cmp.Compare(a.State, b.State), cmp.Compare(a.Reason, b.Reason))
	})
	f.QueueWait, f.RunTime = distribution(queue), distribution(run)
	return f, segs
}

// end is t, or the time the records were read if t is not set.
func (r *Run) end(t float64) float64 {
	if t == 0 {
		return r.Now
	}
	return t
}

// nonzero is the first of ts that is not 0 (+Inf if none).
func nonzero(ts ...float64) float64 {
	for _, t := range ts {
		if t != 0 {
			return t
		}
	}
	return math.Inf(1)
}

// layOut puts the started units of pilot p (indexes into r.Units) on slot
// lanes, greedily by start time: a unit of n slots takes the n lowest lanes
// free when it starts, new lanes if fewer are free. It sets p's lanes, busy
// slot time and utilisation series and appends the segments (lanes from
// base on).
func (r *Run) layOut(p *PilotFigures, units []int, base int32, segs []segment) []segment {
	slices.SortFunc(units, func(a, b int) int { return cmp.Compare(r.Units[a].Started, r.Units[b].Started) })
	var free lowest  // lane numbers free now
	var busy endHeap // lanes in use, by end
	lanes := int32(0)
	for _, i := range units {
		u := &r.Units[i]
		end := r.end(u.Ended)
		for len(busy) > 0 && busy[0].end <= u.Started {
			heap.Push(&free, heap.Pop(&busy).(laneEnd).lane)
		}
		for range u.Slots {
			var l int32
			if len(free) > 0 {
				l = heap.Pop(&free).(int32)
			} else {
				l = lanes
				lanes++
			}
			heap.Push(&busy, laneEnd{lane: l, end: end})
			segs = append(segs, segment{lane: base + l, start: u.Started, end: end, state: u.State})
		}
		p.BusySlotSeconds += float64(u.Slots) * (end - u.Started)
	}
	p.Lanes = max(int(lanes), p.Slots)
	p.Busy = r.busySeries(p, units)
	return segs
}

// busySeries is the share of p's slots in use in each of UtilisationBins
// intervals of its agent's run (nil if it never ran).
func (r *Run) busySeries(p *PilotFigures, units []int) []float64 {
	from, to := p.Running, r.end(p.End)
	if from == 0 || to <= from || p.Slots == 0 {
		return nil
	}
	width := (to - from) / UtilisationBins
	series := make([]float64, UtilisationBins)
	for _, i := range units {
		u := &r.Units[i]
		s, e := max(u.Started, from), min(r.end(u.Ended), to)
		for b := int((s - from) / width); b < UtilisationBins && e > s; b++ {
			lo, hi := from+float64(b)*width, from+float64(b+1)*width
			if over := min(e, hi) - max(s, lo); over > 0 {
				series[b] += over * float64(u.Slots)
			}
			if hi >= e {
				break
			}
		}
	}
	for b := range series {
		series[b] = min(1, series[b]/(width*float64(p.Slots)))
	}
	return series
}

func distribution(v []float64) Dist {
	d := Dist{N: len(v)}
	if d.N == 0 {
		return d
	}
	slices.Sort(v)
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	q := func(p float64) float64 { return v[min(len(v)-1, int(p*float64(len(v))))] }
	d.Mean, d.P50, d.P90, d.P99, d.Max = sum/float64(d.N), q(0.5), q(0.9), q(0.99), v[len(v)-1]
	d.Counts = make([]int, HistogramBins)
	d.BinWidth = d.Max / HistogramBins
	for _, x := range v {
		b := HistogramBins - 1
		if d.BinWidth > 0 {
			b = min(HistogramBins-1, int(x/d.BinWidth))
		}
		d.Counts[b]++
	}
	return d
}

// lowest is a min-heap of lane numbers.
type lowest []int32

func (h lowest) Len() int           { return len(h) }
func (h lowest) Less(i, j int) bool { return h[i] < h[j] }
func (h lowest) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *lowest) Push(x any)        { *h = append(*h, x.(int32)) }
func (h *lowest) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

type laneEnd struct {
	lane int32
	end  float64
}

// endHeap is a min-heap of busy lanes by end time.
type endHeap []laneEnd

func (h endHeap) Len() int           { return len(h) }
func (h endHeap) Less(i, j int) bool { return h[i].end < h[j].end }
func (h endHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *endHeap) Push(x any)        { *h = append(*h, x.(laneEnd)) }
func (h *endHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
