package wire

import (
	"math"
	"strconv"
	"strings"
)

// decodeBeatFast decodes the beat bodies clients actually send — a flat
// object of ASCII strings without escapes, numbers and booleans, with a
// metadata object of the same — without encoding/json, which costs a
// tenth of the server's CPU on the beat path (reflection, a map[string]any
// and a Decoder per beat). It reports false for anything else: escapes,
// non-ASCII, nulls, nested values, keys that differ from ours only in case,
// repeated keys, strings where numbers go, invalid numbers, trailing data.
// DecodeBeat then takes the general path, so the result never differs.
//
// With skipMetadata, the metadata object is checked but not built: a beat of
// a known instance needs only what identifies it.
func decodeBeatFast(data string, skipMetadata bool) (Beat, bool) {
	p := scanner{s: data}
	b := Beat{Weight: 1, Ephemeral: true}
	if !p.byte('{') {
		return Beat{}, false
	}
	var seen uint8
	first := true
	for {
		if p.byte('}') {
			break
		}
		if !first && !p.byte(',') {
			return Beat{}, false
		}
		first = false
		key, ok := p.str()
		if !ok || !p.byte(':') {
			return Beat{}, false
		}
		bit, known := beatKeys[key]
		if known {
			if seen&bit != 0 {
				return Beat{}, false
			}
			seen |= bit
		} else if foldsToBeatKey(key) {
			return Beat{}, false
		}
		switch key {
		case "ip", "serviceName", "cluster":
			v, ok := p.str()
			if !ok {
				return Beat{}, false
			}
			switch key {
			case "ip":
				b.IP = v
			case "serviceName":
				b.ServiceName = v
			default:
				b.Cluster = v
			}
		case "port":
			f, ok := p.float()
			if !ok || f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxInt32 {
				return Beat{}, false
			}
			b.Port = int(f)
		case "weight":
			if b.Weight, ok = p.float(); !ok {
				return Beat{}, false
			}
		case "ephemeral":
			if b.Ephemeral, ok = p.boolean(); !ok {
				return Beat{}, false
			}
		case "metadata":
			if b.Metadata, ok = p.metadata(!skipMetadata); !ok {
				return Beat{}, false
			}
		default:
			if !p.scalar() {
				return Beat{}, false
			}
		}
	}
	p.space()
	return b, p.i == len(p.s)
}

var beatKeys = map[string]uint8{
	"ip": 1, "port": 2, "weight": 4, "serviceName": 8, "cluster": 16, "metadata": 32, "ephemeral": 64,
}

// foldsToBeatKey reports whether key would match one of ours in
// encoding/json's case-insensitive matching (keys here are ASCII).
func foldsToBeatKey(key string) bool {
	for k := range beatKeys {
		if strings.EqualFold(k, key) {
			return true
		}
	}
	return false
}

type scanner struct {
	s string
	i int
}

func (p *scanner) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte consumes c, after whitespace.
func (p *scanner) byte(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a string of printable ASCII without escapes.
func (p *scanner) str() (string, bool) {
	if !p.byte('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return p.s[start : p.i-1], true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return "", false
		}
		p.i++
	}
	return "", false
}

// number reads the text of a JSON number.
func (p *scanner) number() (string, bool) {
	p.space()
	start := p.i
	digits := func() int {
		n := 0
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	if p.i < len(p.s) && p.s[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.s) && p.s[p.i] == '0' {
		p.i++
	} else if digits() == 0 {
		return "", false
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return "", false
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if digits() == 0 {
			return "", false
		}
	}
	return p.s[start:p.i], true
}

func (p *scanner) float() (float64, bool) {
	t, ok := p.number()
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(t, 64)
	return f, err == nil
}

func (p *scanner) literal(w string) bool {
	p.space()
	if strings.HasPrefix(p.s[p.i:], w) {
		p.i += len(w)
		return true
	}
	return false
}

func (p *scanner) boolean() (bool, bool) {
	switch {
	case p.literal("true"):
		return true, true
	case p.literal("false"):
		return false, true
	}
	return false, false
}

// scalar skips a string, number or boolean.
func (p *scanner) scalar() bool {
	p.space()
	if p.i >= len(p.s) {
		return false
	}
	switch c := p.s[p.i]; {
	case c == '"':
		_, ok := p.str()
		return ok
	case c == 't' || c == 'f':
		_, ok := p.boolean()
		return ok
	}
	_, ok := p.number()
	return ok
}

// metadata reads an object of strings, numbers (kept as their text) and
// booleans; an empty object gives nil, as DecodeBeat's general path does.
// Without keep it only checks the object and returns nil.
func (p *scanner) metadata(keep bool) (map[string]string, bool) {
	if !p.byte('{') {
		return nil, false
	}
	var m map[string]string
	for first := true; ; first = false {
		if p.byte('}') {
			return m, true
		}
		if !first && !p.byte(',') {
			return nil, false
		}
		k, ok := p.str()
		if !ok || !p.byte(':') {
			return nil, false
		}
		if _, dup := m[k]; dup {
			return nil, false
		}
		p.space()
		if p.i >= len(p.s) {
			return nil, false
		}
		var v string
		switch c := p.s[p.i]; {
		case c == '"':
			v, ok = p.str()
		case c == 't' || c == 'f':
			var t bool
			t, ok = p.boolean()
			v = strconv.FormatBool(t)
		default:
			v, ok = p.number()
		}
		if !ok {
			return nil, false
		}
		if !keep {
			continue
		}
		if m == nil {
			m = make(map[string]string, 4)
		}
		m[k] = v
	}
}
