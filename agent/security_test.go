package agent

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/core"
	"github.com/stretchr/testify/require"
)

// A unit written straight into the store, without the service's key or with
// another key, is refused and reported; its command never runs. A signed
// unit beside it runs.
func TestUnsignedUnitIsRefused(t *testing.T) {
	h := newHarness(t, 1, Config{})
	marker := filepath.Join(t.TempDir(), "ran")
	desc := h.encode(core.UnitDescription{Executable: "/usr/bin/touch", Arguments: []string{marker}})
	other, err := coord.NewKey()
	require.NoError(t, err)

	h.submitSigned("cu-unsigned", 1, desc, "")
	h.submitSigned("cu-otherkey", 1, desc, other.Sign(coord.SignUnit, "cu-otherkey", desc))
	h.submitSigned("cu-moved", 1, desc, h.key.Sign(coord.SignUnit, "cu-elsewhere", desc)) // a signature copied from another unit
	h.submit("cu-fine", core.UnitDescription{Executable: "/bin/true"})
	for _, id := range []string{"cu-unsigned", "cu-otherkey", "cu-moved"} {
		require.Equal(t, "Failed", h.waitFinal(id), id)
		require.Contains(t, h.field(id, "reason"), "does not carry the service's signature", id)
	}
	require.Equal(t, "Done", h.waitFinal("cu-fine"))
	_, err = os.Stat(marker)
	require.True(t, os.IsNotExist(err), "a refused unit ran: %v", err)
}

// A pilot record whose description was not signed with the service's key
// (written or changed by someone else) makes the agent refuse to start.
func TestForgedPilotIsRefused(t *testing.T) {
	forger, err := coord.NewKey()
	require.NoError(t, err)
	pd := core.PilotDescription{ServiceURL: "fork://localhost", NumberOfProcesses: 1, MPILauncher: []string{"/tmp/evil"}}
	h := newHarnessFor(t, pd, Config{Key: forger})
	require.Equal(t, "Failed", h.field(h.id, "state"))
	require.Contains(t, h.field(h.id, "reason"), "does not carry the service's signature")
	require.ErrorContains(t, <-h.done, "refused")
	h.done <- nil
}

// At its walltime the agent kills a running service unit and leaves it to
// be given back to the service queue for another pilot (one attempt
// counted), instead of failing it.
func TestWalltimeGivesServiceUnitsBack(t *testing.T) {
	h := newHarness(t, 1, Config{Walltime: 2 * time.Second, KillGrace: 100 * time.Millisecond})
	h.submitService("cu-svc", core.UnitDescription{Executable: "/bin/sleep", Arguments: []string{"300"}})
	select {
	case err := <-h.done:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("the agent did not stop at its walltime")
	}
	h.done <- nil
	require.Equal(t, "Unknown", h.field("cu-svc", "state"))
	require.Equal(t, "", h.field("cu-svc", "pilot"))
	require.Equal(t, "1", h.field("cu-svc", coord.FieldAttempt))
	require.Contains(t, h.field("cu-svc", "lost_reason"), "walltime")
}
