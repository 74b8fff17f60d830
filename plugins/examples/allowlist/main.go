//go:build wasip1

// Command allowlist is a pre_unit hook plugin: it refuses units whose
// executable is not on the site's allowlist and adds the site's
// environment to the others. Both come from the manifest's config:
//
//	"config": {"allow": ["echo", "/bin/echo"], "env": {"SITE_POLICY": "v1"}}
//
// An entry with a slash allows exactly that path; one without allows that
// bare name (looked up on PATH), not some other directory's file of the
// same name. Each variable of "env" must also be granted to the plugin in
// the manifest's capabilities.rewrite.environment: the host stops a unit
// whose environment a hook changed beyond its grants.
package main

import (
	"path"
	"sort"
	"strings"

	"github.com/bigjob-go/bigjob/plugins/abi"
	pdk "github.com/bigjob-go/bigjob/plugins/pdk/go"
)

type config struct {
	Allow []string          `json:"allow"`
	Env   map[string]string `json:"env"`
}

var cfg config

func init() {
	pdk.Register(pdk.Plugin{Name: "allowlist", Version: "1.0.0", PreUnit: preUnit})
}

func loadConfig() error {
	if cfg.Allow != nil {
		return nil
	}
	if err := pdk.Config(&cfg); err != nil {
		return err
	}
	if cfg.Allow == nil {
		cfg.Allow = []string{}
	}
	return nil
}

func allowed(exe string) bool {
	if strings.Contains(exe, "/") {
		exe = path.Clean(exe)
	}
	for _, a := range cfg.Allow {
		if a == exe {
			return true
		}
	}
	return false
}

func preUnit(u *abi.Unit) error {
	if err := loadConfig(); err != nil {
		return err
	}
	if !allowed(u.Executable) {
		return pdk.Refuse("executable %q is not on this site's allowlist (%s)", u.Executable, strings.Join(cfg.Allow, ", "))
	}
	names := make([]string, 0, len(cfg.Env))
	for k := range cfg.Env {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		u.Environment = setenv(u.Environment, k, cfg.Env[k])
	}
	return nil
}

// setenv sets k in a KEY=VALUE list, in place of an earlier value.
func setenv(env []string, k, v string) []string {
	for i, kv := range env {
		if strings.HasPrefix(kv, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

func main() {}
