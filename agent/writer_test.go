package agent

import (
	"testing"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/stretchr/testify/require"
)

func TestCoalesceKeepsEveryStateInOrder(t *testing.T) {
	b := []coord.Update{
		{UnitID: "a", State: "Running", Fields: []string{"x", "1"}},
		{UnitID: "b", State: "Running"},
		{UnitID: "a", State: "Staging", Fields: []string{"x", "2"}},
		{UnitID: "a", State: "Done", Fields: []string{"y", "3"}},
	}
	got := coalesce(b)
	require.Equal(t, []coord.Update{
		{UnitID: "b", State: "Running"},
		{UnitID: "a", State: "Done", Passed: []string{"Running", "Staging"}, Fields: []string{"x", "1", "x", "2", "y", "3"}},
	}, got)
	one := []coord.Update{{UnitID: "a", State: "Done"}}
	require.Equal(t, one, coalesce(one))
}
