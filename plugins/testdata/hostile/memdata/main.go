//go:build wasip1

// Command memdata is a data plugin for tests that keeps Pilot-Data at
// mem://MODE/path in its instance's memory (one instance), and misbehaves
// as MODE says: ok keeps bytes faithfully, flipwrite changes a byte of
// every file it stores, rot changes a byte of every file it reads under a
// final name (not the host's temporary .part- names), trap panics when it
// is asked to write.
package main

import (
	"errors"
	"net/url"
	"strings"

	pdk "github.com/bigjob-go/bigjob/plugins/pdk/go"
)

func init() {
	pdk.Register(pdk.Plugin{Name: "memdata", Version: "0.1.0", DataSchemes: []string{"mem"}, Data: store{}})
}

var files = map[string][]byte{}

type store struct{}

func mode(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

func key(raw, name string) string { return raw + "|" + name }

func (store) Open(raw string) error {
	switch mode(raw) {
	case "ok", "flipwrite", "rot", "trap":
		return nil
	}
	return errors.New("memdata: unknown mode in " + raw)
}

func (store) Write(raw, name string, offset int64, data []byte) error {
	if mode(raw) == "trap" {
		panic("memdata: asked to write " + name)
	}
	k := key(raw, name)
	if offset == 0 {
		files[k] = nil
	}
	if int64(len(files[k])) != offset {
		return errors.New("memdata: writes must be in sequence")
	}
	b := append(files[k], data...)
	if mode(raw) == "flipwrite" && len(b) > 0 {
		b[0] ^= 0xff
	}
	files[k] = b
	return nil
}

func (store) Read(raw, name string, offset int64, buf []byte) (int, error) {
	b, ok := files[key(raw, name)]
	if !ok {
		return 0, errors.New("memdata: no file " + name)
	}
	if offset >= int64(len(b)) {
		return 0, nil
	}
	n := copy(buf, b[offset:])
	if mode(raw) == "rot" && !strings.Contains(name, ".part-") && n > 0 {
		buf[n-1] ^= 0x01
	}
	return n, nil
}

func (store) Rename(raw, name, to string) error {
	b, ok := files[key(raw, name)]
	if !ok {
		return errors.New("memdata: no file " + name)
	}
	delete(files, key(raw, name))
	files[key(raw, to)] = b
	return nil
}

func (store) Remove(raw, name string) error {
	for k := range files {
		if k == key(raw, name) || strings.HasPrefix(k, key(raw, name)+"/") {
			delete(files, k)
		}
	}
	return nil
}

func main() {}
