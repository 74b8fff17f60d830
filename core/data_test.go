package core_test

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/testenv"
	"github.com/bigjob-go/bigjob/storage"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

// newPilotDataService makes a pilot data service on the store at url,
// closed when the test ends.
func newPilotDataService(t *testing.T, url string) *core.PilotDataService {
	t.Helper()
	pds, err := core.NewPilotDataService(ctxT(t), testOptions(t, url))
	require.NoError(t, err)
	t.Cleanup(pds.Close)
	return pds
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// The Pilot-Data patterns of the original on file:// locations: a data unit
// from local files, reconnected by URL, exported, replicated into a second
// Pilot-Data and grown with more files, every copy checked.
func TestPilotDataUnitLifecycle(t *testing.T) {
	forEachBackend(t, func(t *testing.T, url string) {
		ctx := ctxT(t)
		o := testOptions(t, url)
		pds := newPilotDataService(t, url)
		dirA, dirB := filepath.Join(t.TempDir(), "a"), t.TempDir()
		pdA, err := pds.CreatePilotData(ctx, core.PilotDataDescription{ServiceURL: "file://" + dirA, AffinityMachineLabel: "m1"})
		require.NoError(t, err)
		require.DirExists(t, dirA, "its directory is made")

		src := t.TempDir()
		in := writeFile(t, src, "in.txt", "hello pilot data\n")
		big := writeFile(t, src, "big.bin", string(make([]byte, 1<<20)))
		du, err := pdA.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: []string{in, "file://" + big}})
		require.NoError(t, err)
		st, err := du.State(ctx)
		require.NoError(t, err)
		require.Equal(t, core.Running, st)
		files, err := du.Files(ctx)
		require.NoError(t, err)
		require.Equal(t, []core.DataFile{
			{Name: du.ID() + "/big.bin", Size: 1 << 20, SHA256: sum(string(make([]byte, 1<<20)))},
			{Name: du.ID() + "/in.txt", Size: 17, SHA256: sum("hello pilot data\n")},
		}, files)
		require.FileExists(t, filepath.Join(dirA, du.ID(), "in.txt"))
		units, err := pdA.DataUnits(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{du.URL()}, units)

		// another handle, by URL alone, as a second process would
		again, err := core.OpenDataUnit(ctx, du.URL(), o)
		require.NoError(t, err)
		defer again.Close()
		out := filepath.Join(t.TempDir(), "export", "here")
		require.NoError(t, again.Export(ctx, out))
		b, err := os.ReadFile(filepath.Join(out, "in.txt"))
		require.NoError(t, err)
		require.Equal(t, "hello pilot data\n", string(b))

		// replication
		pdB, err := pds.CreatePilotData(ctx, core.PilotDataDescription{ServiceURL: dirB})
		require.NoError(t, err)
		require.NoError(t, pdB.Add(ctx, again))
		holders, err := du.PilotData(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{pdA.URL(), pdB.URL()}, holders)
		b, err = os.ReadFile(filepath.Join(dirB, du.ID(), "in.txt"))
		require.NoError(t, err)
		require.Equal(t, "hello pilot data\n", string(b))

		// more files reach every copy
		more := writeFile(t, src, "more.txt", "more\n")
		require.NoError(t, du.AddFiles(ctx, []string{more}))
		for _, d := range []string{dirA, dirB} {
			require.FileExists(t, filepath.Join(d, du.ID(), "more.txt"))
		}
		files, err = again.Files(ctx)
		require.NoError(t, err)
		require.Len(t, files, 3)

		// the service and the Pilot-Data reconnect by URL too
		pds2, err := core.OpenPilotDataService(ctx, pds.URL(), o)
		require.NoError(t, err)
		defer pds2.Close()
		list, err := pds2.PilotData(ctx)
		require.NoError(t, err)
		require.Len(t, list, 2)
		pd2, err := core.OpenPilotData(ctx, pdA.URL(), o)
		require.NoError(t, err)
		defer pd2.Close()
		require.Equal(t, "m1", pd2.Description().AffinityMachineLabel)

		// a URL of another kind of object is refused, naming what it lacks
		_, err = core.OpenDataUnit(ctx, pdA.URL(), o)
		require.ErrorContains(t, err, "names no data unit (du-<uuid>)")
		_, err = core.OpenPilotData(ctx, pds.URL(), o)
		require.ErrorContains(t, err, "names no pilot data (pd-<uuid>)")
		_, err = core.OpenPilotDataService(ctx, du.URL(), o)
		require.ErrorContains(t, err, "names no pilot data service (pds-<uuid>)")
	})
}

// A missing input file is an error at submit that names it, and nothing is
// made (the original dropped missing files silently).
func TestDataUnitWithAMissingFileIsRefused(t *testing.T) {
	ctx := ctxT(t)
	pds := newPilotDataService(t, testenv.RedisServer(t))
	pd, err := pds.CreatePilotData(ctx, core.PilotDataDescription{ServiceURL: t.TempDir()})
	require.NoError(t, err)
	there := writeFile(t, t.TempDir(), "there.txt", "x")
	missing := filepath.Join(t.TempDir(), "missing.txt")
	_, err = pd.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: []string{there, missing}})
	var de *core.DescriptionError
	require.ErrorAs(t, err, &de)
	require.Equal(t, "file_urls", de.Key)
	require.Contains(t, err.Error(), missing+" does not exist")
	units, err := pd.DataUnits(ctx)
	require.NoError(t, err)
	require.Empty(t, units)

	_, err = pd.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: []string{"ssh://elsewhere/data/x"}})
	require.ErrorContains(t, err, "is not a file of this machine")
}

// A stored file whose bytes changed is caught when it is copied out: the
// copy fails with the reason and leaves nothing under the final name.
func TestDataUnitChecksumMismatchIsCaught(t *testing.T) {
	ctx := ctxT(t)
	pds := newPilotDataService(t, testenv.RedisServer(t))
	dir := t.TempDir()
	pd, err := pds.CreatePilotData(ctx, core.PilotDataDescription{ServiceURL: dir})
	require.NoError(t, err)
	du, err := pd.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: []string{writeFile(t, t.TempDir(), "f.txt", "original")}})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, du.ID(), "f.txt"), []byte("tampered"), 0o600))
	out := t.TempDir()
	err = du.Export(ctx, out)
	require.ErrorIs(t, err, storage.ErrChecksum)
	require.NoFileExists(t, filepath.Join(out, "f.txt"))
	left, _ := os.ReadDir(out)
	require.Empty(t, left, "no partial file is left")
}

// The original's cloud and grid backends fail with the scheme named and
// what to use instead.
func TestPilotDataUnsupportedSchemes(t *testing.T) {
	ctx := ctxT(t)
	pds := newPilotDataService(t, testenv.RedisServer(t))
	for url, want := range map[string]string{
		"s3://bucket":            "the s3:// backend (Amazon S3) is not supported; keep the data on a file system",
		"irods://host/zone?vo=x": "the irods:// backend (iRODS) is not supported",
		"go://ep/path":           "the go:// backend (Globus Online) is not supported",
		"ftp://host/dir":         "the ftp:// scheme is not a Pilot-Data backend; use file:///path or ssh://host/path",
		"":                       "key \"service_url\": missing",
	} {
		_, err := pds.CreatePilotData(ctx, core.PilotDataDescription{ServiceURL: url})
		var de *core.DescriptionError
		require.ErrorAs(t, err, &de, url)
		require.Equal(t, "service_url", de.Key)
		require.Contains(t, err.Error(), want)
	}
}

// A compute unit names data units: the agent stages input_data into its
// sandbox (Staging) and moves what output_data matches into the output
// data unit once it is Done.
func TestUnitsStageDataUnitsInAndOut(t *testing.T) {
	url := testenv.RedisServer(t)
	ctx := ctxT(t)
	s := newService(t, url)
	p, _ := newPilot(t, s, 1)
	pds := newPilotDataService(t, url)
	pdDir := t.TempDir()
	pd, err := pds.CreatePilotData(ctx, core.PilotDataDescription{ServiceURL: "file://" + pdDir})
	require.NoError(t, err)
	in, err := pd.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: []string{writeFile(t, t.TempDir(), "in.txt", "from a data unit\n")}})
	require.NoError(t, err)
	out, err := pd.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: []string{}})
	require.NoError(t, err)

	u, err := p.Submit(ctx, core.UnitDescription{Executable: "/bin/cat", Arguments: []string{"in.txt"},
		InputData: []string{in.URL()}, OutputData: []any{map[string]any{out.URL(): []any{"std*"}}}})
	require.NoError(t, err)
	st, d := waitUnit(t, u)
	require.Equal(t, core.Done, st, d["reason"])
	require.NotEmpty(t, d["start_staging_time"], "the unit went through Staging")

	files, err := out.Files(ctx)
	require.NoError(t, err)
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f.Name))
	}
	require.Equal(t, []string{"stderr", "stdout"}, names)
	got := t.TempDir()
	require.NoError(t, out.Export(ctx, got))
	b, err := os.ReadFile(filepath.Join(got, "stdout"))
	require.NoError(t, err)
	require.Equal(t, "from a data unit\n", string(b))
	sandbox, err := u.Sandbox(ctx)
	require.NoError(t, err)
	require.NoFileExists(t, filepath.Join(sandbox, "stdout"), "output_data moves the files")
	require.FileExists(t, filepath.Join(sandbox, "in.txt"))

	// input_data that names no data unit of the store is refused at submit,
	// on every path, naming it
	for _, bad := range []string{pds.URL() + ":du-00000000-0000-0000-0000-000000000000", "hello", pds.URL()} {
		bud := core.UnitDescription{Executable: "/bin/true", InputData: []string{in.URL(), bad}}
		_, err := p.Submit(ctx, bud)
		var de *core.DescriptionError
		require.ErrorAs(t, err, &de, bad)
		require.Equal(t, "input_data", de.Key)
		require.Contains(t, err.Error(), bad)
		_, err = s.Enqueue(bud)
		require.ErrorAs(t, err, &de, bad)
	}

	// a data unit gone after submission fails the unit with the reason
	gone, err := pd.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: []string{writeFile(t, t.TempDir(), "gone.txt", "x")}})
	require.NoError(t, err)
	require.NoError(t, os.Remove(filepath.Join(pdDir, gone.ID(), "gone.txt")))
	late, err := p.Submit(ctx, core.UnitDescription{Executable: "/bin/true", InputData: []string{gone.URL()}})
	require.NoError(t, err)
	st, d = waitUnit(t, late)
	require.Equal(t, core.Failed, st)
	require.Contains(t, d["reason"], "input_data "+gone.URL())
	require.Contains(t, d["reason"], "gone.txt")
}

// A Pilot-Data on another host (the private sshd: ssh://user@127.0.0.1:port)
// keeps data units over SFTP: placed, exported, replicated both ways, each
// copy checked.
func TestPilotDataOverSSH(t *testing.T) {
	s := testenv.StartSSHD(t)
	s.Env(t)
	ctx := ctxT(t)
	pds := newPilotDataService(t, testenv.RedisServer(t))
	dir := filepath.Join(t.TempDir(), "remote")
	pd, err := pds.CreatePilotData(ctx, core.PilotDataDescription{ServiceURL: s.URL("ssh") + dir})
	require.NoError(t, err)
	require.DirExists(t, dir, "made over SFTP")

	src := writeFile(t, t.TempDir(), "in.txt", "over sftp\n")
	du, err := pd.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: []string{src}})
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(dir, du.ID(), "in.txt"))
	require.NoError(t, err)
	require.Equal(t, "over sftp\n", string(b))
	files, err := du.Files(ctx)
	require.NoError(t, err)
	require.Equal(t, sum("over sftp\n"), files[0].SHA256)

	out := t.TempDir()
	require.NoError(t, du.Export(ctx, out))
	b, err = os.ReadFile(filepath.Join(out, "in.txt"))
	require.NoError(t, err)
	require.Equal(t, "over sftp\n", string(b))

	local, err := pds.CreatePilotData(ctx, core.PilotDataDescription{ServiceURL: t.TempDir()})
	require.NoError(t, err)
	require.NoError(t, local.Add(ctx, du), "ssh:// to file://")
	back, err := local.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: []string{writeFile(t, t.TempDir(), "b.txt", "b")}})
	require.NoError(t, err)
	require.NoError(t, pd.Add(ctx, back), "file:// to ssh://")
	require.FileExists(t, filepath.Join(dir, back.ID(), "b.txt"))

	// a stored file changed on the host is caught on the way out
	require.NoError(t, os.WriteFile(filepath.Join(dir, du.ID(), "in.txt"), []byte("changed!!\n"), 0o600))
	other := t.TempDir()
	err = du.Export(ctx, other)
	require.ErrorIs(t, err, storage.ErrChecksum)
	require.NoFileExists(t, filepath.Join(other, "in.txt"))
}

// A unit's input_data and output_data on a Pilot-Data of another host: the
// agent, which links no SSH library, stages them with the ssh command.
func TestUnitsStageDataUnitsOverSSH(t *testing.T) {
	s := testenv.StartSSHD(t)
	s.Env(t) // the fork agent inherits it
	url := testenv.RedisServer(t)
	ctx := ctxT(t)
	svc := newService(t, url)
	p, _ := newPilot(t, svc, 1)
	pds := newPilotDataService(t, url)
	dir := filepath.Join(t.TempDir(), "remote")
	pd, err := pds.CreatePilotData(ctx, core.PilotDataDescription{ServiceURL: s.URL("ssh") + dir})
	require.NoError(t, err)
	in, err := pd.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: []string{writeFile(t, t.TempDir(), "in.txt", "staged by ssh\n")}})
	require.NoError(t, err)
	out, err := pd.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: []string{}})
	require.NoError(t, err)
	u, err := p.Submit(ctx, core.UnitDescription{Executable: "/bin/cat", Arguments: []string{"in.txt"},
		InputData: []string{in.URL()}, OutputData: []any{map[string]any{out.URL(): []any{"stdout"}}}})
	require.NoError(t, err)
	st, d := waitUnit(t, u)
	require.Equal(t, core.Done, st, d["reason"])
	b, err := os.ReadFile(filepath.Join(dir, out.ID(), "stdout"))
	require.NoError(t, err)
	require.Equal(t, "staged by ssh\n", string(b))
	files, err := out.Files(ctx)
	require.NoError(t, err)
	require.Equal(t, []core.DataFile{{Name: out.ID() + "/stdout", Size: 14, SHA256: sum("staged by ssh\n")}}, files)
}

// A transfer cut half way (the sshd stopped mid-copy) fails the data unit
// with the reason and leaves no file under its final name.
func TestSSHTransferCutHalfWay(t *testing.T) {
	s := testenv.StartSSHD(t)
	s.Env(t)
	ctx := ctxT(t)
	pds := newPilotDataService(t, testenv.RedisServer(t))
	dir := filepath.Join(t.TempDir(), "remote")
	pd, err := pds.CreatePilotData(ctx, core.PilotDataDescription{ServiceURL: s.URL("ssh") + dir})
	require.NoError(t, err)
	big := filepath.Join(t.TempDir(), "big.bin")
	require.NoError(t, os.WriteFile(big, make([]byte, 256<<20), 0o644))

	go func() { // stop the server once part of the file has arrived
		for ctx.Err() == nil {
			parts, _ := filepath.Glob(filepath.Join(dir, "du-*", ".big.bin.part-*"))
			if len(parts) > 0 {
				if st, err := os.Stat(parts[0]); err == nil && st.Size() > 1<<20 {
					s.Stop()
					return
				}
			}
			time.Sleep(time.Millisecond)
		}
	}()
	du, err := pd.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: []string{big}})
	require.Error(t, err)
	require.NotNil(t, du)
	st, serr := du.State(ctx)
	require.NoError(t, serr)
	require.Equal(t, core.Failed, st)
	require.ErrorContains(t, du.Wait(ctx), "big.bin")
	finals, _ := filepath.Glob(filepath.Join(dir, "du-*", "big.bin"))
	require.Empty(t, finals, "nothing under the final name")
}
