//go:build wasip1

// Command demo is a data plugin: it keeps the files of Pilot-Data at
// demo:///dir URLs in the directory dir of this machine, which must lie in
// one of the directories its manifest grants (capabilities.data_dirs, its
// WASI file system; nothing else of the machine is there). It shows what a
// data plugin does — move bytes — and leaves the rest to the host: the
// temporary names, the checks of size and sha256, the renames.
package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"

	pdk "github.com/bigjob-go/bigjob/plugins/pdk/go"
)

func init() {
	pdk.Register(pdk.Plugin{Name: "demo", Version: "1.0.0", DataSchemes: []string{"demo"}, Data: store{}})
}

type store struct{}

// root is the directory of a demo URL.
func root(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("%s: demo keeps data on this machine only; give demo:///dir", raw)
	}
	if !path.IsAbs(u.Path) || path.Clean(u.Path) == "/" {
		return "", fmt.Errorf("%s: give the directory, e.g. demo:///var/tmp/bigjob-demo/pd1", raw)
	}
	return path.Clean(u.Path), nil
}

func file(raw, name string) (string, error) {
	r, err := root(raw)
	if err != nil {
		return "", err
	}
	return path.Join(r, name), nil
}

func (store) Open(raw string) error {
	r, err := root(raw)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(r, 0o700); err != nil {
		return fmt.Errorf("%s: %w (is it under the plugin's capabilities.data_dirs?)", raw, err)
	}
	return nil
}

func (store) Write(raw, name string, offset int64, data []byte) error {
	p, err := file(raw, name)
	if err != nil {
		return err
	}
	flag := os.O_WRONLY
	if offset == 0 {
		if err := os.MkdirAll(path.Dir(p), 0o700); err != nil {
			return err
		}
		flag |= os.O_CREATE | os.O_TRUNC
	}
	f, err := os.OpenFile(p, flag, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(data, offset)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func (store) Read(raw, name string, offset int64, buf []byte) (int, error) {
	p, err := file(raw, name)
	if err != nil {
		return 0, err
	}
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := f.ReadAt(buf, offset)
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, err
}

func (store) Rename(raw, name, to string) error {
	from, err := file(raw, name)
	if err != nil {
		return err
	}
	dst, err := file(raw, to)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(path.Dir(dst), 0o700); err != nil {
		return err
	}
	return os.Rename(from, dst)
}

func (store) Remove(raw, name string) error {
	p, err := file(raw, name)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func main() {}
