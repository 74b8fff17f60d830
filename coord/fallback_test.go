package coord_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/bigjob-go/bigjob/coord"
)

// Without coord/embedded linked in, the fallback says which import links it.
func TestStartFallbackUnregistered(t *testing.T) {
	srv, err := coord.StartFallback("127.0.0.1:0", "", "")
	if srv != nil || !errors.Is(err, coord.ErrNoFallback) {
		t.Fatalf("StartFallback = %v, %v; want ErrNoFallback", srv, err)
	}
	if want := `import _ "github.com/bigjob-go/bigjob/coord/embedded"`; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not say %s", err, want)
	}
}

// A registered starter is the one started.
func TestStartFallbackRegistered(t *testing.T) {
	defer coord.RegisterFallback(nil)
	var got string
	coord.RegisterFallback(func(addr, user, password string) (coord.FallbackServer, error) {
		got = addr + " " + user + " " + password
		return nil, errors.New("refused")
	})
	if _, err := coord.StartFallback("127.0.0.1:7", "u", "p"); err == nil || err.Error() != "refused" {
		t.Fatalf("StartFallback error = %v; want the starter's", err)
	}
	if got != "127.0.0.1:7 u p" {
		t.Fatalf("starter called with %q", got)
	}
}
