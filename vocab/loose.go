package vocab

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Loose value conversion for description dictionaries. BigJob scripts pass
// numbers as strings ("4"), environment as a dict or a list, arguments as
// numbers; the values here come from JSON (decoded with UseNumber) or from Go
// maps. Each conversion returns a problem text naming the value and the fix;
// the caller adds which key it was.

// pyStr formats a scalar the way Python's str() / "%s" does, so that
// {"TASK_NO": 3} exports TASK_NO=3 and True exports True.
func pyStr(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "True", true
		}
		return "False", true
	case nil:
		return "None", true
	case int:
		return strconv.Itoa(x), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case uint:
		return strconv.FormatUint(uint64(x), 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	case float32:
		return pyFloat(float64(x)), true
	case float64:
		return pyFloat(x), true
	}
	return "", false
}

// pyFloat mimics Python's repr of a float: 1.0, 0.5, 1e+20.
func pyFloat(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e16 {
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// toInt accepts an integer, an integral float, or a string holding an integer.
func toInt(v any) (int, string) {
	bad := func() (int, string) {
		return 0, fmt.Sprintf("%s is not a whole number", describe(v))
	}
	switch x := v.(type) {
	case bool:
		return bad()
	case string:
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil {
			return bad()
		}
		return n, ""
	case json.Number:
		if n, err := strconv.Atoi(x.String()); err == nil {
			return n, ""
		}
		f, err := x.Float64()
		if err != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
			return bad()
		}
		return int(f), ""
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > math.MaxInt32 {
			return bad()
		}
		return int(x), ""
	case float32:
		return toInt(float64(x))
	case int:
		return x, ""
	case int32:
		return int(x), ""
	case int64:
		if x > math.MaxInt32 || x < math.MinInt32 {
			return bad()
		}
		return int(x), ""
	case uint64:
		if x > math.MaxInt32 {
			return bad()
		}
		return int(x), ""
	}
	return bad()
}

// toBool accepts JSON booleans, 0/1 and the strings true/false/yes/no.
func toBool(v any) (bool, string) {
	switch x := v.(type) {
	case bool:
		return x, ""
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "true", "yes", "1", "on":
			return true, ""
		case "false", "no", "0", "off", "", "none":
			return false, ""
		}
	case nil:
		return false, ""
	default:
		if n, p := toInt(v); p == "" && (n == 0 || n == 1) {
			return n == 1, ""
		}
	}
	return false, fmt.Sprintf("%s is not true or false", describe(v))
}

// toString accepts a string or a scalar (formatted as Python's str()).
func toString(v any) (string, string) {
	switch v.(type) {
	case []any, map[string]any, orderedMap:
		return "", fmt.Sprintf("%s is not a string", describe(v))
	}
	if s, ok := pyStr(v); ok && v != nil {
		return s, ""
	}
	if v == nil {
		return "", ""
	}
	return "", fmt.Sprintf("%s is not a string", describe(v))
}

// toStringList accepts a list of scalars, a single string (one element) or
// null (empty).
func toStringList(v any) ([]string, string) {
	switch x := v.(type) {
	case nil:
		return nil, ""
	case string:
		return []string{x}, ""
	case []string:
		return append([]string(nil), x...), ""
	case []any:
		out := make([]string, 0, len(x))
		for i, e := range x {
			s, ok := pyStr(e)
			if !ok {
				return nil, fmt.Sprintf("element %d, %s, is not a string or number", i, describe(e))
			}
			out = append(out, s)
		}
		return out, ""
	}
	return nil, fmt.Sprintf("%s is not a list", describe(v))
}

// describe shows a bad value in an error message.
func describe(v any) string {
	switch x := plain(v).(type) {
	case string:
		return strconv.Quote(x)
	case nil:
		return "null"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return "a dict with keys " + strings.Join(keys, ", ")
	case []any:
		return fmt.Sprintf("a list of %d elements", len(x))
	}
	if s, ok := pyStr(v); ok {
		return s
	}
	return fmt.Sprintf("%v (%T)", v, v)
}
