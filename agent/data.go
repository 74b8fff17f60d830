package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/bigjob-go/bigjob/coord"
	"github.com/bigjob-go/bigjob/pilotdata"
	"github.com/bigjob-go/bigjob/storage"
)

// dataTimeout bounds the staging of one unit's data units, in or out.
const dataTimeout = 30 * time.Minute

// dataUnit names the data unit of a URL from a unit's input_data or
// output_data. Data units live in the pilot's coordination store.
func (a *agent) dataUnit(url string) (pilotdata.Unit, error) {
	_, name, err := coord.SplitObjectURL("data unit", url)
	if err != nil {
		return pilotdata.Unit{}, err
	}
	return pilotdata.OpenName(a.store, name)
}

// stageIn copies the files of a unit's input_data into its working
// directory, each checked against its recorded size and sha256.
func (a *agent) stageIn(ctx context.Context, urls []string, wd string) error {
	for _, url := range urls {
		du, err := a.dataUnit(url)
		if err == nil {
			err = du.Export(ctx, wd)
		}
		if err != nil {
			return fmt.Errorf("input_data %s: %w", url, noPluginStaging(err))
		}
	}
	return nil
}

// stageOut moves what a unit's output_data patterns match in its working
// directory into their data units ([{data unit URL: [patterns]}]): copied
// into every Pilot-Data of the unit, recorded, then removed from the
// directory, as the original did.
func (a *agent) stageOut(entries []any, wd string) error {
	ctx, cancel := context.WithTimeout(context.Background(), dataTimeout)
	defer cancel()
	for _, e := range entries {
		m, ok := e.(map[string]any)
		if !ok {
			return fmt.Errorf("output_data: %v is not {data unit URL: [patterns]}", e)
		}
		for url, pats := range m {
			files, err := matches(wd, pats)
			if err != nil {
				return fmt.Errorf("output_data %s: %w", url, err)
			}
			if len(files) == 0 {
				continue
			}
			du, err := a.dataUnit(url)
			if err == nil {
				err = du.AddFiles(ctx, files)
			}
			if err != nil {
				return fmt.Errorf("output_data %s: %w", url, noPluginStaging(err))
			}
			for _, f := range files {
				os.Remove(f)
			}
		}
	}
	return nil
}

// noPluginStaging says, of a Pilot-Data whose scheme the agent does not
// serve, that the agent stages only from file systems: a data plugin's
// Pilot-Data is served in the program that loaded the plugin, never here.
func noPluginStaging(err error) error {
	if !errors.Is(err, storage.ErrNoBackend) {
		return err
	}
	return fmt.Errorf("%w; the agent stages data units only from and into file://, path and ssh:// Pilot-Data: "+
		"agent staging of Pilot-Data served by data plugins is not supported (docs/ARCHITECTURE.md, Pilot-Data); "+
		"export the data unit into a Pilot-Data on a file system first", err)
}

// matches lists the regular files of dir that the shell patterns pats (a
// list of strings) match.
func matches(dir string, pats any) ([]string, error) {
	list, ok := pats.([]any)
	if !ok {
		return nil, fmt.Errorf("%v is not a list of file name patterns", pats)
	}
	var out []string
	seen := map[string]bool{}
	for _, p := range list {
		s, ok := p.(string)
		if !ok {
			return nil, fmt.Errorf("%v is not a file name pattern", p)
		}
		found, err := filepath.Glob(filepath.Join(dir, s))
		if err != nil {
			return nil, fmt.Errorf("pattern %q: %w", s, err)
		}
		for _, f := range found {
			if st, err := os.Stat(f); err == nil && st.Mode().IsRegular() && !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	return out, nil
}
