package batch

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/bigjob-go/bigjob/adaptors"
	"github.com/bigjob-go/bigjob/adaptors/remote"
	"github.com/bigjob-go/bigjob/runner"
)

// Staged is what a pilot's agent needs on the resource before it starts.
type Staged struct {
	Dir   string   // the working directory: absolute, exists
	Files string   // Dir/.bigjob, owner-only: job script, coordination file, staged agent
	Agent string   // path of the agent binary on the resource
	Coord string   // the coordination file (mode 0600), which the agent removes once read
	Env   []string // the agent's environment, less the coordination URL
}

// Stage prepares dir (an absolute directory on r's host that
// runner.MakeWorkDir made) for the pilot of req: it places the agent (see
// AgentOnResource) and writes the coordination URL into a file of mode 0600,
// so that it never appears on a command line or in a job script. On error,
// nothing secret is left behind.
func Stage(ctx context.Context, r runner.Runner, req adaptors.Request, dir string) (Staged, error) {
	s := Staged{Dir: dir, Files: path.Join(dir, runner.PrivateDir)}
	var coordURL string
	for _, e := range req.Agent.Env {
		if v, ok := strings.CutPrefix(e, adaptors.EnvCoordination+"="); ok {
			coordURL = v
		} else {
			s.Env = append(s.Env, e)
		}
	}
	if coordURL == "" {
		return s, fmt.Errorf("the agent request carries no %s", adaptors.EnvCoordination)
	}
	var err error
	if s.Agent, err = AgentOnResource(ctx, r, req, dir); err != nil {
		return s, err
	}
	s.Coord = path.Join(s.Files, req.PilotID+".coord")
	if err := runner.WriteFile(ctx, r, s.Coord, []byte(coordURL+"\n"), 0o600); err != nil {
		return s, fmt.Errorf("write the coordination file: %w", err)
	}
	return s, nil
}

// AgentOnResource returns the path of the agent binary on the runner's
// host: the description's agent_path if given (it must be executable
// there), else the local binary, copied into dir/.bigjob/ unless the host
// is this machine.
func AgentOnResource(ctx context.Context, r runner.Runner, req adaptors.Request, dir string) (string, error) {
	if p := req.AgentPath; p != "" {
		if _, err := r.Run(ctx, "test -x "+runner.Quote(p), nil); err != nil {
			var ce *runner.CommandError
			if errors.As(err, &ce) {
				return "", fmt.Errorf("agent_path %q is not an executable file on %s; give the path of pilot-agent there, or leave agent_path out to have it copied", p, r.Host())
			}
			return "", err
		}
		return p, nil
	}
	p, err := remote.StageAgent(ctx, r, req.Agent.Path, dir)
	if err != nil {
		return "", fmt.Errorf("place the agent: %w", err)
	}
	return p, nil
}
