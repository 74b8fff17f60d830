package testenv

import (
	"context"
	"testing"

	"github.com/bigjob-go/bigjob/coord"
)

// Dial connects to the coordination store at url, closed when the test
// ends.
func Dial(t testing.TB, url string) *coord.Store {
	t.Helper()
	a, err := coord.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	s, err := coord.Dial(context.Background(), a, coord.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
