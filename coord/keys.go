package coord

import (
	"fmt"
	"strings"
)

// Key layout. Every key of one pilot compute service carries the hash tag
// {pcs-<uuid>}, so that on Redis Cluster they all live in one slot and the
// multi-key scripts below stay legal. With P = "bigjob:{pcs-<uuid>}:":
//
//	P info             HASH    service record (created, state)
//	P pilots           SET     pilot ids (bj-<uuid>) of the service
//	P q                STREAM  service-wide queue (late binding), group "agents"
//	P open             SET     the service's units that are not final
//	P ev               STREAM  state-change events, up to EventsPerEntry per entry, trimmed to about MaxEvents entries
//	P ev:n             STRING  sequence number of the last event entry (gap detection)
//	P bj-<u>           HASH    pilot record (state, start_time, last_contact, ...)
//	P bj-<u>:q         STREAM  the pilot's own queue, group "agents"
//	P bj-<u>:ctl       LIST    control commands for the agent ("stop", "cancel cu-<u>")
//	P bj-<u>:units     LIST    units submitted to this pilot and service-queue units it took, oldest first
//	P bj-<u>:pending   SET     units submitted to this pilot that are not final yet
//	P bj-<u>:active    SET     units claimed by this pilot's agent that are not final yet
//	P cu-<u>           HASH    unit record (state, timestamps, exit_code, description, ...)
//	P plugin:<sha256>  HASH    a hook plugin the service's agents load (manifest, module)
//	P reaper           STRING  lease: the pilot whose agent checks its peers' heartbeats (expires)
//
// The only keys outside the tag are the pilot aliases: the key named like the
// pilot's public name, bigjob:bj-<uuid>:<host>, holds the service id, so that
// a pilot URL alone is enough to find its keys (a single-key GET).
//
// The Lua scripts in lua/ build the same names from P; keep both in step.
const (
	// Namespace prefixes every key this project writes.
	Namespace = "bigjob:"
	// Group is the consumer group of every queue stream.
	Group = "agents"
)

// Keys names the keys of one service. The zero value is not usable.
type Keys struct {
	service string // pcs-<uuid>
	prefix  string // bigjob:{pcs-<uuid>}:
}

// ServiceKeys returns the key names of service id ("pcs-<uuid>").
func ServiceKeys(serviceID string) Keys {
	return Keys{service: serviceID, prefix: Namespace + "{" + serviceID + "}:"}
}

// Service is the service id these keys belong to.
func (k Keys) Service() string { return k.service }

// Prefix is the common prefix P of every key of the service.
func (k Keys) Prefix() string { return k.prefix }

func (k Keys) Info() string                  { return k.prefix + "info" }
func (k Keys) Pilots() string                { return k.prefix + "pilots" }
func (k Keys) Queue() string                 { return k.prefix + "q" }
func (k Keys) Open() string                  { return k.prefix + "open" }
func (k Keys) Counts() string                { return k.prefix + "counts" }
func (k Keys) Held() string                  { return k.prefix + "held" }
func (k Keys) Events() string                { return k.prefix + "ev" }
func (k Keys) EventSeq() string              { return k.prefix + "ev:n" }
func (k Keys) Pilot(id string) string        { return k.prefix + id }
func (k Keys) PilotQueue(id string) string   { return k.prefix + id + ":q" }
func (k Keys) PilotControl(id string) string { return k.prefix + id + ":ctl" }
func (k Keys) PilotUnits(id string) string   { return k.prefix + id + ":units" }
func (k Keys) PilotPending(id string) string { return k.prefix + id + ":pending" }
func (k Keys) PilotActive(id string) string  { return k.prefix + id + ":active" }
func (k Keys) Unit(id string) string         { return k.prefix + id }
func (k Keys) Reaper() string                { return k.prefix + "reaper" }

// Plugin is the key of the plugin bundle whose manifest has this sha256.
func (k Keys) Plugin(digest string) string { return k.prefix + "plugin:" + digest }

// PilotName is the public relative name of a pilot, as BigJob shows it:
// "bigjob:bj-<uuid>:<host>". It is also the key of the pilot's alias.
func PilotName(pilotID, host string) string { return Namespace + pilotID + ":" + host }

// ParsePilotName splits "bigjob:bj-<uuid>:<host>" into its id and host.
func ParsePilotName(name string) (pilotID, host string, err error) {
	rest, ok := strings.CutPrefix(name, Namespace)
	if ok {
		pilotID, host, ok = strings.Cut(rest, ":")
	}
	if !ok || !strings.HasPrefix(pilotID, "bj-") || len(pilotID) < 4 || host == "" || strings.Contains(host, ":") {
		return "", "", fmt.Errorf("%q is not a pilot name; expected bigjob:bj-<uuid>:<host>", name)
	}
	return pilotID, host, nil
}

// ServiceQueueName is the public prefix of units submitted to the service-wide
// queue, as BigJob names it: "PilotComputeServiceQueue-pcs-<uuid>".
func ServiceQueueName(serviceID string) string { return "PilotComputeServiceQueue-" + serviceID }
