//go:build wasip1

package pdk

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/bigjob-go/bigjob/plugins/abi"
)

// Hooks run once per unit, so their requests are read and their answers
// written here without encoding/json: its reflection and per-byte scanner
// cost some 300 µs a call under WebAssembly, against a few µs for this.
// Values decode as encoding/json decodes into any: objects as
// map[string]any, arrays as []any, numbers as float64.

type parser struct {
	b []byte
	i int
}

var errSyntax = errors.New("the request is not valid JSON")

func parseJSON(b []byte) (any, error) {
	p := &parser{b: b}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	if p.ws(); p.i != len(p.b) {
		return nil, errSyntax
	}
	return v, nil
}

func (p *parser) ws() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\n' || p.b[p.i] == '\t' || p.b[p.i] == '\r') {
		p.i++
	}
}

func (p *parser) lit(s string, v any) (any, error) {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return nil, errSyntax
	}
	p.i += len(s)
	return v, nil
}

func (p *parser) value() (any, error) {
	p.ws()
	if p.i >= len(p.b) {
		return nil, errSyntax
	}
	switch c := p.b[p.i]; {
	case c == '{':
		return p.object()
	case c == '[':
		return p.array()
	case c == '"':
		return p.str()
	case c == 't':
		return p.lit("true", true)
	case c == 'f':
		return p.lit("false", false)
	case c == 'n':
		return p.lit("null", nil)
	case c == '-' || (c >= '0' && c <= '9'):
		j := p.i
		for j < len(p.b) && (p.b[j] == '-' || p.b[j] == '+' || p.b[j] == '.' || p.b[j] == 'e' || p.b[j] == 'E' || (p.b[j] >= '0' && p.b[j] <= '9')) {
			j++
		}
		f, err := strconv.ParseFloat(string(p.b[p.i:j]), 64)
		if err != nil {
			return nil, errSyntax
		}
		p.i = j
		return f, nil
	}
	return nil, errSyntax
}

func (p *parser) object() (any, error) {
	m := map[string]any{}
	p.i++ // {
	if p.ws(); p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return m, nil
	}
	for {
		if p.ws(); p.i >= len(p.b) || p.b[p.i] != '"' {
			return nil, errSyntax
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		if p.ws(); p.i >= len(p.b) || p.b[p.i] != ':' {
			return nil, errSyntax
		}
		p.i++
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		m[k] = v
		if p.ws(); p.i >= len(p.b) {
			return nil, errSyntax
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case '}':
			p.i++
			return m, nil
		default:
			return nil, errSyntax
		}
	}
}

func (p *parser) array() (any, error) {
	a := []any{}
	p.i++ // [
	if p.ws(); p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return a, nil
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		if p.ws(); p.i >= len(p.b) {
			return nil, errSyntax
		}
		switch p.b[p.i] {
		case ',':
			p.i++
		case ']':
			p.i++
			return a, nil
		default:
			return nil, errSyntax
		}
	}
}

func (p *parser) str() (string, error) {
	p.i++ // "
	start := p.i
	for p.i < len(p.b) && p.b[p.i] != '"' && p.b[p.i] != '\\' {
		p.i++
	}
	if p.i < len(p.b) && p.b[p.i] == '"' { // no escapes: the common case
		s := string(p.b[start:p.i])
		p.i++
		return s, nil
	}
	out := append([]byte(nil), p.b[start:p.i]...)
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return string(out), nil
		case c != '\\':
			out = append(out, c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.b) {
			return "", errSyntax
		}
		e := p.b[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", errSyntax
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(utf8.RuneError)
				if p.i+1 < len(p.b) && p.b[p.i] == '\\' && p.b[p.i+1] == 'u' {
					p.i += 2
					if lo, ok := p.hex4(); ok {
						r2 = lo
					}
				}
				r = utf16.DecodeRune(r, r2)
			}
			out = utf8.AppendRune(out, r)
		default:
			return "", errSyntax
		}
	}
	return "", errSyntax
}

func (p *parser) hex4() (rune, bool) {
	if p.i+4 > len(p.b) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(p.b[p.i:p.i+4]), 16, 32)
	p.i += 4
	return rune(v), err == nil
}

// Typed views of decoded values.

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func strs(m map[string]any, k string) []string {
	a, _ := m[k].([]any)
	out := make([]string, 0, len(a))
	for _, v := range a {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func num(m map[string]any, k string) float64 {
	f, _ := m[k].(float64)
	return f
}

func unitOf(v any) abi.Unit {
	m, _ := v.(map[string]any)
	desc, _ := m["description"].(map[string]any)
	return abi.Unit{ID: str(m, "id"), PilotID: str(m, "pilot_id"), Executable: str(m, "executable"),
		Arguments: strs(m, "arguments"), Environment: strs(m, "environment"),
		WorkingDirectory: str(m, "working_directory"), Description: desc}
}

func decodePreUnit(b []byte) (abi.PreUnitRequest, error) {
	v, err := parseJSON(b)
	m, ok := v.(map[string]any)
	if err != nil || !ok {
		return abi.PreUnitRequest{}, fmt.Errorf("decode the request: %w", errSyntax)
	}
	return abi.PreUnitRequest{Unit: unitOf(m["unit"])}, nil
}

func decodePostUnit(b []byte) (abi.PostUnitRequest, error) {
	v, err := parseJSON(b)
	m, ok := v.(map[string]any)
	if err != nil || !ok {
		return abi.PostUnitRequest{}, fmt.Errorf("decode the request: %w", errSyntax)
	}
	return abi.PostUnitRequest{State: str(m, "state"), ExitCode: int(num(m, "exit_code")), Runtime: num(m, "runtime_s"),
		Reason: str(m, "reason"), Unit: unitOf(m["unit"])}, nil
}

// writer builds JSON answers.
type writer []byte

func (w writer) str(s string) writer {
	const hex = "0123456789abcdef"
	w = append(w, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			w = append(w, '\\', c)
		case c < 0x20:
			w = append(w, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			w = append(w, c)
		}
	}
	return append(w, '"')
}

func (w writer) strs(a []string) writer {
	w = append(w, '[')
	for i, s := range a {
		if i > 0 {
			w = append(w, ',')
		}
		w = w.str(s)
	}
	return append(w, ']')
}

func (w writer) field(name string) writer { return append(w.str(name), ':') }

// encodeAction writes {"action": ..., "message": ..., "unit": ...} for a
// hook's answer; unit carries what a pre_unit hook may rewrite.
func encodeAction(action, message string, u *abi.Unit) []byte {
	w := writer(make([]byte, 0, 256))
	w = append(w, '{')
	w = w.field("action").str(action)
	if message != "" {
		w = append(w, ',')
		w = w.field("message").str(message)
	}
	if u != nil {
		w = append(w, ',')
		w = append(w.field("unit"), '{')
		w = w.field("id").str(u.ID)
		w = append(w, ',')
		w = w.field("executable").str(u.Executable)
		w = append(w, ',')
		w = w.field("arguments").strs(u.Arguments)
		w = append(w, ',')
		w = w.field("environment").strs(u.Environment)
		w = append(w, ',')
		w = w.field("working_directory").str(u.WorkingDirectory)
		w = append(w, '}')
	}
	return append(w, '}')
}
