// Package sftpstore keeps Pilot-Data on another host over SFTP:
// ssh://[user@]host[:port]/path (and sftp://), through the pooled SSH
// connections of adaptors/remote (known_hosts checked, ~/.ssh/config read).
// A program serves these URLs by importing it; its init registers it with
// package storage. Every file goes to a temporary name beside its target and
// is renamed once whole; every fetched file is checked against its size and
// sha256 before it takes its name.
package sftpstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"

	"github.com/pkg/sftp"

	"github.com/bigjob-go/bigjob/adaptors/remote"
	"github.com/bigjob-go/bigjob/storage"
)

func init() { storage.Register(open, "ssh", "sftp") }

// location is a directory on another host.
type location struct {
	url    string
	target remote.Target
	root   string
}

func open(ctx context.Context, u *url.URL) (storage.Location, error) {
	if u.Path == "" || u.Path == "/" {
		return nil, fmt.Errorf("Pilot-Data %s: give the directory after the host, e.g. ssh://host/scratch/pilot-data", u)
	}
	l := &location{url: u.String(), target: remote.TargetOf(u), root: u.Path}
	err := l.with(ctx, func(c *sftp.Client) error { return c.MkdirAll(l.root) })
	if err != nil {
		return nil, fmt.Errorf("Pilot-Data %s: create its directory: %w", l.url, err)
	}
	return l, nil
}

func (l *location) URL() string { return l.url }

// with runs f on an SFTP client over the pooled connection to the host.
func (l *location) with(ctx context.Context, f func(*sftp.Client) error) error {
	conn, release, err := remote.Client(ctx, l.target)
	if err != nil {
		return err
	}
	defer release()
	c, err := sftp.NewClient(conn)
	if err != nil {
		return fmt.Errorf("start SFTP on %s: %w", l.target, err)
	}
	defer c.Close()
	// A canceled ctx closes the client: a transfer in flight then fails.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	return f(c)
}

func (l *location) path(name string) (string, error) { return storage.Below(l.url, l.root, name) }

func (l *location) Put(ctx context.Context, src, name string) (storage.File, error) {
	var f storage.File
	err := l.with(ctx, func(c *sftp.Client) (err error) {
		f, err = l.put(c, src, name)
		return err
	})
	return f, err
}

// PutAll places every file over one SFTP client, several at once.
func (l *location) PutAll(ctx context.Context, puts []storage.Put) ([]storage.File, error) {
	if len(puts) == 0 {
		return nil, nil
	}
	files := make([]storage.File, len(puts))
	err := l.with(ctx, func(c *sftp.Client) error {
		return storage.Parallel(ctx, len(puts), func(ctx context.Context, i int) (err error) {
			files[i], err = l.put(c, puts[i].Src, puts[i].Name)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}

// put copies the local file src to name over c, through a temporary name.
func (l *location) put(c *sftp.Client, src, name string) (storage.File, error) {
	dst, err := l.path(name)
	if err != nil {
		return storage.File{}, err
	}
	in, err := os.Open(src)
	if err != nil {
		return storage.File{}, fmt.Errorf("Pilot-Data %s: add %s: %w", l.url, src, err)
	}
	defer in.Close()
	f, err := func() (storage.File, error) {
		if err := c.MkdirAll(path.Dir(dst)); err != nil {
			return storage.File{}, err
		}
		tmp := storage.TempName(dst)
		out, err := c.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		if err != nil {
			return storage.File{}, err
		}
		h := storage.NewHashing()
		_, err = io.Copy(out, io.TeeReader(in, h))
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = c.Chmod(tmp, 0o600)
		}
		if err == nil {
			err = c.PosixRename(tmp, dst)
		}
		if err != nil {
			c.Remove(tmp) // best effort: the connection may be gone
			return storage.File{}, err
		}
		return h.File(name), nil
	}()
	if err != nil {
		return storage.File{}, fmt.Errorf("Pilot-Data %s: add %s: %w", l.url, src, err)
	}
	return f, nil
}

func (l *location) Get(ctx context.Context, f storage.File, dst string) error {
	return l.with(ctx, func(c *sftp.Client) error { return l.get(ctx, c, f, dst) })
}

// GetAll copies every file over one SFTP client, several at once.
func (l *location) GetAll(ctx context.Context, files []storage.File, dst func(storage.File) string) error {
	if len(files) == 0 {
		return nil
	}
	return l.with(ctx, func(c *sftp.Client) error {
		return storage.Parallel(ctx, len(files), func(ctx context.Context, i int) error {
			return l.get(ctx, c, files[i], dst(files[i]))
		})
	})
}

// get copies f over c to the local path dst, checked.
func (l *location) get(ctx context.Context, c *sftp.Client, f storage.File, dst string) error {
	src, err := l.path(f.Name)
	if err != nil {
		return err
	}
	err = func() error {
		in, err := c.Open(src)
		if err != nil {
			return err
		}
		defer in.Close()
		_, _, err = storage.Receive(ctx, in, dst, &f)
		return err
	}()
	if err != nil {
		return fmt.Errorf("Pilot-Data %s: copy %s to %s: %w", l.url, f.Name, dst, err)
	}
	return nil
}

func (l *location) Remove(ctx context.Context, name string) error {
	p, err := l.path(name)
	if err != nil {
		return err
	}
	return l.with(ctx, func(c *sftp.Client) error {
		err := c.RemoveAll(p)
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	})
}
