// Command hello runs the workload of the seed example (examples/example.py)
// through the Go API: one fork pilot with one process, four /bin/echo units
// with an environment variable expanded in their arguments, wait, cancel.
//
// With no Redis on localhost:6379 it runs on your lasting local coordination
// store (and says so on stderr). The outputs land in $HOME/agent/bj-*/sj-*/stdout.txt.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/bigjob-go/bigjob/core"

	// the adaptors (fork:// here) and the in-process fallback store: a
	// program chooses what it links by importing it
	_ "github.com/bigjob-go/bigjob/adaptors/builtin"
	_ "github.com/bigjob-go/bigjob/coord/embedded"
)

const numberJobs = 4

func main() {
	if err := run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	pcs, err := core.NewService(ctx, core.Options{CoordinationURL: "redis://localhost:6379"})
	if err != nil {
		return err
	}
	defer pcs.Close()
	home, _ := os.UserHomeDir()
	if _, err := pcs.CreatePilot(ctx, core.PilotDescription{
		ServiceURL:        "fork://localhost",
		NumberOfProcesses: 1,
		WorkingDirectory:  filepath.Join(home, "agent"),
		Walltime:          10,
	}); err != nil {
		return err
	}
	cds := core.NewDataService()
	cds.AddService(pcs)

	fmt.Println("Finished Pilot-Job setup. Submitting compute units")
	for i := range numberJobs {
		if _, err := cds.Submit(ctx, core.UnitDescription{
			Executable:        "/bin/echo",
			Arguments:         []string{"Hello", "$ENV1", "I am CU number " + strconv.Itoa(i)},
			Environment:       []core.EnvVar{{Name: "ENV1", Value: "World"}},
			NumberOfProcesses: 1,
			SPMDVariation:     "single",
			Output:            "stdout.txt",
			Error:             "stderr.txt",
		}); err != nil {
			return err
		}
	}

	fmt.Println("Waiting for compute units to complete")
	if err := cds.Wait(ctx); err != nil {
		return err
	}

	fmt.Println("Terminate Pilot Jobs")
	return pcs.Cancel(ctx)
}
