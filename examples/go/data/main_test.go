package main

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/testenv"
)

// TestData runs the example on every backend: the unit's output comes back
// through the output data unit, the input is replicated, and the example
// removes everything it wrote.
func TestData(t *testing.T) {
	t.Setenv(core.EnvAgent, testenv.AgentBinary(t))
	for _, b := range testenv.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			var out bytes.Buffer
			require.NoError(t, run(ctx, b.URL, &out), "output so far:\n%s", &out)
			require.Equal(t, "Input data unit: Running\n"+
				"Compute unit: Done\n"+
				"Output files: stderr.txt, stdout.txt\n"+
				"Exported: Hello World!\n"+
				"Replicas: 2\n"+
				"Terminate Pilot Jobs\n", out.String())
			left, err := os.ReadDir(tmp)
			require.NoError(t, err)
			require.Empty(t, left, "the example removes its directory")
		})
	}
}
