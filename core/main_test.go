package core_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/bigjob-go/bigjob/adaptors/builtin"
	_ "github.com/bigjob-go/bigjob/adaptors/pluginadaptor"
	_ "github.com/bigjob-go/bigjob/coord/embedded"
	"github.com/bigjob-go/bigjob/coord/userstore"
	"github.com/bigjob-go/bigjob/core"
	_ "github.com/bigjob-go/bigjob/storage/pluginstore"
	_ "github.com/bigjob-go/bigjob/storage/sftpstore"
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
	os.Setenv(core.EnvHome, home)
	os.Setenv(userstore.EnvIdle, "5s") // the tests' lasting local stores do not linger
	code := m.Run()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	if err := userstore.Stop(ctx, filepath.Join(home, "store")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	cancel()
	os.RemoveAll(home)
	os.Exit(code)
}
