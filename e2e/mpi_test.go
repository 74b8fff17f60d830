package e2e_test

import (
	"strings"
	"testing"

	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/testenv"
)

func TestMPIUnitOnAForkPilot(t *testing.T) {
	testenv.MPI(t)
	t.Parallel()
	s := newService(t)
	p := running(t, s, core.PilotDescription{ServiceURL: "fork://localhost", NumberOfProcesses: 2, WorkingDirectory: t.TempDir(),
		MPILauncher: strings.Fields(mpiLauncher)})
	runMPIUnit(t, p)
}
