package coord

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Errors returned by the operations below. core turns them into messages
// that name the object and the fix.
var (
	ErrNotFound        = errors.New("not found in the coordination store")
	ErrServiceCanceled = errors.New("the pilot compute service was canceled")
)

// TooLargeError: a unit needs more slots than its pilot (or than the largest
// live pilot of the service) has.
type TooLargeError struct{ Need, Have int }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("the unit needs %d slots but the pilot has only %d", e.Need, e.Have)
}

// PilotEndedError: the pilot is in a final state and takes no more units.
type PilotEndedError struct{ State string }

func (e *PilotEndedError) Error() string { return "the pilot is " + e.State }

// BatchSize bounds the units (or keys) per script call or pipeline, so that
// no call blocks Redis for long and no argument list grows without bound.
// Submitters that encode units in batches use it too: each of their batches
// is then one script call.
const BatchSize = 1000

// Record field names that both sides read.
const (
	FieldState       = "state"
	FieldDescription = "description"
	FieldSlots       = "slots"
	FieldPilot       = "pilot"
	FieldVia         = "via" // how a unit was queued: ViaPilot, ViaService or ViaHeld
	FieldHeartbeat   = "heartbeat"
	FieldHandle      = "handle"
	FieldName        = "name"
	FieldReason      = "reason"
	FieldSig         = "sig"         // signature of the description (Key.Sign)
	FieldAttempt     = "attempt"     // how often the unit was started
	FieldEndedUnits  = "ended_units" // units that ended with their pilot (lua/pilot_finish.lua)
)

// Values of FieldVia (lua/submit.lua writes them).
const (
	ViaPilot   = "pilot"   // submitted to a pilot's own queue
	ViaService = "service" // submitted to the service queue
	ViaHeld    = "held"    // held for central placement
)

// NewUnit is a unit to submit: its id (cu-<uuid>), the slots it needs, its
// description (canonical JSON, read back by the agent) and the description's
// signature (Key.Sign with SignUnit), without which no agent runs it.
type NewUnit struct {
	ID          string
	Slots       int
	Description []byte
	Sig         string
}

// Refused is a unit Submit did not queue, and why (a *TooLargeError).
// The units around it were queued.
type Refused struct {
	Index int // in the units given to Submit
	Err   error
}

// Submit queues units on pilot target ("" for the service-wide queue),
// creating their records atomically with the queue entries. A unit larger
// than its pilot (or than the largest live pilot of the service) is refused
// alone. Units are sent in batches; an error ends the call (no unit of that
// batch is queued), and n says how many units the batches before it
// handled, queued or refused.
func (s *Store) Submit(ctx context.Context, k Keys, target string, units []NewUnit) (refused []Refused, n int, err error) {
	for len(units) > 0 {
		b := min(len(units), BatchSize)
		args := make([]any, 0, 2+4*b)
		args = append(args, target, b)
		for _, u := range units[:b] {
			args = append(args, u.ID, u.Slots, u.Description, u.Sig)
		}
		v, err := s.run(ctx, scriptSubmit, k, args...)
		if err != nil {
			return refused, n, err
		}
		r := replyStrings(v)
		if err := submitError(r); err != nil {
			return refused, n, err
		}
		for i := 1; i+2 < len(r); i += 3 {
			idx, _ := strconv.Atoi(r[i])
			need, _ := strconv.Atoi(r[i+1])
			have, _ := strconv.Atoi(r[i+2])
			refused = append(refused, Refused{Index: n + idx, Err: &TooLargeError{Need: need, Have: have}})
		}
		n += b
		units = units[b:]
	}
	return refused, n, nil
}

func submitError(r []string) error {
	if len(r) == 0 {
		return fmt.Errorf("submit: empty reply")
	}
	switch r[0] {
	case "ok":
		return nil
	case "service-canceled":
		return ErrServiceCanceled
	case "no-pilot":
		return ErrNotFound
	case "pilot-final":
		return &PilotEndedError{State: at(r, 1)}
	}
	return fmt.Errorf("submit: unexpected reply %q", r)
}

func at(r []string, i int) string {
	if i < len(r) {
		return r[i]
	}
	return ""
}

// CreatePilot writes a new pilot record (state Unknown) with its queue,
// and the alias that resolves its public name to the service.
func (s *Store) CreatePilot(ctx context.Context, k Keys, pilotID, name string, slots int, fields map[string]string) error {
	args := []any{pilotID, slots, FieldName, name}
	for f, v := range fields {
		args = append(args, f, v)
	}
	v, err := s.run(ctx, scriptPilotCreate, k, args...)
	if err != nil {
		return err
	}
	if r := replyStrings(v); at(r, 0) == "service-canceled" {
		return ErrServiceCanceled
	}
	return s.rdb.Set(ctx, name, k.Service(), s.ttl).Err()
}

// TouchAlias renews the TTL of a pilot's alias.
func (s *Store) TouchAlias(ctx context.Context, name string) error {
	if s.ttl <= 0 {
		return nil
	}
	return s.rdb.Expire(ctx, name, s.ttl).Err()
}

// ResolvePilot returns the service id of the pilot with public name
// bigjob:bj-<uuid>:<host>, or ErrNotFound.
func (s *Store) ResolvePilot(ctx context.Context, name string) (string, error) {
	v, err := s.rdb.Get(ctx, name).Result()
	if err == redis.Nil {
		return "", ErrNotFound
	}
	return v, err
}

// PilotRunning records that the agent of pilotID started. It returns
// *PilotEndedError if the pilot ended meanwhile, ErrNotFound if it is gone.
func (s *Store) PilotRunning(ctx context.Context, k Keys, pilotID string, fields map[string]string) error {
	args := []any{pilotID}
	for f, v := range fields {
		args = append(args, f, v)
	}
	v, err := s.run(ctx, scriptPilotRunning, k, args...)
	if err != nil {
		return err
	}
	return pilotStatus(replyStrings(v))
}

// Heartbeat refreshes the pilot's last_contact and the TTL of the service's
// keys. Errors as PilotRunning.
func (s *Store) Heartbeat(ctx context.Context, k Keys, pilotID string) error {
	v, err := s.run(ctx, scriptHeartbeat, k, pilotID)
	if err != nil {
		return err
	}
	return pilotStatus(replyStrings(v))
}

func pilotStatus(r []string) error {
	switch at(r, 0) {
	case "ok":
		return nil
	case "final":
		return &PilotEndedError{State: at(r, 1)}
	case "missing":
		return ErrNotFound
	}
	return fmt.Errorf("unexpected reply %q", r)
}

// PilotEnd says how a pilot ends: its final state (Done or Failed) and
// reason, and the final state and reason of its unfinished units.
type PilotEnd struct {
	State, Reason         string
	UnitState, UnitReason string
	// Lost: the agent is gone without having ended its units (killed, node
	// lost, walltime, cut off). The service units it had started go back to
	// the service queue, up to the service's max_attempts starts each.
	Lost bool
}

// LostPilot is how a pilot whose agent is gone ends: in state (Done when
// its resource ended it as planned, Failed otherwise) because of why; its
// started service units go back to the service queue, its other unfinished
// units fail naming the pilot (name, or its id if name is "").
func LostPilot(id, name, state, why string) PilotEnd {
	if name == "" {
		name = id
	}
	verb := "ended"
	if state == "Failed" {
		verb = "failed"
	}
	return PilotEnd{State: state, Reason: why, UnitState: "Failed",
		UnitReason: "pilot " + name + " " + verb + ": " + why, Lost: true}
}

// FinishPilot ends a pilot as end says. Service units it had not started go
// back to the service queue. It returns *PilotEndedError if the pilot was
// final already (nothing changed), ErrNotFound if it does not exist.
func (s *Store) FinishPilot(ctx context.Context, k Keys, pilotID string, end PilotEnd) error {
	lost := ""
	if end.Lost {
		lost = "lost"
	}
	v, err := s.run(ctx, scriptPilotFinish, k, pilotID, end.State, end.Reason, end.UnitState, end.UnitReason, lost)
	if err != nil {
		return err
	}
	return pilotStatus(replyStrings(v))
}

// CancelService marks the service canceled and cancels the units in its
// service-wide queue. Cancel its pilots first.
func (s *Store) CancelService(ctx context.Context, k Keys, reason string) error {
	_, err := s.run(ctx, scriptServiceCancel, k, reason)
	return err
}

// CancelOutcome says what CancelUnit did.
type CancelOutcome struct {
	Canceled bool   // the unit was queued and is Canceled now
	Owner    string // the pilot whose agent was asked to cancel it
	Final    string // the unit was final already, in this state
}

// CancelUnit cancels a queued unit at once or asks the agent that owns it to
// kill it. It returns ErrNotFound for an unknown unit.
func (s *Store) CancelUnit(ctx context.Context, k Keys, unitID, reason string) (CancelOutcome, error) {
	v, err := s.run(ctx, scriptCancelUnit, k, unitID, reason)
	if err != nil {
		return CancelOutcome{}, err
	}
	r := replyStrings(v)
	switch at(r, 0) {
	case "canceled":
		return CancelOutcome{Canceled: true}, nil
	case "owned":
		return CancelOutcome{Owner: at(r, 1)}, nil
	case "final":
		return CancelOutcome{Final: at(r, 1)}, nil
	case "missing":
		return CancelOutcome{}, ErrNotFound
	}
	return CancelOutcome{}, fmt.Errorf("cancel unit: unexpected reply %q", r)
}

// QueueEntry is a unit id read from a queue stream.
type QueueEntry struct {
	Own     bool // from the pilot's own queue, else from the service queue
	EntryID string
	UnitID  string
}

// ReadQueues blocks up to block for entries of the pilot's own queue (if
// own) and of the service queue (if svc), at most count from each. It returns
// nil on timeout. Entries without a unit (nudges) have UnitID "".
func (s *Store) ReadQueues(ctx context.Context, k Keys, pilotID string, own, svc bool, count int64, block time.Duration) ([]QueueEntry, error) {
	var streams []string
	if own {
		streams = append(streams, k.PilotQueue(pilotID))
	}
	if svc {
		streams = append(streams, k.Queue())
	}
	if len(streams) == 0 {
		return nil, nil
	}
	for range streams {
		streams = append(streams, ">")
	}
	args := &redis.XReadGroupArgs{
		Group:    Group,
		Consumer: pilotID,
		Streams:  streams,
		Count:    count,
		Block:    block,
	}
	res, err := s.rdb.XReadGroup(ctx, args).Result()
	if err != nil && strings.HasPrefix(err.Error(), "NOGROUP") {
		// A queue expired or was never created: (re)create both groups.
		for _, q := range []string{k.PilotQueue(pilotID), k.Queue()} {
			if e := s.rdb.XGroupCreateMkStream(ctx, q, Group, "0").Err(); e != nil && !strings.HasPrefix(e.Error(), "BUSYGROUP") {
				return nil, fmt.Errorf("create consumer group on %s: %w", q, e)
			}
		}
		res, err = s.rdb.XReadGroup(ctx, args).Result()
	}
	if err == redis.Nil {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read queues: %w", err)
	}
	var out []QueueEntry
	for _, st := range res {
		own := st.Stream == k.PilotQueue(pilotID)
		for _, m := range st.Messages {
			uid, _ := m.Values["u"].(string)
			out = append(out, QueueEntry{Own: own, EntryID: m.ID, UnitID: uid})
		}
	}
	return out, nil
}

// Nudge wakes the agent's blocking queue read with an entry that carries no
// unit (claims discard it).
func (s *Store) Nudge(ctx context.Context, k Keys, pilotID string) error {
	return s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: k.PilotQueue(pilotID), Values: []string{"w", "1"}}).Err()
}

// Claimed is a unit an agent now owns, with its description and the
// description's signature (the agent checks it before running anything).
type Claimed struct {
	UnitID      string
	Service     bool // it came through the service-wide queue
	Description []byte
	Sig         string
}

// Want is how many more units a claim reads without blocking: Own from the
// pilot's queue, Service from the service queue.
type Want struct{ Own, Service int }

// Claim takes units for the pilot (state New): the entries read already
// (by ReadQueues), plus what want allows more from the pilot's own queue and
// the service queue without blocking, all in one round trip.
// Every entry is removed from its stream; units canceled while queued are
// dropped. token names the claim: unique per claim of the agent, repeated
// when the claim is retried. A retry of a claim that went through (its
// reply was lost) returns exactly the units that claim took, so no unit is
// handed to the agent twice.
func (s *Store) Claim(ctx context.Context, k Keys, pilotID, token string, want Want, entries []QueueEntry) ([]Claimed, error) {
	var out []Claimed
	for first, part := true, 0; first || len(entries) > 0; first, part = false, part+1 {
		n := min(len(entries), BatchSize)
		args := make([]any, 0, 5+3*n)
		args = append(args, pilotID, token+"."+strconv.Itoa(part), max(want.Own, 0), max(want.Service, 0), n)
		for _, e := range entries[:n] {
			q := "s"
			if e.Own {
				q = "p"
			}
			args = append(args, q, e.EntryID, e.UnitID)
		}
		v, err := s.run(ctx, scriptClaim, k, args...)
		if err != nil {
			return out, err
		}
		r := replyStrings(v)
		for i := 0; i+3 < len(r); i += 4 {
			out = append(out, Claimed{UnitID: r[i], Service: r[i+1] == ViaService, Description: []byte(r[i+2]), Sig: r[i+3]})
		}
		entries = entries[n:]
		want = Want{}
	}
	return out, nil
}

// Update is a state change of a unit with the record fields that go with it
// (pairs: name, value, name, value, ...). Passed lists states the unit went
// through before State since the last update (they produce events only).
type Update struct {
	UnitID string
	State  string
	Passed []string
	Fields []string
}

// Field is the value of field name in u.Fields, or "".
func (u Update) Field(name string) string {
	for i := 0; i+1 < len(u.Fields); i += 2 {
		if u.Fields[i] == name {
			return u.Fields[i+1]
		}
	}
	return ""
}

// Update applies state changes of units owned by pilotID's agent, in order.
// Changes to units that are final already, or that the pilot no longer owns
// (they were given back when the pilot was taken for lost), are skipped: a
// final state is never overwritten and a unit is never finished twice.
func (s *Store) Update(ctx context.Context, k Keys, pilotID string, updates []Update) error {
	for len(updates) > 0 {
		n := min(len(updates), BatchSize)
		args := make([]any, 0, 2+6*n)
		args = append(args, pilotID, n)
		for _, u := range updates[:n] {
			args = append(args, u.UnitID, u.State, strings.Join(u.Passed, " "), len(u.Fields)/2)
			for _, f := range u.Fields[:len(u.Fields)/2*2] {
				args = append(args, f)
			}
		}
		if _, err := s.run(ctx, scriptUpdate, k, args...); err != nil {
			return err
		}
		updates = updates[n:]
	}
	return nil
}

// Requeue gives service-queue units that the pilot claimed but did not start
// back to the service queue.
func (s *Store) Requeue(ctx context.Context, k Keys, pilotID string, unitIDs []string) error {
	for len(unitIDs) > 0 {
		n := min(len(unitIDs), BatchSize)
		args := make([]any, 0, 1+n)
		args = append(args, pilotID)
		for _, id := range unitIDs[:n] {
			args = append(args, id)
		}
		if _, err := s.run(ctx, scriptRequeue, k, args...); err != nil {
			return err
		}
		unitIDs = unitIDs[n:]
	}
	return nil
}

// PushControl sends a command to the agent of a pilot.
func (s *Store) PushControl(ctx context.Context, k Keys, pilotID, cmd string) error {
	return s.rdb.LPush(ctx, k.PilotControl(pilotID), cmd).Err()
}

// PopControl blocks up to block for the next control command of a pilot.
// ok is false on timeout.
func (s *Store) PopControl(ctx context.Context, k Keys, pilotID string, block time.Duration) (cmd string, ok bool, err error) {
	r, err := s.rdb.BRPop(ctx, block, k.PilotControl(pilotID)).Result()
	if err == redis.Nil {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("read control list: %w", err)
	}
	return r[1], true, nil
}

// Record returns all fields of a record (pilot or unit), or ErrNotFound.
func (s *Store) Record(ctx context.Context, key string) (map[string]string, error) {
	m, err := s.rdb.HGetAll(ctx, key).Result()
	if err != nil {
		return nil, err
	}
	if len(m) == 0 {
		return nil, ErrNotFound
	}
	return m, nil
}

// Fields returns some fields of a record, "" for missing ones, or ErrNotFound
// if the record does not exist.
func (s *Store) Fields(ctx context.Context, key string, fields ...string) ([]string, error) {
	pipe := s.rdb.Pipeline()
	ex := pipe.Exists(ctx, key)
	hm := pipe.HMGet(ctx, key, fields...)
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, err
	}
	if ex.Val() == 0 {
		return nil, ErrNotFound
	}
	out := make([]string, len(fields))
	for i, v := range hm.Val() {
		if s, ok := v.(string); ok {
			out[i] = s
		}
	}
	return out, nil
}

// States returns one field (usually "state") of many records, "" for
// missing records, in pipelined batches.
func (s *Store) States(ctx context.Context, k Keys, ids []string) ([]string, error) {
	out := make([]string, 0, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), BatchSize)
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, n)
		for i, id := range ids[:n] {
			cmds[i] = pipe.HGet(ctx, k.Unit(id), FieldState)
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return nil, fmt.Errorf("read states: %w", err)
		}
		for _, c := range cmds {
			out = append(out, c.Val())
		}
		ids = ids[n:]
	}
	return out, nil
}

// PilotIDs lists the pilots of a service.
func (s *Store) PilotIDs(ctx context.Context, k Keys) ([]string, error) {
	return s.rdb.SMembers(ctx, k.Pilots()).Result()
}

// PilotUnit is a unit of a pilot's listing (PilotUnitIDs).
type PilotUnit struct {
	ID      string
	Service bool // it came from the service queue
}

// PilotUnitIDs lists the units of a pilot, oldest first, each once: those
// submitted to it and those its agent took from the service queue. A
// service-queue unit that the pilot gave back (its agent was lost) and
// another pilot took is listed under that other pilot only, the one its
// record names; one waiting in the service queue again, or ended there,
// stays under every pilot that took it. Records that expired are listed (the
// caller sees them gone). It reads the list, then the records in pipelined
// batches.
func (s *Store) PilotUnitIDs(ctx context.Context, k Keys, pilotID string) ([]PilotUnit, error) {
	all, err := s.rdb.LRange(ctx, k.PilotUnits(pilotID), 0, -1).Result()
	if err != nil {
		return nil, err
	}
	seen := make(map[string]struct{}, len(all))
	ids := all[:0]
	for _, id := range all {
		if _, dup := seen[id]; !dup {
			seen[id] = struct{}{}
			ids = append(ids, id)
		}
	}
	out := make([]PilotUnit, 0, len(ids))
	for len(ids) > 0 {
		n := min(len(ids), BatchSize)
		pipe := s.rdb.Pipeline()
		cmds := make([]*redis.SliceCmd, n)
		for i, id := range ids[:n] {
			cmds[i] = pipe.HMGet(ctx, k.Unit(id), FieldVia, FieldPilot)
		}
		if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
			return nil, fmt.Errorf("read unit owners: %w", err)
		}
		for i, c := range cmds {
			v := c.Val()
			via, _ := v[0].(string)
			owner, _ := v[1].(string)
			if via != ViaService || owner == "" || owner == pilotID {
				out = append(out, PilotUnit{ID: ids[i], Service: via == ViaService})
			}
		}
		ids = ids[n:]
	}
	return out, nil
}

// PilotProgress is what a wait on a pilot reads of it, in one transaction so
// that the pilot's end and its pending set are seen together.
type PilotProgress struct {
	State      string
	Reason     string
	EndedUnits int   // units that ended with the pilot when it ended
	Pending    int64 // units submitted to it that are not final
}

// ReadPilotProgress reads a pilot's state and pending count atomically, or
// returns ErrNotFound if the pilot has no record.
func (s *Store) ReadPilotProgress(ctx context.Context, k Keys, pilotID string) (PilotProgress, error) {
	pipe := s.rdb.TxPipeline()
	hm := pipe.HMGet(ctx, k.Pilot(pilotID), FieldState, FieldReason, FieldEndedUnits)
	pend := pipe.SCard(ctx, k.PilotPending(pilotID))
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return PilotProgress{}, err
	}
	var f [3]string
	for i, v := range hm.Val() {
		f[i], _ = v.(string)
	}
	if f[0] == "" {
		return PilotProgress{}, ErrNotFound
	}
	ended, _ := strconv.Atoi(f[2])
	return PilotProgress{State: f[0], Reason: f[1], EndedUnits: ended, Pending: pend.Val()}, nil
}

// PendingCount is the number of units submitted to a pilot that are not final.
func (s *Store) PendingCount(ctx context.Context, k Keys, pilotID string) (int64, error) {
	return s.rdb.SCard(ctx, k.PilotPending(pilotID)).Result()
}

// SetPilotField sets one field of a pilot record (e.g. the adaptor handle).
func (s *Store) SetPilotField(ctx context.Context, k Keys, pilotID, field, value string) error {
	return s.rdb.HSet(ctx, k.Pilot(pilotID), field, value).Err()
}

// PilotStatus is what a liveness check reads of a pilot.
type PilotStatus struct {
	ID        string
	Exists    bool
	State     string
	Heartbeat string // counter the agent increments
	Handle    string // adaptor handle, JSON
	Name      string
}

// PilotStatuses reads the status of several pilots in one round trip.
func (s *Store) PilotStatuses(ctx context.Context, k Keys, ids []string) ([]PilotStatus, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, k.Pilot(id), FieldState, FieldHeartbeat, FieldHandle, FieldName)
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return nil, fmt.Errorf("read pilot status: %w", err)
	}
	out := make([]PilotStatus, len(ids))
	for i, c := range cmds {
		v := c.Val()
		get := func(j int) string { s, _ := v[j].(string); return s }
		out[i] = PilotStatus{ID: ids[i], State: get(0), Heartbeat: get(1), Handle: get(2), Name: get(3)}
		out[i].Exists = out[i].State != ""
	}
	return out, nil
}

// BusySlots is the sum of the slots of the pilot's units that have started
// (Staging or Running); units its agent holds but has not started do not
// count.
func (s *Store) BusySlots(ctx context.Context, k Keys, pilotID string) (int, error) {
	ids, err := s.rdb.SMembers(ctx, k.PilotActive(pilotID)).Result()
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, k.Unit(id), FieldState, FieldSlots)
	}
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return 0, err
	}
	total := 0
	for _, c := range cmds {
		v := c.Val()
		if st, _ := v[0].(string); st == "Running" || st == "Staging" {
			n, _ := strconv.Atoi(fmt.Sprint(v[1]))
			total += n
		}
	}
	return total, nil
}
