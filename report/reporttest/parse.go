package reporttest

import (
	"fmt"
	"html"
	"regexp"
	"strconv"
)

// Parsed is what a report's HTML says, read back from its data-* marks.
type Parsed struct {
	Totals   map[string]float64 // #totals: data-k → data-v
	Failures map[string]int     // "<state>: <reason>" → units
	Lanes    int                // the timeline canvas's data-lanes
	Segments int                // its data-segments
	Pilots   []ParsedPilot
}

// ParsedPilot is a row of the pilots table.
type ParsedPilot struct {
	Name                              string
	Slots, Lanes, Units, Done, Failed int
	Busy, Allocated, Utilisation      float64
}

var (
	totalsRe  = regexp.MustCompile(`(?s)<section id="totals">.*?</section>`)
	cellRe    = regexp.MustCompile(`<td data-k="([a-z_0-9]+)" data-v="([^"]*)">`)
	failureRe = regexp.MustCompile(`<tr data-k="failure" data-state="([^"]*)" data-reason="([^"]*)" data-units="(\d+)">`)
	canvasRe  = regexp.MustCompile(`<canvas id="gantt"[^>]* data-lanes="(\d+)" data-segments="(\d+)"`)
	pilotRe   = regexp.MustCompile(`<tr data-k="pilot" data-pilot="([^"]*)" data-slots="(\d+)" data-lanes="(\d+)" data-units="(\d+)" data-done="(\d+)" data-failed="(\d+)" data-busy="([^"]*)" data-allocated="([^"]*)" data-utilisation="([^"]*)">`)
)

// Parse reads a report's figures back from its HTML.
func Parse(page []byte) (Parsed, error) {
	p := Parsed{Totals: map[string]float64{}, Failures: map[string]int{}}
	sec := totalsRe.Find(page)
	if sec == nil {
		return p, fmt.Errorf("no totals section")
	}
	for _, m := range cellRe.FindAllSubmatch(sec, -1) {
		v, err := strconv.ParseFloat(string(m[2]), 64)
		if err != nil {
			return p, fmt.Errorf("total %s: %w", m[1], err)
		}
		p.Totals[string(m[1])] = v
	}
	for _, m := range failureRe.FindAllSubmatch(page, -1) {
		n, _ := strconv.Atoi(string(m[3]))
		p.Failures[html.UnescapeString(string(m[1]))+": "+html.UnescapeString(string(m[2]))] += n
	}
	m := canvasRe.FindSubmatch(page)
	if m == nil {
		return p, fmt.Errorf("no timeline canvas with data-lanes")
	}
	p.Lanes, _ = strconv.Atoi(string(m[1]))
	p.Segments, _ = strconv.Atoi(string(m[2]))
	for _, m := range pilotRe.FindAllSubmatch(page, -1) {
		var r ParsedPilot
		r.Name = html.UnescapeString(string(m[1]))
		ints := []*int{&r.Slots, &r.Lanes, &r.Units, &r.Done, &r.Failed}
		for i, d := range ints {
			*d, _ = strconv.Atoi(string(m[2+i]))
		}
		floats := []*float64{&r.Busy, &r.Allocated, &r.Utilisation}
		for i, d := range floats {
			*d, _ = strconv.ParseFloat(string(m[7+i]), 64)
		}
		p.Pilots = append(p.Pilots, r)
	}
	return p, nil
}
