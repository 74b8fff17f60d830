package agent

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/core"
	"github.com/stretchr/testify/require"
)

// With no managing process anywhere, a running agent ends a peer pilot whose
// agent died (Running, heartbeat stopped): the service unit the dead agent
// had started goes back to the service queue and runs here (its second
// attempt), the dead pilot's own unit fails naming it. A peer that keeps
// beating is left alone.
func TestDeadPeerIsReaped(t *testing.T) {
	h := prepareHarness(t, core.PilotDescription{ServiceURL: "fork://localhost", NumberOfProcesses: 1}, nil)
	ctx := context.Background()
	peer := func(id string) {
		require.NoError(t, h.store.CreatePilot(ctx, h.keys, id, coord.PilotName(id, "elsewhere"), 1, map[string]string{}))
		require.NoError(t, h.store.PilotRunning(ctx, h.keys, id, map[string]string{"run_host": "elsewhere"}))
	}
	peer("bj-dead")
	peer("bj-alive")
	h.submitService("cu-svc", core.UnitDescription{Executable: "/bin/true"})
	h.submitTo("bj-dead", "cu-bound", core.UnitDescription{Executable: "/bin/true"})
	entries, err := h.store.ReadQueues(ctx, h.keys, "bj-dead", true, true, 10, 100*time.Millisecond)
	require.NoError(t, err)
	claimed, err := h.store.Claim(ctx, h.keys, "bj-dead", "t1", coord.Want{}, entries)
	require.NoError(t, err)
	require.Len(t, claimed, 2)
	require.NoError(t, h.store.Update(ctx, h.keys, "bj-dead", []coord.Update{
		{UnitID: "cu-svc", State: "Running"}, {UnitID: "cu-bound", State: "Running"}}))

	stop := make(chan struct{})
	var beating sync.WaitGroup
	beating.Add(1)
	go func() { // bj-alive's agent
		defer beating.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				h.store.Heartbeat(ctx, h.keys, "bj-alive")
			}
		}
	}()
	defer func() { close(stop); beating.Wait() }()

	h.start(Config{peerMargin: time.Millisecond})
	require.Equal(t, "Done", h.waitFinal("cu-svc"))
	require.Equal(t, h.id, h.field("cu-svc", "pilot"), "the unit ran on the live agent")
	require.Equal(t, "2", h.field("cu-svc", coord.FieldAttempt))
	require.Contains(t, h.field("cu-svc", "lost_reason"), "no heartbeat from its agent")
	require.Equal(t, "Failed", h.waitFinal("cu-bound"))
	require.Contains(t, h.field("cu-bound", "reason"), "pilot bigjob:bj-dead:elsewhere failed: no heartbeat from its agent")
	require.Equal(t, "Failed", h.field("bj-dead", "state"))
	require.Contains(t, h.field("bj-dead", "reason"), "noticed by the agent of pilot "+h.id)
	require.Equal(t, "Running", h.field("bj-alive", "state"), "a peer that beats is alive")
}
