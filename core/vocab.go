package core

import "github.com/bigjob-go/bigjob/vocab"

// The vocabulary (states, descriptions, their parsing, validation, defaults
// and limits) lives in package vocab, which the agent and WebAssembly hosts
// use without the client; these names keep core's API.

type (
	State            = vocab.State
	EnvVar           = vocab.EnvVar
	UnitDescription  = vocab.UnitDescription
	PilotDescription = vocab.PilotDescription
	DescriptionError = vocab.DescriptionError
)

const (
	Unknown  = vocab.Unknown
	New      = vocab.New
	Pending  = vocab.Pending
	Staging  = vocab.Staging
	Running  = vocab.Running
	Done     = vocab.Done
	Canceled = vocab.Canceled
	Failed   = vocab.Failed

	DefaultWalltime = vocab.DefaultWalltime
	DefaultOutput   = vocab.DefaultOutput
	DefaultError    = vocab.DefaultError
	MaxSlots        = vocab.MaxSlots

	PilotDescriptionName = vocab.PilotDescriptionName
	UnitDescriptionName  = vocab.UnitDescriptionName

	LaunchAuto  = vocab.LaunchAuto
	LaunchLocal = vocab.LaunchLocal
	LaunchSSH   = vocab.LaunchSSH
	LaunchSRun  = vocab.LaunchSRun
)

// ParseUnitDescription is vocab.ParseUnitDescription.
func ParseUnitDescription(m map[string]any) (UnitDescription, error) {
	return vocab.ParseUnitDescription(m)
}

// ParseUnitDescriptionJSON is vocab.ParseUnitDescriptionJSON.
func ParseUnitDescriptionJSON(b []byte) (UnitDescription, error) {
	return vocab.ParseUnitDescriptionJSON(b)
}

// ParsePilotDescription is vocab.ParsePilotDescription.
func ParsePilotDescription(m map[string]any) (PilotDescription, error) {
	return vocab.ParsePilotDescription(m)
}
