package vocab

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDataDescriptions(t *testing.T) {
	var pdd PilotDataDescription
	require.NoError(t, json.Unmarshal([]byte(`{"service_url": "ssh://localhost/tmp/pd", "size": "100",
		"affinity_machine_label": "m", "userkey": "~/.ssh/id"}`), &pdd))
	require.Equal(t, PilotDataDescription{ServiceURL: "ssh://localhost/tmp/pd", Size: 100, AffinityMachineLabel: "m",
		Extra: map[string]any{"userkey": "~/.ssh/id"}}, pdd)
	b, err := json.Marshal(pdd)
	require.NoError(t, err)
	var back PilotDataDescription
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, pdd, back)
	_, err = ParsePilotDataDescription(map[string]any{"size": 1})
	require.ErrorContains(t, err, `pilot data description: key "service_url": missing`)
	in, err := ParsePilotDataDescription(map[string]any{"pilot": "redis://h:6379/bigjob:bj-1:h"})
	require.NoError(t, err)
	require.Equal(t, "redis://h:6379/bigjob:bj-1:h", in.Pilot, "a pilot's sandbox instead of service_url")
	_, err = ParsePilotDataDescription(map[string]any{"pilot": "redis://h/bigjob:bj-1:h", "service_url": "/tmp/pd"})
	require.ErrorContains(t, err, `pilot data description: key "pilot": given with service_url; give one`)

	dud, err := ParseDataUnitDescription(map[string]any{"file_urls": "/etc/hostname", "affinity_datacenter_label": "dc"})
	require.NoError(t, err)
	require.Equal(t, []string{"/etc/hostname"}, dud.FileURLs, "one string is a list of one")
	_, err = ParseDataUnitDescription(map[string]any{"file_urls": []any{"/a", "ssh://elsewhere/b"}})
	require.ErrorContains(t, err, `data unit description: key "file_urls": "ssh://elsewhere/b" is not a file of this machine`)
	for in, want := range map[string]string{"rel/x": "rel/x", "file:///abs/x": "/abs/x", "ssh://localhost/abs/y": "/abs/y"} {
		got, err := LocalFile(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got)
	}
}
