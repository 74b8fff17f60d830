package report_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/bigjob-go/bigjob/report/reporttest"
	"github.com/stretchr/testify/require"
)

// EnvScreenshot names a file to which TestReportInChromium copies its
// screenshot (docs/report.png is made so).
const EnvScreenshot = "BIGJOB_REPORT_SCREENSHOT"

// TestReportInChromium opens the report of a 10,000-unit run in headless
// Chromium: the page logs nothing to the console, its script draws the
// timeline with one lane per slot of every pilot, and in the screenshot the
// timeline's canvas is mostly covered by units.
func TestReportInChromium(t *testing.T) {
	testenv.Chromium(t)
	page, want := writeRun(t, testenv.RedisServer(t), reporttest.Run{Pilots: 3, Slots: 16, Units: 10000, Seed: 42})
	dir := t.TempDir()
	file := filepath.Join(dir, "report.html")
	require.NoError(t, os.WriteFile(file, page, 0o644))
	url := "file://" + file
	const width, height = 1400, 1500
	ctx := context.Background()

	dom, logged, err := testenv.Headless(ctx, t, url, width, height, "--dump-dom")
	require.NoError(t, err)
	require.NotRegexp(t, `CONSOLE`, string(logged), "the page logged to the console")
	if m := regexp.MustCompile(`<body[^>]*data-errors="([^"]*)"`).FindSubmatch(dom); m != nil {
		t.Fatalf("the page's script failed: %s", m[1])
	}
	canvas := regexp.MustCompile(`<canvas id="gantt"[^>]*>`).Find(dom)
	require.NotNil(t, canvas, "no timeline canvas in the DOM")
	attr := func(name string) int {
		m := regexp.MustCompile(` ` + name + `="(-?\d+)"`).FindSubmatch(canvas)
		require.NotNil(t, m, "the canvas has no %s after the page's script ran: %s", name, canvas)
		n, err := strconv.Atoi(string(m[1]))
		require.NoError(t, err)
		return n
	}
	require.Equal(t, want.Lanes, attr("data-drawn-lanes"), "lanes drawn")
	require.Equal(t, want.Units-want.Canceled, attr("data-drawn-segments"), "units drawn")
	x, y, w, h := attr("data-x"), attr("data-y"), attr("data-w"), attr("data-h")
	require.Greater(t, w, 400)
	require.Greater(t, h, want.Lanes)

	shot := filepath.Join(dir, "report.png")
	_, logged, err = testenv.Headless(ctx, t, url, width, height, "--screenshot="+shot)
	require.NoError(t, err)
	require.NotRegexp(t, `CONSOLE`, string(logged))
	b, err := os.ReadFile(shot)
	require.NoError(t, err)
	img, err := png.Decode(bytes.NewReader(b))
	require.NoError(t, err)
	require.GreaterOrEqual(t, img.Bounds().Dy(), y+h, "the screenshot does not reach the timeline's bottom")
	// the plot area (right of the 180 px of pilot names, below the 22 px
	// axis) is mostly units: the Done colour #3b7dd8, Failed #d64541
	plot := image.Rect(x+181, y+23, x+w-9, y+h-5)
	done, failed, all := 0, 0, 0
	for py := plot.Min.Y; py < plot.Max.Y; py++ {
		for px := plot.Min.X; px < plot.Max.X; px++ {
			r, g, bl, _ := img.At(px, py).RGBA()
			c := [3]uint32{r >> 8, g >> 8, bl >> 8}
			switch {
			case close3(c, [3]uint32{0x3b, 0x7d, 0xd8}):
				done++
			case close3(c, [3]uint32{0xd6, 0x45, 0x41}):
				failed++
			}
			all++
		}
	}
	t.Logf("timeline %dx%d at (%d,%d): %d of %d pixels Done, %d Failed", w, h, x, y, done, all, failed)
	require.Greater(t, done, all/3, "the timeline is mostly empty")
	require.Positive(t, failed, "no failed unit is visible")
	if out := os.Getenv(EnvScreenshot); out != "" {
		require.NoError(t, os.WriteFile(out, b, 0o644))
	}
}

func close3(a, b [3]uint32) bool {
	for i := range a {
		if d := int(a[i]) - int(b[i]); d < -12 || d > 12 {
			return false
		}
	}
	return true
}
