// Command pilot-plugin builds and checks WASM plugins (plugins/ABI.md).
//
//	pilot-plugin build SRC OUT   build the plugin in SRC into OUT (module + sealed plugin.json)
//	pilot-plugin check MANIFEST  load the plugin as the host would and print its info as JSON
//
// check exits non-zero with the host's message when the plugin would be
// refused: a sha256 that does not match, a missing export, a wrong ABI
// version.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/bigjob-go/bigjob/plugins"
	"github.com/bigjob-go/bigjob/plugins/build"
)

const usage = "usage: pilot-plugin build SRC OUT | pilot-plugin check MANIFEST"

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
	case len(args) == 2 && args[0] == "check":
		h := plugins.NewHost(plugins.HostOptions{})
		defer h.Close(context.Background())
		p, err := h.Load(ctx, args[1])
		if err != nil {
			return err
		}
		out, _ := json.MarshalIndent(map[string]any{"info": p.Info(), "digest": p.Digest(), "manifest": p.Manifest()}, "", "  ")
		fmt.Println(string(out))
		return nil
	}
	return fmt.Errorf("%s", usage)
}
