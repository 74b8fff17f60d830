package coord

import (
	"context"
	"embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bigjob-go/bigjob/vocab"
	"github.com/redis/go-redis/v9"
)

//go:embed lua/*.lua
var luaFiles embed.FS

// fromGo is what the scripts take from Go: FINAL, the table of final
// states (from the vocabulary), and DEFAULT_MAX_ATTEMPTS.
func fromGo() string {
	var b strings.Builder
	b.WriteString("local FINAL = {")
	for _, st := range vocab.States {
		if st.Final() {
			fmt.Fprintf(&b, "%s = true, ", st)
		}
	}
	b.WriteString("}\n")
	fmt.Fprintf(&b, "local DEFAULT_MAX_ATTEMPTS = %d\n", DefaultMaxAttempts)
	return b.String()
}

// script is one Lua script with the shared prelude prepended, after the
// definitions made from Go (fromGo).
type script struct {
	name string
	s    *redis.Script
}

func loadScript(name string) script {
	prelude, err := luaFiles.ReadFile("lua/prelude.lua")
	if err != nil {
		panic(err)
	}
	body, err := luaFiles.ReadFile("lua/" + name + ".lua")
	if err != nil {
		panic(err)
	}
	return script{name: name, s: redis.NewScript(fromGo() + string(prelude) + "\n" + string(body))}
}

var (
	scriptSubmit        = loadScript("submit")
	scriptClaim         = loadScript("claim")
	scriptUpdate        = loadScript("update")
	scriptRequeue       = loadScript("requeue")
	scriptCancelUnit    = loadScript("cancel_unit")
	scriptPilotCreate   = loadScript("pilot_create")
	scriptPilotRunning  = loadScript("pilot_running")
	scriptHeartbeat     = loadScript("heartbeat")
	scriptPilotFinish   = loadScript("pilot_finish")
	scriptServiceCancel = loadScript("service_cancel")
	scriptPlace         = loadScript("place")
	scriptPilotLoads    = loadScript("pilot_loads")
)

// run calls a script for service k with the common arguments of the prelude
// followed by args.
func (s *Store) run(ctx context.Context, sc script, k Keys, args ...any) (any, error) {
	all := make([]any, 0, 4+len(args))
	all = append(all, k.Prefix(), Timestamp(time.Now()), int64(s.ttl/time.Second), s.maxEvents)
	all = append(all, args...)
	v, err := sc.s.Run(ctx, s.rdb, []string{k.Events()}, all...).Result()
	if err != nil && err != redis.Nil {
		return nil, fmt.Errorf("redis script %s: %w", sc.name, err)
	}
	return v, nil
}

// Timestamp formats t as BigJob does: epoch seconds with a fraction.
func Timestamp(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixMicro())/1e6, 'f', 6, 64)
}

// ParseTimestamp reads a Timestamp back; it returns the zero time for "".
func ParseTimestamp(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("timestamp %q: %w", s, err)
	}
	return time.UnixMicro(int64(f * 1e6)), nil
}

// strings converts a script reply (an array of bulk strings) to []string.
func replyStrings(v any) []string {
	arr, ok := v.([]any)
	if !ok {
		if s, ok := v.(string); ok {
			return []string{s}
		}
		return nil
	}
	out := make([]string, 0, len(arr))
	for _, e := range arr {
		switch x := e.(type) {
		case string:
			out = append(out, x)
		case int64:
			out = append(out, strconv.FormatInt(x, 10))
		default:
			out = append(out, fmt.Sprint(x))
		}
	}
	return out
}
