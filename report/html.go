package report

import (
	"bufio"
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/bigjob-go/bigjob/vocab"
)

var (
	//go:embed page.html
	pageHTML string
	//go:embed page.css
	pageCSS string
	//go:embed page.js
	pageJS string

	page = template.Must(template.New("report").Funcs(template.FuncMap{
		"num": num64, "dur": duration, "fixed": fixed, "pct": percent,
	}).Parse(pageHTML))
)

// Write writes the report of r to w as one HTML page.
func Write(w io.Writer, r *Run) error {
	f, segs := Summarize(r)
	v := view{F: f, Segments: len(segs), Read: when(r.Now), From: when(f.FirstTime), To: when(f.LastTime),
		CSS: template.CSS(pageCSS), JS: template.JS(pageJS), Data: template.JS(timelineJSON(f, segs))}
	v.CanvasHeight = 22 + 4 + int(math.Ceil(float64(f.Lanes)*min(14, 640/float64(max(f.Lanes, 1)))))
	for _, p := range f.Pilots {
		v.Util = append(v.Util, utilisationPath(p.Busy))
	}
	v.Queue = distView{Key: "queue_wait", Title: "Queue wait: submitted to started", D: f.QueueWait, Bars: bars(f.QueueWait)}
	v.Run = distView{Key: "run_time", Title: "Run time: started to ended", D: f.RunTime, Bars: bars(f.RunTime)}
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := page.Execute(bw, v); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// view is what the page template reads.
type view struct {
	F              Figures
	Segments       int
	CanvasHeight   int
	Read, From, To string
	CSS            template.CSS
	JS, Data       template.JS
	Util           []string // per pilot: the SVG path of its busy series ("" if none)
	Queue, Run     distView
}

type distView struct {
	Key, Title string
	D          Dist
	Bars       []bar
}

type bar struct {
	X, Y, W, H string
	Label      string
}

// stateCodes are the timeline's state codes (page.js COLORS).
func stateCode(st vocab.State) int {
	switch st {
	case vocab.Done:
		return 0
	case vocab.Failed:
		return 1
	case vocab.Canceled:
		return 2
	}
	return 3
}

// timelineJSON is the timeline's data (see page.js): compact arrays of
// integers, milliseconds from the run's first time.
func timelineJSON(f Figures, segs []segment) string {
	var b strings.Builder
	b.Grow(32*len(segs) + 256*len(f.Pilots) + 64)
	b.WriteString(`{"span":`)
	b.WriteString(num64(f.Makespan))
	b.WriteString(`,"pilots":[`)
	for i, p := range f.Pilots {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"name":`)
		b.WriteString(jsString(p.Name))
		b.WriteString(`,"lanes":`)
		b.WriteString(strconv.Itoa(p.Lanes))
		b.WriteByte('}')
	}
	b.WriteString(`],"s":[`)
	buf := make([]byte, 0, 64)
	ms := func(t float64) int64 { return int64(math.Round(t * 1000)) }
	for i, s := range segs {
		buf = buf[:0]
		if i > 0 {
			buf = append(buf, ',')
		}
		start := ms(s.start - f.FirstTime)
		buf = strconv.AppendInt(buf, int64(s.lane), 10)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, start, 10)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, max(0, ms(s.end-f.FirstTime)-start), 10)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(stateCode(s.state)), 10)
		b.Write(buf)
	}
	b.WriteString("]}")
	return b.String()
}

// jsString quotes s for JSON inside a script element: no '<', '>' or '&'
// survives, so the element cannot be closed from the data.
func jsString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == '<' || r == '>' || r == '&' || r == 0x2028 || r == 0x2029:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// utilisationPath is an SVG step path (600 × 80) of a busy series.
func utilisationPath(busy []float64) string {
	if len(busy) == 0 {
		return ""
	}
	var b strings.Builder
	w := 600 / float64(len(busy))
	b.WriteString("M0,80")
	for i, v := range busy {
		y := 80 - v*78
		fmt.Fprintf(&b, "L%.1f,%.1fL%.1f,%.1f", float64(i)*w, y, float64(i+1)*w, y)
	}
	b.WriteString("L600,80Z")
	return b.String()
}

// bars are the SVG bars (400 × 120, 12 px for the labels) of a histogram.
func bars(d Dist) []bar {
	most := 0
	for _, c := range d.Counts {
		most = max(most, c)
	}
	if most == 0 {
		return nil
	}
	w := 400 / float64(len(d.Counts))
	out := make([]bar, 0, len(d.Counts))
	for i, c := range d.Counts {
		if c == 0 {
			continue
		}
		h := math.Max(1, float64(c)/float64(most)*104)
		out = append(out, bar{X: fixed1(float64(i) * w), Y: fixed1(108 - h), W: fixed1(w - 1), H: fixed1(h),
			Label: fmt.Sprintf("%d units from %s to %s", c, duration(float64(i)*d.BinWidth), duration(float64(i+1)*d.BinWidth))})
	}
	return out
}

func fixed1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// num64 is v exactly, for data-v attributes.
func num64(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func fixed(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

func percent(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + " %" }

// duration is seconds for people: ms, s, min or h.
func duration(s float64) string {
	switch {
	case s < 1:
		return strconv.FormatFloat(s*1000, 'f', 0, 64) + " ms"
	case s < 120:
		return strconv.FormatFloat(s, 'f', 2, 64) + " s"
	case s < 7200:
		return strconv.FormatFloat(s/60, 'f', 1, 64) + " min"
	}
	return strconv.FormatFloat(s/3600, 'f', 2, 64) + " h"
}

// when is an epoch time in UTC.
func when(t float64) string {
	return time.UnixMicro(int64(t * 1e6)).UTC().Format("2006-01-02 15:04:05 UTC")
}
