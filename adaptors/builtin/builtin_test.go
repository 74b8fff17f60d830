package builtin_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/bigjob-go/bigjob/adaptors"
	_ "github.com/bigjob-go/bigjob/adaptors/builtin"
)

func TestEverySchemeOfTheOriginalIsRegistered(t *testing.T) {
	have := adaptors.Schemes()
	for _, s := range []string{
		"fork", "ssh",
		"slurm", "slurm+ssh", "pbs", "pbs+ssh", "torque", "torque+ssh", "pbspro", "pbspro+ssh",
		"sge", "sge+ssh", "condor", "condor+ssh",
		"pbs-ssh", "sge-ssh", "xt5torque", "xt5torque+gsissh",
		"ec2+ssh", "euca+ssh", "nova+ssh", "gce+ssh", "gram",
	} {
		assert.Contains(t, have, s)
	}
}

func TestBatchSchemeOnAnotherHostSuggestsSSH(t *testing.T) {
	_, _, err := adaptors.Open("slurm://login.example.org")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "slurm+ssh://login.example.org")
}

func TestCloudSchemeNamesItself(t *testing.T) {
	_, _, err := adaptors.Open("ec2+ssh://ami-123")
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), `"ec2+ssh"`), err.Error())
	assert.Contains(t, err.Error(), "ssh://")
}
