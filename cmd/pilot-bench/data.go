package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/bigjob-go/bigjob/core"
)

// dataStaging measures staging a data unit into a unit's sandbox over
// file:// (what the agent does for input_data: every file copied through a
// temporary name and checked against its sha256) against cp -r of the same
// files: 1,000 files of 4 KiB, and one file of 1 GiB; the median of three
// rounds each.
func dataStaging(ctx context.Context, o core.Options) (result, error) {
	r := result{"baseline": "cp -r of the same files into a fresh directory",
		"goal": "file:// staging at most 1.1 x cp -r's time"}
	root, err := os.MkdirTemp("", "bench-data-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	small, big := filepath.Join(root, "small"), filepath.Join(root, "big")
	var smallFiles []string
	for i := range 1000 {
		p, err := randomFile(filepath.Join(small, fmt.Sprintf("f%04d", i)), 4<<10)
		if err != nil {
			return nil, err
		}
		smallFiles = append(smallFiles, p)
	}
	bigFile, err := randomFile(filepath.Join(big, "one.bin"), 1<<30)
	if err != nil {
		return nil, err
	}
	pds, err := core.NewPilotDataService(ctx, o)
	if err != nil {
		return nil, err
	}
	defer pds.Close()
	pd, err := pds.CreatePilotData(ctx, core.PilotDataDescription{ServiceURL: "file://" + filepath.Join(root, "pd")})
	if err != nil {
		return nil, err
	}
	for _, c := range []struct {
		name  string
		src   string
		files []string
	}{{"small_files", small, smallFiles}, {"one_gib", big, []string{bigFile}}} {
		du, err := pd.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: c.files})
		if err != nil {
			return nil, err
		}
		var ours, cp []float64
		for round := range 3 {
			dst := filepath.Join(root, fmt.Sprintf("sandbox-%s-%d", c.name, round))
			start := time.Now()
			if err := du.Export(ctx, dst); err != nil {
				return nil, err
			}
			ours = append(ours, time.Since(start).Seconds())
			os.RemoveAll(dst)
			start = time.Now()
			if out, err := exec.CommandContext(ctx, "cp", "-r", c.src, dst).CombinedOutput(); err != nil {
				return nil, fmt.Errorf("cp -r: %v: %s", err, out)
			}
			cp = append(cp, time.Since(start).Seconds())
			os.RemoveAll(dst)
		}
		r[c.name+"_file_s"] = round2(median(ours))
		r[c.name+"_cp_s"] = round2(median(cp))
		r[c.name+"_ratio"] = round2(median(ours) / median(cp))
	}
	return r, nil
}

// randomFile writes size random bytes to path (its directory made) and
// returns path.
func randomFile(path string, size int64) (string, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	if _, err := io.CopyN(f, rand.Reader, size); err != nil {
		return "", err
	}
	return path, f.Close()
}
