package core_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/testenv"
)

// A Pilot-Data at a data plugin's scheme: unserved before the plugin is
// loaded (the error names the scheme and what to use), then, with the demo
// example loaded through core.LoadPlugin (as libpilot's pilot_plugin_load
// does), it keeps a data unit in the plugin's granted directory, exports
// and replicates it checked; the agent, which loads no data plugins,
// refuses to stage from it, saying so.
func TestPilotDataAtADataPluginScheme(t *testing.T) {
	url := testenv.RedisServer(t)
	ctx := ctxT(t)
	pds := newPilotDataService(t, url)
	granted := t.TempDir()
	pdURL := "demo://" + granted + "/pd"

	_, err := pds.CreatePilotData(ctx, core.PilotDataDescription{ServiceURL: pdURL})
	var de *core.DescriptionError
	require.ErrorAs(t, err, &de)
	require.Equal(t, "service_url", de.Key)
	require.ErrorContains(t, err, "the demo:// scheme is not a Pilot-Data backend; use file:///path or ssh://host/path, or load a data plugin that serves demo://")

	info, err := core.LoadPlugin(ctx, testenv.PluginGranting(t, testenv.Plugin(t, "plugins/examples/demo"),
		map[string]any{"data_dirs": []string{granted}}))
	require.NoError(t, err)
	require.Equal(t, []string{"data"}, info.Kinds)
	require.Equal(t, []string{"demo"}, info.DataSchemes)

	pd, err := pds.CreatePilotData(ctx, core.PilotDataDescription{ServiceURL: pdURL})
	require.NoError(t, err)
	content := "kept by a plugin\n"
	du, err := pd.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: []string{writeFile(t, t.TempDir(), "in.txt", content)}})
	require.NoError(t, err)
	st, err := du.State(ctx)
	require.NoError(t, err)
	require.Equal(t, core.Running, st)
	files, err := du.Files(ctx)
	require.NoError(t, err)
	require.Equal(t, []core.DataFile{{Name: du.ID() + "/in.txt", Size: int64(len(content)), SHA256: sum(content)}}, files)
	b, err := os.ReadFile(filepath.Join(granted, "pd", du.ID(), "in.txt"))
	require.NoError(t, err)
	require.Equal(t, content, string(b), "the plugin keeps it in its granted directory")

	out := t.TempDir()
	require.NoError(t, du.Export(ctx, out))
	b, err = os.ReadFile(filepath.Join(out, "in.txt"))
	require.NoError(t, err)
	require.Equal(t, content, string(b))

	local, err := pds.CreatePilotData(ctx, core.PilotDataDescription{ServiceURL: t.TempDir()})
	require.NoError(t, err)
	require.NoError(t, local.Add(ctx, du), "demo:// to file://")
	back, err := local.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: []string{writeFile(t, t.TempDir(), "b.txt", "b")}})
	require.NoError(t, err)
	require.NoError(t, pd.Add(ctx, back), "file:// to demo://")
	require.FileExists(t, filepath.Join(granted, "pd", back.ID(), "b.txt"))

	// the agent does not stage from a plugin's Pilot-Data, and says so
	s := newService(t, url)
	p, _ := newPilot(t, s, 1)
	only, err := pd.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: []string{writeFile(t, t.TempDir(), "c.txt", "c")}})
	require.NoError(t, err)
	u, err := p.Submit(ctx, core.UnitDescription{Executable: "/bin/true", InputData: []string{only.URL()}})
	require.NoError(t, err)
	ust, d := waitUnit(t, u)
	require.Equal(t, core.Failed, ust)
	require.Contains(t, d["reason"], "input_data "+only.URL())
	require.Contains(t, d["reason"], "the demo:// scheme is not a Pilot-Data backend")
	require.Contains(t, d["reason"], "agent staging of Pilot-Data served by data plugins is not supported")
}
