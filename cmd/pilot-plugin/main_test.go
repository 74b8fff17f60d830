package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/bigjob-go/bigjob/plugins"
)

// check says what a plugin is and what each grant lets it do, before a
// site loads it.
func TestCheckSaysTheGrantsInPlainWords(t *testing.T) {
	h := plugins.NewHost(plugins.HostOptions{CacheDir: "off"})
	defer h.Close(context.Background())
	for _, c := range []struct {
		src  string
		want []string
	}{
		{"plugins/examples/tsp", []string{"plugin tsp 1.0.0 (adaptor; serves tsp://)", `Runs "tsp" (`,
			"as the user that submits pilots", `Sets the environment variables "TS_SOCKET", "TMPDIR" for those commands.`, "Writes no files."}},
		{"plugins/examples/allowlist", []string{"plugin allowlist 1.0.0 (pre_unit)", "Runs no commands.",
			`Adds, changes or removes the variables "SITE_POLICY" in each unit's environment`, "Never changes a unit's executable."}},
		{"plugins/testdata/hostile/writer", []string{`creates new files (mode 0600, never executable) under "$WORKDIR/out"`,
			"Changes nothing in a unit: it may only let it run or refuse it."}},
	} {
		manifest := testenv.Plugin(t, c.src)
		p, err := h.Load(context.Background(), manifest)
		require.NoError(t, err)
		out := describe(p, manifest)
		assert.Contains(t, out, "manifest "+manifest+"\n  digest "+p.Digest())
		for _, w := range c.want {
			assert.Contains(t, out, w, c.src)
		}
	}
	assert.ErrorContains(t, run([]string{"check", "--yaml", "x"}), "usage: pilot-plugin build SRC OUT | pilot-plugin check [--json] MANIFEST")
}
