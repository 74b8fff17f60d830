// Command data runs the Pilot-Data pattern of examples/scripts/pilot_data.py
// through the Go API: a Pilot-Data in a directory (file://), an input data
// unit made from a local file, an empty output data unit, one fork pilot, a
// /bin/cat unit that reads the input data unit (input_data) and leaves its
// stdout and stderr in the output data unit (output_data: [{du_url:
// ["std*"]}]), the output exported into a directory, the input replicated
// into a second Pilot-Data, cancel. examples/c/data.c does the same from C.
//
// The coordination store is redis://localhost:6379, or $PILOT_COORDINATION_URL
// if set; with no Redis on localhost it runs on your lasting local
// coordination store (and says so on stderr). Everything it writes is in a
// fresh directory under $TMPDIR (or /tmp), removed at the end.
package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/bigjob-go/bigjob/core"

	// the adaptors (fork:// here) and the in-process fallback store: a
	// program chooses what it links by importing it
	_ "github.com/bigjob-go/bigjob/adaptors/builtin"
	_ "github.com/bigjob-go/bigjob/coord/embedded"
)

const input = "Hello World!\n"

func main() {
	url := cmp.Or(os.Getenv("PILOT_COORDINATION_URL"), "redis://localhost:6379")
	if err := run(context.Background(), url, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "data:", err)
		os.Exit(1)
	}
}

// run runs the example on the coordination store at url in a fresh
// directory, which it removes, printing one line per step to out.
func run(ctx context.Context, url string, out io.Writer) (err error) {
	dir, err := os.MkdirTemp("", "pilot-data-example-")
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, os.RemoveAll(dir)) }()
	test := filepath.Join(dir, "test.txt")
	if err := os.WriteFile(test, []byte(input), 0o644); err != nil {
		return err
	}

	o := core.Options{CoordinationURL: url}
	pds, err := core.NewPilotDataService(ctx, o)
	if err != nil {
		return err
	}
	defer pds.Close()
	pd, err := pds.CreatePilotData(ctx, core.PilotDataDescription{ServiceURL: "file://" + filepath.Join(dir, "pilot-data")})
	if err != nil {
		return err
	}
	in, err := pd.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: []string{test}})
	if err != nil {
		return err
	}
	output, err := pd.SubmitDataUnit(ctx, core.DataUnitDescription{})
	if err != nil {
		return err
	}
	if err := in.Wait(ctx); err != nil {
		return err
	}
	fmt.Fprintln(out, "Input data unit: Running")

	pcs, err := core.NewService(ctx, o)
	if err != nil {
		return err
	}
	defer pcs.Close()
	pilot, err := pcs.CreatePilot(ctx, core.PilotDescription{
		ServiceURL:        "fork://localhost",
		NumberOfProcesses: 1,
		WorkingDirectory:  filepath.Join(dir, "agent"),
		Walltime:          10,
	})
	if err != nil {
		return err
	}
	// After a failure, do not leave the pilot's agent running.
	defer func() {
		if err != nil {
			pcs.Cancel(context.WithoutCancel(ctx))
		}
	}()
	cu, err := pilot.Submit(ctx, core.UnitDescription{
		Executable: "/bin/cat",
		Arguments:  []string{"test.txt"},
		InputData:  []string{in.URL()},
		OutputData: []any{map[string]any{output.URL(): []any{"std*"}}},
		Output:     "stdout.txt",
		Error:      "stderr.txt",
	})
	if err != nil {
		return err
	}
	state, err := cu.Wait(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "Compute unit:", state)
	if state != core.Done {
		return fmt.Errorf("the compute unit ended %s, not Done", state)
	}

	files, err := output.Files(ctx)
	if err != nil {
		return err
	}
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f.Name))
	}
	fmt.Fprintln(out, "Output files:", strings.Join(names, ", "))

	exported := filepath.Join(dir, "exported")
	if err := output.Export(ctx, exported); err != nil {
		return err
	}
	b, err := os.ReadFile(filepath.Join(exported, "stdout.txt"))
	if err != nil {
		return err
	}
	if string(b) != input {
		return fmt.Errorf("exported stdout.txt holds %q, not %q", b, input)
	}
	fmt.Fprint(out, "Exported: ", string(b))

	replica, err := pds.CreatePilotData(ctx, core.PilotDataDescription{ServiceURL: filepath.Join(dir, "replica")})
	if err != nil {
		return err
	}
	if err := replica.Add(ctx, in); err != nil {
		return err
	}
	holders, err := in.PilotData(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "Replicas:", len(holders))

	fmt.Fprintln(out, "Terminate Pilot Jobs")
	return pcs.Cancel(ctx)
}
