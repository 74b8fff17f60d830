package ssh

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestParseStartedSkipsWhatLoginScriptsPrint(t *testing.T) {
	for out, want := range map[string]struct {
		pid   int
		start string
	}{
		"4242\n987654\n":                         {4242, "987654"},
		"Welcome to the cluster\n4242\n987654\n": {4242, "987654"},
		"4242\n":                                 {4242, ""},
		"Welcome\n":                              {0, ""},
	} {
		pid, start := parseStarted([]byte(out))
		assert.Equal(t, want.pid, pid, "%q", out)
		assert.Equal(t, want.start, start, "%q", out)
	}
}
