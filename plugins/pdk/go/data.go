//go:build wasip1

package pdk

import (
	"errors"

	"github.com/bigjob-go/bigjob/plugins/abi"
)

// Data is what a data plugin implements: where the files of Pilot-Data at
// its schemes' URLs are kept. It only moves bytes: the host names every
// file (clean, relative, slash-separated), writes each through a temporary
// name that it renames once the bytes read back match their size and
// sha256, and checks every file it reads against them.
type Data interface {
	// Open prepares the location of a Pilot-Data URL (e.g. makes its
	// directory), or refuses it.
	Open(url string) error
	// Write writes data at offset of name; offset 0 creates name,
	// replacing what was there.
	Write(url, name string, offset int64, data []byte) error
	// Read reads into buf from offset of name and returns how many bytes
	// it read: fewer than len(buf) (none) only at the file's end.
	Read(url, name string, offset int64, buf []byte) (int, error)
	// Rename gives name the name to, replacing to.
	Rename(url, name, to string) error
	// Remove removes name and what is under it; nothing there is no error.
	Remove(url, name string) error
}

//go:wasmimport pilot data_in
func hostDataIn(buf, limit uint32) uint32

//go:wasmimport pilot data_out
func hostDataOut(ptr, n uint32) int32

var errNotData = errors.New("this plugin registered no Data")

// dataCall decodes a data request and runs f on the plugin's Data.
func dataCall(ptr, n uint32, f func(Data, abi.DataRequest) error) uint64 {
	var req abi.DataRequest
	if err := decode(ptr, n, &req); err != nil || plugin.Data == nil {
		return errorAnswer(orNot(err, errNotData))
	}
	if err := f(plugin.Data, req); err != nil {
		return errorAnswer(err)
	}
	return pack([]byte("{}"))
}

// buffer is the instance's transfer buffer, reused between calls.
var buffer []byte

func chunk(size int) []byte {
	if cap(buffer) < size {
		buffer = make([]byte, size)
	}
	return buffer[:size]
}

//go:wasmexport data_open
func dataOpen(ptr, n uint32) uint64 {
	return dataCall(ptr, n, func(d Data, r abi.DataRequest) error { return d.Open(r.URL) })
}

//go:wasmexport data_write
func dataWrite(ptr, n uint32) uint64 {
	return dataCall(ptr, n, func(d Data, r abi.DataRequest) error {
		buf := chunk(r.Size)
		if got := hostDataIn(addr(buf), uint32(len(buf))); int(got) != r.Size {
			return errors.New("data_in gave a chunk of another size than the request's")
		}
		return d.Write(r.URL, r.Name, r.Offset, buf)
	})
}

//go:wasmexport data_read
func dataRead(ptr, n uint32) uint64 {
	return dataCall(ptr, n, func(d Data, r abi.DataRequest) error {
		buf := chunk(r.Size)
		got, err := d.Read(r.URL, r.Name, r.Offset, buf)
		if err != nil {
			return err
		}
		if got > 0 && hostDataOut(addr(buf), uint32(got)) != 0 {
			return errors.New("the host refused the bytes read (data_out)")
		}
		return nil
	})
}

//go:wasmexport data_rename
func dataRename(ptr, n uint32) uint64 {
	return dataCall(ptr, n, func(d Data, r abi.DataRequest) error { return d.Rename(r.URL, r.Name, r.To) })
}

//go:wasmexport data_remove
func dataRemove(ptr, n uint32) uint64 {
	return dataCall(ptr, n, func(d Data, r abi.DataRequest) error { return d.Remove(r.URL, r.Name) })
}
