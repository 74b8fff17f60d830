package core_test

import (
	"fmt"
	"os"
	"testing"
)

// TestMain keeps the services' signing keys of the tests in a private
// directory, and runs the managing process of TestManagerKilledMidRun when
// the test binary is started as one.
func TestMain(m *testing.M) {
	if os.Getenv(envManager) != "" {
		runManager()
		return
	}
	home, err := os.MkdirTemp("", "bigjob-home-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Setenv("BIGJOB_HOME", home)
	code := m.Run()
	os.RemoveAll(home)
	os.Exit(code)
}
