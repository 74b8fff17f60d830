package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/bigjob-go/bigjob/core"
	"github.com/bigjob-go/bigjob/internal/sshd"
)

// dataStaging measures staging a data unit into a unit's sandbox the way the
// agent stages input_data (every file copied through a temporary name and
// checked against its recorded size and sha256), from a Pilot-Data on
// file:// against cp -r, and from one on ssh:// (a private sshd on
// loopback, reached with the system's ssh as the agent does: storage/sshcmd)
// against scp -r over the same sshd: -data-files files of 4 KiB, and one
// file of -data-mib MiB; the median of three rounds each. Each baseline
// copies the data unit's directory in the Pilot-Data, the bytes the staging
// reads. It also times placing the files (submit_data_unit: each file
// hashed and put through a temporary name) against cp -r / scp -r of their
// local directory into the Pilot-Data's.
func dataStaging(ctx context.Context, o core.Options) ([]result, error) {
	root, err := os.MkdirTemp("", "bench-data-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	var smallFiles []string
	for i := range *flagDataFiles {
		p, err := randomFile(filepath.Join(root, "small", fmt.Sprintf("f%04d", i)), 4<<10)
		if err != nil {
			return nil, err
		}
		smallFiles = append(smallFiles, p)
	}
	bigFile, err := randomFile(filepath.Join(root, "big", "one.bin"), int64(*flagDataMiB)<<20)
	if err != nil {
		return nil, err
	}
	data := []stagedData{{"small_files", smallFiles}, {"big_file", []string{bigFile}}}

	pds, err := core.NewPilotDataService(ctx, o)
	if err != nil {
		return nil, err
	}
	defer pds.Close()

	local := filepath.Join(root, "pd-file")
	cp := func(ctx context.Context, src, dst string) error { return command(ctx, "cp", "-r", src, dst) }
	file, err := staging(ctx, pds, "file://"+local, local, data, cp, cp)
	if err != nil {
		return nil, fmt.Errorf("file://: %w", err)
	}
	file["baseline"] = "cp -r of the data unit's directory into a fresh directory; placing: cp -r of the files' directory into the Pilot-Data"
	file["goal"] = "file:// staging at most 1.1 x cp -r's time"

	srv, err := startSSHD(filepath.Join(root, "sshd"))
	if err != nil {
		return nil, err
	}
	defer srv.Stop()
	remote := filepath.Join(root, "pd-ssh")
	scp := func(ctx context.Context, from, to string) error {
		return command(ctx, "scp", "-r", "-q", "-P", strconv.Itoa(srv.Port), "-i", srv.UserKey,
			"-o", "UserKnownHostsFile="+srv.KnownHosts, "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", from, to)
	}
	host := srv.User + "@" + srv.Host + ":"
	ssh, err := staging(ctx, pds, srv.URL("ssh")+remote, remote, data,
		func(ctx context.Context, src, dst string) error { return scp(ctx, host+src, dst) },
		func(ctx context.Context, src, dst string) error { return scp(ctx, src, host+dst) })
	if err != nil {
		return nil, fmt.Errorf("ssh://: %w", err)
	}
	ssh["baseline"] = "scp -r of the data unit's directory over the same sshd (a new connection, as the staging's); placing: scp -r of the files' directory to the Pilot-Data"
	ssh["goal"] = "ssh:// staging at most 1.2 x scp -r's time"
	return []result{file, ssh}, nil
}

// stagedData is a set of local files made into one data unit.
type stagedData struct {
	name  string
	files []string
}

// staging makes a Pilot-Data at url (its directory dir on this machine),
// a data unit of each set of files in it, and measures three rounds of
// exporting each into a fresh directory beside dir, each round followed by
// baseline copying the unit's directory in the Pilot-Data to a fresh
// directory.
func staging(ctx context.Context, pds *core.PilotDataService, url, dir string, data []stagedData,
	baseline, upload func(ctx context.Context, src, dst string) error) (result, error) {
	scheme, _, _ := strings.Cut(url, "://")
	r := result{"pilot_data": scheme + "://", "files": *flagDataFiles, "file_kib": 4, "big_file_mib": *flagDataMiB}
	pd, err := pds.CreatePilotData(ctx, core.PilotDataDescription{ServiceURL: url})
	if err != nil {
		return nil, err
	}
	for _, d := range data {
		var du *core.DataUnit
		up := func(round int) string { return filepath.Join(dir, fmt.Sprintf("upload-%s-%d", d.name, round)) }
		err := against(r, d.name+"_place", func(int) error { // submit_data_unit against uploading the files' directory
			placed, err := pd.SubmitDataUnit(ctx, core.DataUnitDescription{FileURLs: d.files})
			if du == nil {
				du = placed
			}
			return err
		}, func(round int) error {
			return upload(ctx, filepath.Dir(d.files[0]), up(round))
		}, func(round int) { os.RemoveAll(up(round)) })
		if err != nil {
			return nil, err
		}
		dst := func(round int) string {
			return filepath.Join(filepath.Dir(dir), fmt.Sprintf("sandbox-%s-%s-%d", scheme, d.name, round))
		}
		err = against(r, d.name, func(round int) error {
			return du.Export(ctx, dst(round))
		}, func(round int) error {
			return baseline(ctx, filepath.Join(dir, du.ID()), dst(round))
		}, func(round int) { os.RemoveAll(dst(round)) })
		if err != nil {
			return nil, err
		}
	}
	return r, nil
}

// against times ours and then base, three rounds, tidy (untimed) after
// each, and records in r the medians (prefix_s, prefix_baseline_s) and
// their ratio (prefix_ratio).
func against(r result, prefix string, ours, base func(round int) error, tidy func(round int)) error {
	var o, b []float64
	for round := range 3 {
		for _, c := range []struct {
			run  func(int) error
			into *[]float64
		}{{ours, &o}, {base, &b}} {
			start := time.Now()
			if err := c.run(round); err != nil {
				return err
			}
			*c.into = append(*c.into, time.Since(start).Seconds())
			tidy(round)
		}
	}
	r[prefix+"_s"] = round2(median(o))
	r[prefix+"_baseline_s"] = round2(median(b))
	r[prefix+"_ratio"] = round2(median(o) / median(b))
	return nil
}

// startSSHD starts a private sshd in dir (created) and points this
// process's SSH clients at it: its user key and known_hosts, no agent.
func startSSHD(dir string) (*sshd.Server, error) {
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, err
	}
	srv, err := sshd.Start(dir, nil)
	if err != nil {
		return nil, err
	}
	os.Setenv("BIGJOB_SSH_IDENTITY", srv.UserKey)
	os.Setenv("BIGJOB_SSH_KNOWN_HOSTS", srv.KnownHosts)
	os.Setenv("SSH_AUTH_SOCK", "")
	return srv, nil
}

// command runs a command, its output in the error if it fails.
func command(ctx context.Context, name string, args ...string) error {
	if out, err := exec.CommandContext(ctx, name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %v: %s", name, err, out)
	}
	return nil
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
