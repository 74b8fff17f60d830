//go:build wasip1

// Command gobomb is a pre_unit hook that keeps every buffer it allocates
// until the Go runtime runs out of memory.
package main

import (
	"github.com/bigjob-go/bigjob/plugins/abi"
	pdk "github.com/bigjob-go/bigjob/plugins/pdk/go"
)

var hoard [][]byte

func init() {
	pdk.Register(pdk.Plugin{Name: "gobomb", Version: "1", PreUnit: func(u *abi.Unit) error {
		for {
			hoard = append(hoard, make([]byte, 1<<20))
		}
	}})
}

func main() {}
