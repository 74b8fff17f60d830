package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bigjob-go/bigjob/storage"
)

// Content is what the i-th file of Puts holds: i+1 lines, so that no two
// files have the same size.
func Content(i int) string { return strings.Repeat(fmt.Sprintf("file %d\n", i), i+1) }

// Puts writes n local files p00, p01, ... (Content) into a new temporary
// directory and returns them to be placed under dir/ of a Pilot-Data.
func Puts(t testing.TB, dir string, n int) []storage.Put {
	t.Helper()
	src := t.TempDir()
	puts := make([]storage.Put, n)
	for i := range n {
		p := filepath.Join(src, fmt.Sprintf("p%02d", i))
		if err := os.WriteFile(p, []byte(Content(i)), 0o600); err != nil {
			t.Fatal(err)
		}
		puts[i] = storage.Put{Src: p, Name: dir + "/" + filepath.Base(p)}
	}
	return puts
}
