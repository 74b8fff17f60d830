// Package vocab is the project's shared vocabulary: the states of pilots and
// units, the pilot and unit descriptions with their loose BigJob parsing at
// the door, their validation, defaults and limits. It is the bottom of the
// layering (docs/ARCHITECTURE.md): it imports nothing of the project but
// internal helpers, so that the client (core), the agent and any WebAssembly
// host (it builds for GOOS=wasip1 and GOOS=js) share one definition.
package vocab
