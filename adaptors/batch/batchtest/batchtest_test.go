package batchtest

import (
	"context"
	"testing"

	"github.com/bigjob-go/bigjob/runner"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAndExec(t *testing.T) {
	answers, err := Parse("a comment\n-- $ qstat -f --\nJob Id: 1\n\tjob_state = R\n" +
		"-- $ qdel 1 --\n-- exit 153 --\n-- stderr --\nqdel: Unknown Job Id 1\n-- stdout --\nout\n" +
		"-- $ true --\n")
	require.NoError(t, err)
	require.Len(t, answers, 3)
	assert.Equal(t, Answer{Prefix: "qstat -f", Stdout: "Job Id: 1\n\tjob_state = R\n"}, answers[0])
	assert.Equal(t, Answer{Prefix: "qdel 1", ExitCode: 153, Stdout: "out\n", Stderr: "qdel: Unknown Job Id 1\n"}, answers[1])
	assert.Equal(t, Answer{Prefix: "true"}, answers[2])

	f := &Fake{answers: answers}
	out, err := f.Exec(context.Background(), "qstat -f 1")
	require.NoError(t, err)
	assert.Equal(t, "Job Id: 1\n\tjob_state = R\n", string(out))
	_, err = f.Exec(context.Background(), "qdel 1")
	var ce *runner.CommandError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 153, ce.ExitCode)
	assert.Equal(t, "qdel: Unknown Job Id 1", ce.Stderr)
	_, err = f.Exec(context.Background(), "qsub x")
	assert.ErrorContains(t, err, `nothing recorded answers "qsub x"`)
	assert.Equal(t, []string{"qstat -f 1", "qdel 1", "qsub x"}, f.Calls())
}

func TestParseRejectsBadMarkers(t *testing.T) {
	_, err := Parse("-- exit 1 --\n")
	assert.Error(t, err)
	_, err = Parse("-- $ a --\n-- exit x --\n")
	assert.Error(t, err)
	_, err = Parse("-- $ a --\n-- what --\n")
	assert.Error(t, err)
}
