package batch

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/adaptors"
	"github.com/bigjob-go/bigjob/runner"
)

func TestDirectiveArg(t *testing.T) {
	for _, c := range []struct {
		value   string
		escapes bool
		want    string
	}{
		{"debug", false, "debug"},
		{"/home/a/out.txt", true, "/home/a/out.txt"},
		{"TG-MCB090174", false, "TG-MCB090174"},
		{"long queue", false, `"long queue"`},
		{"it's", true, `"it's"`},
		{`say "hi"`, true, `"say \"hi\""`},
		{`a\b`, true, `"a\\b"`},
		{"", false, `""`},
	} {
		got, err := DirectiveArg("x", "queue", c.value, "", "a line", c.escapes)
		require.NoError(t, err, c.value)
		assert.Equal(t, c.want, got, c.value)
	}
	for _, c := range []struct {
		value, reject string
		escapes       bool
	}{
		{"a\nb", "", true},
		{"a\rb", "", true},
		{"a\x00b", "", true},
		{`say "hi"`, "", false},
		{`a\b`, "", false},
		{"a:b", ":", true},
	} {
		_, err := DirectiveArg("x", "queue", c.value, c.reject, "a line", c.escapes)
		var ve *ValueError
		require.ErrorAs(t, err, &ve, "%q", c.value)
		assert.Equal(t, "queue", ve.Key)
		assert.Contains(t, err.Error(), "queue")
		assert.Contains(t, err.Error(), "a line")
	}
}

func TestJobName(t *testing.T) {
	assert.Equal(t, "bj-0a1b2c3d", JobName("bj-0a1b2c3d", 15))
	assert.Equal(t, "j7-day_run", JobName("7-day run", 0))
	assert.Equal(t, "j", JobName("", 0))
	assert.Equal(t, "a_b_c", JobName("a/b:c", 0))
	assert.Equal(t, "bj-0a1b2c3d-wit", JobName("bj-0a1b2c3d-with-more", 15))
}

func TestShellScript(t *testing.T) {
	j := Job{Dir: "/home/a b", Agent: "/bin/agent", CoordinationFile: "/c"}
	got := ShellScript("#X", []string{"-a 1", "-b 2"}, j)
	assert.Equal(t, "#!/bin/bash\n#X -a 1\n#X -b 2\n\ncd '/home/a b' || exit 1\nexec /bin/agent -coordination-file /c\n", got)
}

func TestUnparsableQuotesAtMost200Bytes(t *testing.T) {
	err := Unparsable("sge", "qstat -xml", []byte("  "+strings.Repeat("x", 300)+"\n"))
	var oe *OutputError
	require.ErrorAs(t, err, &oe)
	assert.Equal(t, strings.Repeat("x", 200)+"...", oe.Output)
	assert.Contains(t, err.Error(), `sge command "qstat -xml"`)
}

func TestSaysAndExitedWith(t *testing.T) {
	ce := &runner.CommandError{ExitCode: 1, Stdout: `denied: job "42" does not exist`}
	wrapped := errors.Join(errors.New("context"), ce)
	assert.True(t, Says(wrapped, "DOES NOT EXIST"))
	assert.False(t, Says(wrapped, "Unknown Job Id"))
	assert.False(t, Says(errors.New("does not exist"), "does not exist"), "not a command failure")
	assert.True(t, ExitedWith(ce, 153, 1))
	assert.False(t, ExitedWith(ce, 153))
	assert.Nil(t, Failure(errors.New("no")))
}

type fixedState struct {
	System
	st  adaptors.Status
	err error
}

func (f fixedState) State(context.Context, Exec, string) (adaptors.Status, error) { return f.st, f.err }

func TestConfirmEnded(t *testing.T) {
	cancelErr := errors.New("qdel failed")
	ended := fixedState{st: adaptors.Status{State: adaptors.JobEnded}}
	running := fixedState{st: adaptors.Status{State: adaptors.JobRunning}}
	broken := fixedState{err: errors.New("qstat failed")}
	assert.NoError(t, ConfirmEnded(context.Background(), ended, nil, "1", cancelErr))
	assert.Equal(t, cancelErr, ConfirmEnded(context.Background(), running, nil, "1", cancelErr))
	assert.Equal(t, cancelErr, ConfirmEnded(context.Background(), broken, nil, "1", cancelErr))
}
