package core_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/testenv"
)

// labelled sets a pilot description's affinity labels.
func labelled(dc, machine string) func(*core.PilotDescription) {
	return func(pd *core.PilotDescription) {
		pd.AffinityDatacenterLabel, pd.AffinityMachineLabel = dc, machine
	}
}

// newCentral returns a central data service over s, closed when the test
// ends.
func newCentral(t *testing.T, s *core.Service) *core.DataService {
	cds := core.NewCentralDataService()
	cds.AddService(s)
	t.Cleanup(cds.Close)
	return cds
}

// pilotOf is the id of the pilot that ran u.
func pilotOf(t *testing.T, u *core.Unit) string {
	d, err := u.Details(ctxT(t))
	require.NoError(t, err)
	return d["pilot"]
}

// gated is a unit that runs until the file gate exists.
func gated(gate string, labels ...string) core.UnitDescription {
	ud := core.UnitDescription{Executable: "/bin/sh", Arguments: []string{"-c", "'while [ ! -e " + gate + " ]; do sleep 0.01; done'"}}
	if len(labels) == 2 {
		ud.AffinityDatacenterLabel, ud.AffinityMachineLabel = labels[0], labels[1]
	}
	return ud
}

// The central data service places units on pilots whose affinity labels
// equal theirs, only where slots are free: a unit for a full pilot waits,
// held (and explain says so), rather than go to the other pilot, and runs
// there once a slot frees. Units without labels, or with labels no pilot
// has, go to any pilot.
func TestCentralPlacementByAffinityAndFreeSlots(t *testing.T) {
	url := testenv.RedisServer(t)
	ctx := ctxT(t)
	s := newService(t, url)
	a, _ := newPilot(t, s, 2, labelled("dc1", "ma"))
	b, _ := newPilot(t, s, 2, labelled("dc1", "mb"))
	cds := newCentral(t, s)

	gate := filepath.Join(t.TempDir(), "gate")
	var onA []*core.Unit
	for range 3 {
		u, err := cds.Submit(ctx, gated(gate, "dc1", "ma"))
		require.NoError(t, err)
		onA = append(onA, u)
	}
	waitForUnitState(t, onA[0], core.Running)
	waitForUnitState(t, onA[1], core.Running)
	for _, u := range onA[:2] {
		require.Equal(t, a.ID(), pilotOf(t, u))
	}
	// the third waits for pilot a, though b is idle
	e, err := onA[2].Explain(ctx)
	require.NoError(t, err)
	require.Equal(t, core.Unknown, e.State)
	require.Equal(t, "placement", e.Queue)
	require.Contains(t, e.Summary, "waits to be placed on a Running pilot with 1 free slots labelled")
	require.Contains(t, e.Summary, `affinity_machine_label="ma"`)
	require.Contains(t, e.Summary, "0 of 2 slots free")
	require.Equal(t, "", pilotOf(t, onA[2]), "not placed while pilot a is full")

	onB, err := cds.SubmitBulk(ctx, []core.UnitDescription{
		{Executable: "/bin/true", AffinityDatacenterLabel: "dc1", AffinityMachineLabel: "mb"},
		{Executable: "/bin/true", AffinityDatacenterLabel: "dc1", AffinityMachineLabel: "mb"},
	})
	require.NoError(t, err)
	anywhere, err := cds.SubmitBulk(ctx, []core.UnitDescription{
		{Executable: "/bin/true"},
		{Executable: "/bin/true", AffinityDatacenterLabel: "nowhere", AffinityMachineLabel: "none"},
	})
	require.NoError(t, err)
	for _, u := range append(onB, anywhere...) {
		st, d := waitUnit(t, u)
		require.Equal(t, core.Done, st, d["reason"])
	}
	for _, u := range onB {
		require.Equal(t, b.ID(), pilotOf(t, u))
	}
	for _, u := range anywhere {
		require.Equal(t, b.ID(), pilotOf(t, u), "pilot a is full: the unlabelled and unmatched units go to b")
	}
	require.Equal(t, "", pilotOf(t, onA[2]), "still held while pilot a is full")

	require.NoError(t, os.WriteFile(gate, nil, 0o644))
	require.NoError(t, cds.Wait(ctx))
	for _, u := range onA {
		st, d := waitUnit(t, u)
		require.Equal(t, core.Done, st, d["reason"])
		require.Equal(t, a.ID(), pilotOf(t, u))
	}
}

// A unit of the central data service waits, held, until its input data
// unit is Running (explain names the data unit), then goes to the pilot
// with the labels of the Pilot-Data that holds its data; a failed input
// fails the unit with the data unit's reason.
func TestCentralUnitsWaitForInputData(t *testing.T) {
	url := testenv.RedisServer(t)
	ctx := ctxT(t)
	s := newService(t, url)
	newPilot(t, s, 2, labelled("dc1", "ma"))
	b, _ := newPilot(t, s, 2, labelled("dc2", "mb"))
	cds := newCentral(t, s)
	pds := newPilotDataService(t, url)
	pd, err := pds.CreatePilotData(ctx, core.PilotDataDescription{ServiceURL: "file://" + t.TempDir(),
		AffinityDatacenterLabel: "dc2", AffinityMachineLabel: "mb"})
	require.NoError(t, err)
	in, err := pd.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: []string{writeFile(t, t.TempDir(), "in.txt", "placed by data\n")}})
	require.NoError(t, err)
	require.NoError(t, core.SetDataUnitState(ctx, in, core.Pending, "")) // as while its files are copied

	u, err := cds.Submit(ctx, core.UnitDescription{Executable: "/bin/cat", Arguments: []string{"in.txt"}, InputData: []string{in.URL()}})
	require.NoError(t, err)
	e, err := u.Explain(ctx)
	require.NoError(t, err)
	require.Equal(t, "placement", e.Queue)
	require.Contains(t, e.Summary, "waits for its input data before it is placed: data unit "+in.URL()+" (Pending)")
	require.Equal(t, "", pilotOf(t, u))

	require.NoError(t, core.SetDataUnitState(ctx, in, core.Running, ""))
	st, d := waitUnit(t, u)
	require.Equal(t, core.Done, st, d["reason"])
	require.Equal(t, b.ID(), pilotOf(t, u), "the pilot labelled as the data's Pilot-Data")
	sandbox, err := u.Sandbox(ctx)
	require.NoError(t, err)
	out, err := os.ReadFile(filepath.Join(sandbox, "stdout"))
	require.NoError(t, err)
	require.Equal(t, "placed by data\n", string(out))

	bad, err := pd.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: []string{writeFile(t, t.TempDir(), "bad.txt", "x")}})
	require.NoError(t, err)
	require.NoError(t, core.SetDataUnitState(ctx, bad, core.Failed, "the disk went away"))
	lost, err := cds.Submit(ctx, core.UnitDescription{Executable: "/bin/true", InputData: []string{bad.URL()}})
	require.NoError(t, err)
	st, d = waitUnit(t, lost)
	require.Equal(t, core.Failed, st)
	require.Contains(t, d["reason"], "input data unit "+bad.URL()+" failed: the disk went away")
	require.NoError(t, cds.Wait(ctx))
}

// Held units are canceled by a unit cancel and by their service's cancel;
// with no pilot, explain says to create one, and waits say no pilot is left
// to run them rather than hang.
func TestCentralHeldUnitsCancel(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := ctxT(t)
		s := newService(t, url)
		cds := newCentral(t, s)
		one, err := cds.Submit(ctx, core.UnitDescription{Executable: "/bin/true"})
		require.NoError(t, err)
		two, err := cds.Enqueue(core.UnitDescription{Executable: "/bin/true"})
		require.NoError(t, err)
		e, err := one.Explain(ctx)
		require.NoError(t, err)
		require.Contains(t, e.Summary, "the service has no live pilot: create one")
		wctx, cancel := context.WithTimeout(ctx, bound)
		defer cancel()
		require.ErrorIs(t, cds.Wait(wctx), core.ErrNoPilots)

		require.NoError(t, one.Cancel(ctx))
		st, err := one.State(ctx)
		require.NoError(t, err)
		require.Equal(t, core.Canceled, st)
		require.NoError(t, s.Cancel(ctx))
		st, err = two.Wait(ctx)
		require.NoError(t, err)
		require.Equal(t, core.Canceled, st)
		_, err = cds.Submit(ctx, core.UnitDescription{Executable: "/bin/true"})
		require.ErrorContains(t, err, "the pilot compute service was canceled")
	})
}
