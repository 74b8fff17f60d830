package core_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/bigjob-go/bigjob/core"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// The seed example's workload: four echo units through a DataService.
func TestSeedWorkload(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		s := newService(t, url)
		_, dir := newPilot(t, s, 1)
		cds := core.NewDataService()
		cds.AddService(s)
		for i := range 4 {
			_, err := cds.Submit(ctxT(t), core.UnitDescription{
				Executable:  "/bin/echo",
				Arguments:   []string{"Hello", "$ENV1", fmt.Sprintf("I am CU number %d", i)},
				Environment: []core.EnvVar{{Name: "ENV1", Value: "World"}},
				Output:      "stdout.txt", Error: "stderr.txt",
			})
			require.NoError(t, err)
		}
		require.NoError(t, cds.Wait(ctxT(t)))
		out, _ := filepath.Glob(filepath.Join(dir, "bj-*", "sj-*", "stdout.txt"))
		require.Len(t, out, 4)
		var lines []string
		for _, f := range out {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			lines = append(lines, string(b))
		}
		sort.Strings(lines)
		for i, l := range lines {
			require.Equal(t, fmt.Sprintf("Hello World I am CU number %d\n", i), l)
		}
		// the agent logs land beside the pilot sandbox
		require.FileExists(t, filepath.Join(dir, "stdout-"+s.Pilots()[0].ID()+"-agent.txt"))
		require.FileExists(t, filepath.Join(dir, "stderr-"+s.Pilots()[0].ID()+"-agent.txt"))
	})
}

func TestEnvironmentAndExpansion(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		s := newService(t, url)
		p, _ := newPilot(t, s, 2)
		list, err := core.ParseUnitDescription(map[string]any{
			"executable":  "/bin/echo",
			"arguments":   []any{"$HELLOWORLD", "${TASK_NO}x", "$HOME"},
			"environment": []any{"HELLOWORLD=hello_world", "TASK_NO=4"},
		})
		require.NoError(t, err)
		dict, err := core.ParseUnitDescription(map[string]any{
			"executable":  "/bin/echo",
			"arguments":   []any{"I am task number $TASK_NO", "[$SPACED]"},
			"environment": map[string]any{"TASK_NO": 7, "SPACED": "a  b"},
		})
		require.NoError(t, err)
		us, err := p.SubmitBulk(ctxT(t), []core.UnitDescription{list, dict})
		require.NoError(t, err)
		d := collect(t, us)
		home, _ := os.UserHomeDir()
		require.Equal(t, "hello_world 4x "+home+"\n", readFile(t, d[0]["sandbox"], "stdout"))
		// unquoted arguments split into words, as bash does
		require.Equal(t, "I am task number 7 [a b]\n", readFile(t, d[1]["sandbox"], "stdout"))
	})
}

func readFile(t *testing.T, parts ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(parts...))
	require.NoError(t, err)
	return string(b)
}

func TestOutputFiles(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		s := newService(t, url)
		p, dir := newPilot(t, s, 1)
		abs := filepath.Join(t.TempDir(), "abs-out.txt")
		us, err := p.SubmitBulk(ctxT(t), []core.UnitDescription{
			// defaults: stdout and stderr in the unit sandbox
			{Executable: "/bin/sh", Arguments: []string{"-c", "'echo out; echo err >&2'"}},
			// absolute paths are honoured
			{Executable: "/bin/echo", Arguments: []string{"absolute"}, Output: abs, Error: "e.txt"},
			// an explicit working directory, relative to the pilot sandbox
			{Executable: "/bin/pwd", WorkingDirectory: "shared", Output: "pwd.txt"},
		})
		require.NoError(t, err)
		d := collect(t, us)
		sj := filepath.Join(dir, p.ID(), "sj-"+strings.TrimPrefix(us[0].ID(), "cu-"))
		require.Equal(t, sj, d[0]["sandbox"])
		require.Equal(t, "out\n", readFile(t, sj, "stdout"))
		require.Equal(t, "err\n", readFile(t, sj, "stderr"))
		require.Equal(t, "absolute\n", readFile(t, abs))
		require.FileExists(t, filepath.Join(d[1]["sandbox"], "e.txt"))
		require.NoFileExists(t, filepath.Join(d[1]["sandbox"], "stdout"))
		shared := filepath.Join(dir, p.ID(), "shared")
		require.Equal(t, shared+"\n", readFile(t, shared, "pwd.txt"))
		sb, err := us[0].Sandbox(ctxT(t))
		require.NoError(t, err)
		require.Equal(t, sj, sb)
	})
}

func TestExitCodes(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		s := newService(t, url)
		p, _ := newPilot(t, s, 2)
		us, err := p.SubmitBulk(ctxT(t), []core.UnitDescription{
			{Executable: "/bin/sh", Arguments: []string{"-c", "'echo about to fail >&2; exit 3'"}},
			{Executable: "/bin/true"},
			{Executable: "/bin/sh", Arguments: []string{"-c", "'exit 255'"}},
			{Executable: "/bin/sh", Arguments: []string{"-c", "'kill -SEGV $$'"}},
		})
		require.NoError(t, err)
		d := collect(t, us)
		require.Equal(t, "Failed", d[0]["state"])
		require.Equal(t, "3", d[0]["exit_code"])
		require.Contains(t, d[0]["reason"], "exit code 3")
		require.Contains(t, d[0]["reason"], "about to fail", "the reason carries the end of stderr")
		require.Equal(t, "Done", d[1]["state"])
		require.Equal(t, "0", d[1]["exit_code"])
		require.Equal(t, "Failed", d[2]["state"], "255 is a failure (BigJob counted it as success)")
		require.Equal(t, "255", d[2]["exit_code"])
		require.Equal(t, "Failed", d[3]["state"])
		require.Equal(t, "139", d[3]["exit_code"])
		require.Contains(t, d[3]["reason"], "SIGSEGV")
		for _, k := range []string{"start_time", "end_queue_time", "agent_start_time", "end_time", "run_host"} {
			require.NotEmpty(t, d[1][k], k)
		}
		require.Equal(t, "/bin/true", d[1]["Executable"])
		require.Equal(t, "1", d[1]["NumberOfProcesses"])
	})
}

func TestMissingExecutable(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		s := newService(t, url)
		p, _ := newPilot(t, s, 1)
		for _, exe := range []string{"/nonexistent/program", "no-such-program-anywhere"} {
			u, err := p.Submit(ctxT(t), core.UnitDescription{Executable: exe})
			require.NoError(t, err)
			st, d := waitUnit(t, u)
			require.Equal(t, core.Failed, st)
			require.Equal(t, "127", d["exit_code"])
			require.Contains(t, d["reason"], "command not found")
			require.Contains(t, d["reason"], exe)
		}
	})
}

func TestUnitLargerThanPilot(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		s := newService(t, url)
		p, _ := newPilot(t, s, 2)
		_, err := p.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/true", NumberOfProcesses: 3})
		var de *core.DescriptionError
		require.ErrorAs(t, err, &de)
		require.Equal(t, "number_of_processes", de.Key)
		require.Contains(t, err.Error(), "needs 3 slots but pilot "+p.Name()+" has only 2")
		_, err = s.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/true", NumberOfProcesses: 5})
		require.ErrorAs(t, err, &de)
		require.Contains(t, err.Error(), "largest live pilot of the service has only 2")
		// a unit that fits runs
		u, err := p.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/true", NumberOfProcesses: 2})
		require.NoError(t, err)
		st, _ := waitUnit(t, u)
		require.Equal(t, core.Done, st)
	})
}

// Units queued on the service before any pilot runs are taken by whichever
// pilot has room (late binding), and both pilots take part.
func TestTwoPilotsShareServiceQueue(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		s := newService(t, url)
		var uds []core.UnitDescription
		for range 8 {
			uds = append(uds, core.UnitDescription{Executable: "/bin/sleep", Arguments: []string{"0.3"}})
		}
		us, err := s.SubmitBulk(ctxT(t), uds)
		require.NoError(t, err, "the service queue accepts units before any pilot exists")
		p1, _ := newPilot(t, s, 1)
		p2, _ := newPilot(t, s, 1)
		d := collect(t, us)
		ran := map[string]int{}
		for _, x := range d {
			require.Equal(t, "Done", x["state"])
			ran[x["pilot"]]++
		}
		require.Greater(t, ran[p1.ID()], 0, "pilot 1 ran none: %v", ran)
		require.Greater(t, ran[p2.ID()], 0, "pilot 2 ran none: %v", ran)
		require.Equal(t, 8, ran[p1.ID()]+ran[p2.ID()])
		require.True(t, strings.Contains(us[0].URL(), "/PilotComputeServiceQueue-"+s.ID()+":jobs:sj-"), us[0].URL())
	})
}

// A unit that needs every slot is not overtaken by small units submitted
// after it.
func TestLargeUnitIsNotStarved(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		s := newService(t, url)
		p, _ := newPilot(t, s, 2)
		small := core.UnitDescription{Executable: "/bin/sleep", Arguments: []string{"0.2"}}
		var uds []core.UnitDescription
		for range 3 {
			uds = append(uds, small)
		}
		uds = append(uds, core.UnitDescription{Executable: "/bin/sleep", Arguments: []string{"0.2"}, NumberOfProcesses: 2})
		for range 6 {
			uds = append(uds, small)
		}
		us, err := p.SubmitBulk(ctxT(t), uds)
		require.NoError(t, err)
		d := collect(t, us)
		big := d[3]
		require.Equal(t, "Done", big["state"])
		for i, x := range d[4:] {
			require.GreaterOrEqual(t, x["agent_start_time"], big["end_time"],
				"small unit %d (submitted after the big one) started before the big one ended", i+4)
		}
	})
}

func TestUnitCancelKillsItsProcesses(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		p, u, queued, m := busyPilot(t, url)
		require.Eventually(t, func() bool { return len(processesWith(m)) >= 3 }, bound, 20e6)

		require.NoError(t, queued.Cancel(ctxT(t)))
		require.NoError(t, u.Cancel(ctxT(t)))
		st, d := waitUnit(t, u)
		require.Equal(t, core.Canceled, st)
		require.Equal(t, "canceled by the user", d["reason"])
		require.Empty(t, processesWith(m), "unit processes left after cancel")
		st, _ = waitUnit(t, queued)
		require.Equal(t, core.Canceled, st)
		// canceling a final unit is a no-op; the pilot goes on
		require.NoError(t, u.Cancel(ctxT(t)))
		next, err := p.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/true"})
		require.NoError(t, err)
		st, _ = waitUnit(t, next)
		require.Equal(t, core.Done, st)
	})
}

func TestPilotCancelLeavesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		s := newService(t, url)
		p, _ := newPilot(t, s, 2)
		m := marker(t)
		us, err := p.SubmitBulk(ctxT(t), sleepers(m, 4))
		require.NoError(t, err)
		waitForUnitState(t, us[0], core.Running)
		waitForUnitState(t, us[1], core.Running)
		agent := agentPID(t, p)

		require.NoError(t, p.Cancel(ctxT(t)))
		st, err := p.State(ctxT(t))
		require.NoError(t, err)
		require.Equal(t, core.Done, st)
		for _, u := range us {
			st, _ := waitUnit(t, u)
			require.Equal(t, core.Canceled, st)
		}
		require.Empty(t, processesWith(m), "unit processes left after pilot cancel")
		require.NoDirExists(t, fmt.Sprintf("/proc/%d/fd", agent), "agent process left after pilot cancel")
		require.NoError(t, p.Wait(ctxT(t)), "the barrier returns on a canceled pilot")
		_, err = p.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/true"})
		require.ErrorContains(t, err, "the pilot is Done")
	})
}

// A fork pilot's agent outlives the call that started it, so neither it nor
// its units may hold an inheritable pipe of the caller open (Python 2's
// pipes are inheritable): a reader at the other end would wait for EOF for
// as long as the pilot runs.
func TestAgentHoldsNoPipeOfItsStarter(t *testing.T) {
	s := newService(t, testenvRedis(t))
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	_, err = unix.FcntlInt(w.Fd(), unix.F_SETFD, 0) // inheritable
	require.NoError(t, err)
	p, _ := newPilot(t, s, 1)
	u, err := p.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/sleep", Arguments: []string{"60"}})
	require.NoError(t, err)
	waitForUnitState(t, u, core.Running)
	w.Close()

	eof := make(chan error, 1)
	go func() { _, err := r.Read(make([]byte, 1)); eof <- err }()
	select {
	case err := <-eof:
		require.ErrorIs(t, err, io.EOF, "no process of the pilot holds the pipe")
	case <-time.After(10 * time.Second):
		t.Fatal("the pilot's agent or unit holds its starter's pipe open")
	}
}

func TestAgentKilledMeansPilotFailed(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		p, running, queued, m := busyPilot(t, url)
		killAgent(t, p)
		st, err := p.WaitState(ctxT(t)) // returns at a final state
		require.NoError(t, err)
		require.Equal(t, core.Failed, st)
		d, err := p.Details(ctxT(t))
		require.NoError(t, err)
		require.Contains(t, d["reason"], "agent exited")
		for _, u := range []*core.Unit{running, queued} {
			st, d := waitUnit(t, u)
			require.Equal(t, core.Failed, st, "waits on the units return")
			require.Contains(t, d["reason"], "failed")
		}
		err = p.Wait(ctxT(t))
		require.ErrorIs(t, err, core.ErrNoPilots, "the barrier says that the pilot lost its units")
		require.ErrorContains(t, err, "failed with 2 units it had not finished")
		require.Eventually(t, func() bool { return len(processesWith(m)) == 0 }, bound, 50e6,
			"the dead agent's unit processes are removed")
	})
}

// A second process (here: a second Service object with its own monitor)
// that never saw the agent start still notices that it died.
func TestDeadAgentSeenFromElsewhere(t *testing.T) {
	url := testenvRedis(t)
	s := newService(t, url)
	p, _ := newPilot(t, s, 1)
	s.Close() // the creating process stops watching

	other, err := core.OpenPilot(ctxT(t), p.URL(), testOptions(t, url))
	require.NoError(t, err)
	defer other.Close()
	killAgent(t, other)
	st, err := other.WaitState(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, core.Failed, st)
}

func TestReconnectByURL(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		s := newService(t, url)
		p, _ := newPilot(t, s, 1)
		u, err := p.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/echo", Arguments: []string{"again"}})
		require.NoError(t, err)
		waitUnit(t, u)
		su, err := s.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/true"})
		require.NoError(t, err)
		waitUnit(t, su)

		require.True(t, strings.HasPrefix(p.URL(), url+"/bigjob:bj-"), p.URL())
		require.True(t, strings.HasSuffix(p.URL(), ":localhost"))
		rp, err := core.OpenPilot(ctxT(t), p.URL(), testOptions(t, url))
		require.NoError(t, err)
		defer rp.Close()
		require.Equal(t, p.ID(), rp.ID())
		st, err := rp.State(ctxT(t))
		require.NoError(t, err)
		require.Equal(t, core.Running, st)
		d, err := rp.Details(ctxT(t))
		require.NoError(t, err)
		require.Equal(t, p.Name(), d["bigjob_id"])
		for _, k := range []string{"state", "stopped", "start_time", "end_queue_time", "last_contact", "description"} {
			require.NotEmpty(t, d[k], k)
		}
		units, err := rp.Units(ctxT(t))
		require.NoError(t, err)
		require.Len(t, units, 2, "the unit submitted to the pilot and the one it took from the service queue")
		require.Equal(t, u.URL(), units[0].URL())
		require.Equal(t, su.URL(), units[1].URL(), "a service-queue unit keeps its URL")

		require.Equal(t, p.URL()+":jobs:sj-"+strings.TrimPrefix(u.ID(), "cu-"), u.URL())
		for _, x := range []*core.Unit{u, su} {
			ru, err := core.OpenUnit(ctxT(t), x.URL(), testOptions(t, url))
			require.NoError(t, err)
			st, err := ru.Wait(ctxT(t))
			require.NoError(t, err)
			require.Equal(t, core.Done, st)
			require.Equal(t, x.ID(), ru.ID())
			ru.Close()
		}
		_, err = core.OpenPilot(ctxT(t), url+"/bigjob:bj-00000000-0000-0000-0000-000000000000:localhost", testOptions(t, url))
		require.ErrorIs(t, err, core.ErrNotFound)
		_, err = core.OpenUnit(ctxT(t), url+"/nonsense", testOptions(t, url))
		require.ErrorContains(t, err, "expected <pilot or queue>:jobs:sj-<uuid>")
	})
}

func TestNoExecMode(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		s := newService(t, url)
		p, dir := newPilot(t, s, 2, func(pd *core.PilotDescription) { pd.NoExec = true })
		var uds []core.UnitDescription
		for range 500 {
			uds = append(uds, core.UnitDescription{Executable: "/nonexistent"})
		}
		us, err := p.SubmitBulk(ctxT(t), uds)
		require.NoError(t, err)
		require.NoError(t, p.Wait(ctxT(t)))
		for _, x := range collect(t, us[:5]) {
			require.Equal(t, "Done", x["state"])
			require.Equal(t, "0", x["exit_code"])
		}
		sj, _ := filepath.Glob(filepath.Join(dir, p.ID(), "sj-*"))
		require.Empty(t, sj, "no-exec mode starts nothing")
	})
}

func TestPilotWaitIsABarrier(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		s := newService(t, url)
		p, _ := newPilot(t, s, 2)
		require.NoError(t, p.Wait(ctxT(t)), "no units: returns at once")
		var uds []core.UnitDescription
		for range 4 {
			uds = append(uds, core.UnitDescription{Executable: "/bin/sleep", Arguments: []string{"0.2"}})
		}
		us, err := p.SubmitBulk(ctxT(t), uds)
		require.NoError(t, err)
		require.NoError(t, p.Wait(ctxT(t)))
		for _, u := range us {
			st, err := u.State(ctxT(t))
			require.NoError(t, err)
			require.Equal(t, core.Done, st)
		}
	})
}

func TestDataServiceWaitWithoutPilots(t *testing.T) {
	url := testenvRedis(t)
	s := newService(t, url)
	cds := core.NewDataService()
	_, err := cds.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/true"})
	require.ErrorContains(t, err, "no pilot compute service attached")
	cds.AddService(s)
	_, err = cds.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/true"})
	require.NoError(t, err)
	err = cds.Wait(ctxT(t))
	require.True(t, errors.Is(err, core.ErrNoPilots), "got %v", err)
}

func TestServiceCancel(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		s := newService(t, url)
		m := marker(t)
		p1, _ := newPilot(t, s, 1)
		p2, _ := newPilot(t, s, 1)
		us, err := s.SubmitBulk(ctxT(t), sleepers(m, 4))
		require.NoError(t, err)
		require.Eventually(t, func() bool { return len(processesWith(m)) >= 6 }, bound, 20e6)
		require.NoError(t, s.Cancel(ctxT(t)))
		for _, p := range []*core.Pilot{p1, p2} {
			st, err := p.State(ctxT(t))
			require.NoError(t, err)
			require.Equal(t, core.Done, st)
		}
		for _, u := range us {
			st, _ := waitUnit(t, u)
			require.Equal(t, core.Canceled, st)
		}
		require.Empty(t, processesWith(m))
		_, err = s.Submit(ctxT(t), core.UnitDescription{Executable: "/bin/true"})
		require.ErrorContains(t, err, "canceled")
	})
}

// A wait whose context has already ended still looks once.
func TestWaitWithEndedContextLooks(t *testing.T) {
	url := testenvRedis(t)
	p, running, queued, _ := busyPilot(t, url)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	st, err := running.Wait(ended)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, core.Running, st)
	st, err = p.WaitState(ended, core.Running)
	require.NoError(t, err)
	require.Equal(t, core.Running, st)
	require.ErrorIs(t, p.Wait(ended), context.Canceled)

	require.NoError(t, running.Cancel(ctxT(t)))
	waitUnit(t, queued)
	st, err = running.Wait(ended)
	require.NoError(t, err, "a final unit is reported whatever the context")
	require.Equal(t, core.Canceled, st)
	require.NoError(t, p.Wait(ended))
}

func TestFreeSlotsCountsRunningUnits(t *testing.T) {
	url := testenvRedis(t)
	s := newService(t, url)
	p, _ := newPilot(t, s, 2)
	m := marker(t)
	us, err := p.SubmitBulk(ctxT(t), sleepers(m, 5))
	require.NoError(t, err)
	waitForUnitState(t, us[0], core.Running)
	waitForUnitState(t, us[1], core.Running)
	free, err := p.FreeSlots(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, 0, free, "two running units fill the pilot; queued ones do not count")
	require.NoError(t, p.Cancel(ctxT(t)))
	free, err = p.FreeSlots(ctxT(t))
	require.NoError(t, err)
	require.Equal(t, 2, free)
}
