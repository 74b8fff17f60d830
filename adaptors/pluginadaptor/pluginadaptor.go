// Package pluginadaptor serves the URL schemes of adaptor plugins (package
// plugins, kind "adaptor") as batch adaptors, each also as +ssh: the host
// does what every batch adaptor does and the plugin only knows its resource
// manager's dialect. A program serves adaptor plugins by importing it (its
// init registers it with plugins.ServeAdaptors); package plugins itself
// knows nothing of batch systems or SSH.
package pluginadaptor

import (
	"context"
	"fmt"
	"net/url"

	"github.com/bigjob-go/bigjob/adaptors"
	"github.com/bigjob-go/bigjob/adaptors/batch"
	"github.com/bigjob-go/bigjob/plugins"
	"github.com/bigjob-go/bigjob/plugins/abi"
	"github.com/bigjob-go/bigjob/runner"
)

func init() {
	plugins.ServeAdaptors(func(p *plugins.Plugin) error { return adaptors.Add(factories(p)) })
}

// system is an adaptor plugin seen as a batch.System: the host does what
// every batch adaptor does (working directory, agent placement, the
// coordination file, submit-then-confirm, cancel-then-wait) and the plugin
// only knows its resource manager's dialect. Its commands run through the
// runner of the adaptor that made it: this machine, or the pilot's SSH
// connection.
type system struct {
	p        *plugins.Plugin
	runner   runner.Runner
	resource string // the resource URL the adaptor was opened for
}

var _ batch.System = system{}

// factories are the factories of p's schemes, each also as +ssh.
func factories(p *plugins.Plugin) map[string]adaptors.Factory {
	newSys := func(r runner.Runner, u *url.URL) batch.System { return system{p: p, runner: r, resource: u.String()} }
	out := map[string]adaptors.Factory{}
	for _, s := range p.Info().Schemes {
		out[s] = batch.LocalFactory(s, newSys)
		out[s+"+ssh"] = batch.SSHFactory(s+"+ssh", newSys)
	}
	return out
}

func (s system) Name() string { return s.p.Name() + " (plugin)" }

func (s system) scope(dir string) *plugins.Scope {
	return &plugins.Scope{Runner: s.runner, WorkDir: dir}
}

func (s system) job(j batch.Job) abi.Job {
	return abi.Job{
		PilotID: j.PilotID, Resource: s.resource, Name: j.Name, Dir: j.Dir, Stdout: j.Stdout, Stderr: j.Stderr,
		AgentLine: j.AgentLine(), Slots: j.Slots, ProcessesPerNode: j.ProcessesPerNode,
		WalltimeSeconds: int(j.Walltime.Seconds()), Queue: j.Queue, Project: j.Project,
		SPMDVariation: j.SPMDVariation, CandidateHosts: j.CandidateHosts,
	}
}

// Script asks the plugin for the job script; the plugin's timeout bounds
// the call.
func (s system) Script(j batch.Job) (string, error) {
	var res abi.ScriptResponse
	if err := s.p.Call(context.Background(), s.scope(j.Dir), abi.ExportScript, abi.ScriptRequest{Job: s.job(j)}, &res); err != nil {
		return "", err
	}
	if res.Script == "" {
		return "", &plugins.Error{Plugin: s.p.Name(), Export: abi.ExportScript, Message: "answered an empty script"}
	}
	return res.Script, nil
}

func (s system) Submit(ctx context.Context, _ batch.Exec, j batch.Job, path string) (string, error) {
	var res abi.SubmitResponse
	req := abi.SubmitRequest{Job: s.job(j), ScriptPath: path}
	if err := s.p.Call(ctx, s.scope(j.Dir), abi.ExportSubmit, req, &res); err != nil {
		return "", err
	}
	if res.ID == "" {
		return "", &plugins.Error{Plugin: s.p.Name(), Export: abi.ExportSubmit, Message: "answered no job id"}
	}
	return res.ID, nil
}

func (s system) State(ctx context.Context, _ batch.Exec, id string) (adaptors.Status, error) {
	var res abi.StateResponse
	if err := s.p.Call(ctx, s.scope(""), abi.ExportState, abi.JobRequest{ID: id, Resource: s.resource}, &res); err != nil {
		return adaptors.Status{}, err
	}
	return statusOf(s.p.Name(), res)
}

func (s system) Cancel(ctx context.Context, _ batch.Exec, id string) error {
	return s.p.Call(ctx, s.scope(""), abi.ExportCancel, abi.JobRequest{ID: id, Resource: s.resource}, nil)
}

var states = map[string]adaptors.JobState{
	abi.StateQueued: adaptors.JobQueued, abi.StateRunning: adaptors.JobRunning,
	abi.StateEnded: adaptors.JobEnded, abi.StateUnknown: adaptors.JobUnknown,
}

var ends = map[string]adaptors.EndKind{
	"": adaptors.EndUnknown, abi.EndUnknown: adaptors.EndUnknown, abi.EndCompleted: adaptors.EndCompleted,
	abi.EndWalltime: adaptors.EndWalltime, abi.EndCanceled: adaptors.EndCanceled, abi.EndFailed: adaptors.EndFailed,
}

func statusOf(plugin string, r abi.StateResponse) (adaptors.Status, error) {
	st, ok := states[r.State]
	end, ok2 := ends[r.End]
	if !ok || !ok2 {
		return adaptors.Status{}, &plugins.Error{Plugin: plugin, Export: abi.ExportState,
			Message: fmt.Sprintf("answered state %q end %q; states are queued, running, ended, unknown and ends completed, walltime, canceled, failed, unknown", r.State, r.End)}
	}
	return adaptors.Status{State: st, End: end, Reason: r.Reason}, nil
}
