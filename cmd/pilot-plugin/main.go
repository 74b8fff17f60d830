// Command pilot-plugin builds and checks WASM plugins (plugins/ABI.md).
//
//	pilot-plugin build SRC OUT          build the plugin in SRC into OUT (module + sealed plugin.json)
//	pilot-plugin check [--json] MANIFEST  load the plugin as the host would and say what it may do
//
// check prints, in plain words, every grant of the plugin's manifest and
// what a site gives away with it, so that a site reads them before it loads
// the plugin; --json prints its info, digest, manifest and grants as JSON.
// It exits non-zero with the host's message when the plugin would be
// refused: a sha256 that does not match, a missing export, a wrong ABI
// version, a grant no plugin may have.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/bigjob-go/bigjob/plugins"
	"github.com/bigjob-go/bigjob/plugins/build"
)

const usage = "usage: pilot-plugin build SRC OUT | pilot-plugin check [--json] MANIFEST"

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "pilot-plugin:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	switch {
	case len(args) == 3 && args[0] == "build":
		m, err := build.Build(ctx, args[1], args[2], build.Options{})
		if err != nil {
			return err
		}
		fmt.Println(m)
		return nil
	case len(args) >= 2 && args[0] == "check" && (len(args) == 2 || len(args) == 3 && args[1] == "--json"):
		h := plugins.NewHost(plugins.HostOptions{})
		defer h.Close(context.Background())
		p, err := h.Load(ctx, args[len(args)-1])
		if err != nil {
			return err
		}
		if len(args) == 3 {
			out, _ := json.MarshalIndent(map[string]any{"info": p.Info(), "digest": p.Digest(), "manifest": p.Manifest(), "grants": p.Grants()}, "", "  ")
			fmt.Println(string(out))
			return nil
		}
		fmt.Print(describe(p, args[1]))
		return nil
	}
	return fmt.Errorf("%s", usage)
}

// describe says what p is and what it may do, in plain words.
func describe(p *plugins.Plugin, manifest string) string {
	var b strings.Builder
	i, m := p.Info(), p.Manifest()
	fmt.Fprintf(&b, "plugin %s %s (%s", i.Name, i.Version, strings.Join(i.Kinds, ", "))
	if len(i.Schemes) > 0 {
		fmt.Fprintf(&b, "; serves %s://", strings.Join(i.Schemes, ":// and "))
	}
	if len(i.DataSchemes) > 0 {
		fmt.Fprintf(&b, "; keeps Pilot-Data at %s://", strings.Join(i.DataSchemes, ":// and "))
	}
	fmt.Fprintf(&b, ")\nmanifest %s\n  digest %s, module sha256 %s\nOnce loaded, it:\n", manifest, p.Digest(), m.SHA256)
	for _, g := range p.Grants() {
		fmt.Fprintf(&b, "  - %s\n", g)
	}
	return b.String()
}
