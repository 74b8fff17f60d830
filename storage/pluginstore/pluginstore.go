// Package pluginstore serves the Pilot-Data URL schemes of data plugins
// (package plugins, kind "data"; plugins/ABI.md, Data plugins): a program
// serves them by importing it (its init registers it with
// plugins.ServeData), and a data plugin loaded into the process then adds
// its schemes to package storage. The plugin only moves bytes; the
// integrity contract stays here: every file goes to a temporary name, is
// read back and checked against its size and sha256 before it is renamed
// to its final name, and every file fetched is checked again, so a plugin
// that loses or changes bytes fails the copy and leaves nothing under a
// final name.
package pluginstore

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"

	"github.com/bigjob-go/bigjob/plugins"
	"github.com/bigjob-go/bigjob/plugins/abi"
	"github.com/bigjob-go/bigjob/runner"
	"github.com/bigjob-go/bigjob/storage"
)

func init() { plugins.ServeData(serve) }

// serve adds the data schemes of p to storage.
func serve(p *plugins.Plugin) error {
	return storage.Add("plugin "+p.Name(), func(ctx context.Context, u *url.URL) (storage.Location, error) {
		return Open(ctx, p, u.String())
	}, p.Info().DataSchemes...)
}

// maxChunk bounds the bytes of one data_write or data_read call.
const maxChunk = 1 << 20

// location is a Pilot-Data kept by a data plugin.
type location struct {
	p     *plugins.Plugin
	url   string
	chunk int
}

// Open opens the Pilot-Data at serviceURL that the data plugin p keeps:
// the plugin prepares it (data_open) or refuses it.
func Open(ctx context.Context, p *plugins.Plugin, serviceURL string) (storage.Location, error) {
	l := &location{p: p, url: serviceURL, chunk: min(maxChunk, p.Manifest().Limits.OutputBytes)}
	if _, err := l.call(ctx, abi.ExportDataOpen, abi.DataRequest{URL: serviceURL}, nil); err != nil {
		return nil, fmt.Errorf("Pilot-Data %s: open it: %w", serviceURL, err)
	}
	return l, nil
}

// scope is what a data call reaches besides the plugin's data_dirs: the
// commands its manifest grants, on this machine.
var scope = &plugins.Scope{Runner: runner.Local}

func (l *location) call(ctx context.Context, export string, req abi.DataRequest, data []byte) ([]byte, error) {
	return l.p.CallBytes(ctx, scope, export, req, data, l.chunk)
}

func (l *location) URL() string { return l.url }

func (l *location) name(name string) (string, error) { return storage.Below(l.url, "", name) }

// Put writes src to a temporary name in chunks, reads it back and checks
// it against what was sent, then renames it to name.
func (l *location) Put(ctx context.Context, src, name string) (storage.File, error) {
	dst, err := l.name(name)
	if err != nil {
		return storage.File{}, err
	}
	f, err := l.put(ctx, src, dst)
	if err != nil {
		return storage.File{}, fmt.Errorf("Pilot-Data %s: add %s: %w", l.url, src, err)
	}
	f.Name = name
	return f, nil
}

func (l *location) put(ctx context.Context, src, dst string) (f storage.File, err error) {
	in, err := os.Open(src)
	if err != nil {
		return f, err
	}
	defer in.Close()
	tmp := storage.TempName(dst)
	defer func() {
		if err != nil { // best effort: the plugin may be what failed
			l.call(context.WithoutCancel(ctx), abi.ExportDataRemove, abi.DataRequest{URL: l.url, Name: tmp}, nil)
		}
	}()
	sent := storage.NewHashing()
	buf := make([]byte, l.chunk)
	for off := int64(0); ; {
		n, rerr := io.ReadFull(in, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return f, rerr
		}
		if n > 0 || off == 0 { // an empty file is made too
			req := abi.DataRequest{URL: l.url, Name: tmp, Offset: off, Size: n}
			if _, err := l.call(ctx, abi.ExportDataWrite, req, buf[:n]); err != nil {
				return f, err
			}
			sent.Write(buf[:n])
			off += int64(n)
		}
		if n < len(buf) {
			break
		}
	}
	want := sent.File(tmp)
	stored := storage.NewHashing()
	if _, err := io.Copy(stored, &reader{ctx: ctx, l: l, name: tmp}); err != nil {
		return f, fmt.Errorf("read back what was stored: %w", err)
	}
	if got := stored.File(tmp); got != want {
		return f, fmt.Errorf("%w: plugin %s stored %d bytes with sha256 %.16s… of the %d bytes with sha256 %.16s… it was given",
			storage.ErrChecksum, l.p.Name(), got.Size, got.SHA256, want.Size, want.SHA256)
	}
	if _, err := l.call(ctx, abi.ExportDataRename, abi.DataRequest{URL: l.url, Name: tmp, To: dst}, nil); err != nil {
		return f, err
	}
	return want, nil
}

// Get fetches f into the local path dst, checked (storage.Receive).
func (l *location) Get(ctx context.Context, f storage.File, dst string) error {
	src, err := l.name(f.Name)
	if err != nil {
		return err
	}
	if _, _, err := storage.Receive(ctx, &reader{ctx: ctx, l: l, name: src}, dst, &f); err != nil {
		return fmt.Errorf("Pilot-Data %s: copy %s to %s: %w", l.url, f.Name, dst, err)
	}
	return nil
}

func (l *location) Remove(ctx context.Context, name string) error {
	n, err := l.name(name)
	if err != nil {
		return err
	}
	if _, err := l.call(ctx, abi.ExportDataRemove, abi.DataRequest{URL: l.url, Name: n}, nil); err != nil {
		return fmt.Errorf("Pilot-Data %s: remove %s: %w", l.url, name, err)
	}
	return nil
}

// reader reads a file of the location in chunks (data_read); a chunk
// shorter than asked for is the last.
type reader struct {
	ctx     context.Context
	l       *location
	name    string
	off     int64
	pending []byte
	eof     bool
}

func (r *reader) Read(b []byte) (int, error) {
	for len(r.pending) == 0 {
		if r.eof {
			return 0, io.EOF
		}
		req := abi.DataRequest{URL: r.l.url, Name: r.name, Offset: r.off, Size: r.l.chunk}
		data, err := r.l.call(r.ctx, abi.ExportDataRead, req, nil)
		if err != nil {
			return 0, err
		}
		r.pending, r.off, r.eof = data, r.off+int64(len(data)), len(data) < r.l.chunk
	}
	n := copy(b, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}
