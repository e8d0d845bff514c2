package httpapi

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// maxBody bounds a request body; no naming request comes near it.
const maxBody = 1 << 20

// params holds a request's parameters: the query string first, then a form
// body, whatever the method, as a servlet container merges them. Lookups
// return the first occurrence.
type params struct {
	kv  []pair
	arr [16]pair // kv's first backing array
	// body is reused between requests for reading form bodies; lr limits
	// what is read into it.
	body bytes.Buffer
	lr   io.LimitedReader
}

// paramsPool keeps params between requests, so that the beat path
// allocates nothing for them. Handlers must not keep *params, or its kv
// slice, past the request; the strings are fresh and may be kept.
var paramsPool = sync.Pool{New: func() any { return new(params) }}

// release returns p to the pool.
func (p *params) release() {
	clear(p.kv)
	p.kv = nil
	p.lr = io.LimitedReader{}
	if p.body.Cap() <= 64<<10 {
		p.body.Reset()
		paramsPool.Put(p)
	}
}

type pair struct{ k, v string }

// parseParams reads the query and the body of r. Nacos clients send
// parameters in every possible way (see parseInto); a body that is not a form
// is ignored.
// Call release when done with the result.
func parseParams(r *http.Request) (*params, error) {
	p := paramsPool.Get().(*params)
	p.kv = p.arr[:0]
	p.parseInto(r.URL.RawQuery)
	if r.Body == nil || r.Body == http.NoBody {
		return p, nil
	}
	ct := r.Header.Get("Content-Type")
	if ct != "" && !hasPrefixFold(ct, "application/x-www-form-urlencoded") {
		return p, nil
	}
	p.lr = io.LimitedReader{R: r.Body, N: maxBody + 1}
	_, err := p.body.ReadFrom(&p.lr)
	switch {
	case err != nil:
		p.release()
		return nil, badRequest("read request body: " + err.Error())
	case p.body.Len() > maxBody:
		p.release()
		return nil, badRequest(fmt.Sprintf("request body larger than %d bytes", maxBody))
	}
	p.parseInto(p.body.String())
	return p, nil
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// parseInto splits s into pairs leniently. The Go SDK writes GET, PUT and
// DELETE parameters without any percent-encoding, so values may hold raw
// JSON with '&', '=', '%', '+' and ';'. A value that starts with '{' or '['
// runs to its matching bracket; a value holding raw JSON punctuation is kept
// as is; anything else is percent-decoded, and kept raw if that fails.
func (p *params) parseInto(s string) {
	scanJSON := true
	for s != "" {
		var kv string
		kv, s, scanJSON = nextPair(s, scanJSON)
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		p.kv = append(p.kv, pair{decodeLenient(k), decodeLenient(v)})
	}
}

// nextPair returns the text up to the next '&' that is not inside a raw JSON
// value, and the rest after it. With scanJSON false it splits at the next
// '&' only. A raw JSON value that does not end where a pair ends turns
// scanning off for the rest of s (the result says whether it is still on):
// otherwise a body of many unbalanced "x={" values would be rescanned to its
// end once per pair, quadratic time for one request.
func nextPair(s string, scanJSON bool) (kv, rest string, stillScanJSON bool) {
	eq := strings.IndexAny(s, "=&")
	if scanJSON && eq >= 0 && s[eq] == '=' && eq+1 < len(s) && (s[eq+1] == '{' || s[eq+1] == '[') {
		end := jsonEnd(s[eq+1:])
		i := eq + 1 + end
		switch {
		case end > 0 && i == len(s):
			return s, "", true
		case end > 0 && s[i] == '&':
			return s[:i], s[i+1:], true
		}
		scanJSON = false
	}
	if i := strings.IndexByte(s, '&'); i >= 0 {
		return s[:i], s[i+1:], scanJSON
	}
	return s, "", scanJSON
}

// jsonEnd returns the length of the bracketed JSON value at the start of s,
// or 0 when its brackets do not balance.
func jsonEnd(s string) int {
	depth := 0
	inString := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return 0
}

func decodeLenient(s string) string {
	if strings.ContainsAny(s, `{}"[]`) {
		return s // raw JSON from a client that does not encode
	}
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	d, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return d
}

// raw returns the first value of name and whether it is present.
func (p *params) raw(name string) (string, bool) {
	for _, kv := range p.kv {
		if kv.k == name {
			return kv.v, true
		}
	}
	return "", false
}

// optional returns the trimmed value of name, or def when it is missing or
// blank.
func (p *params) optional(name, def string) string {
	v, _ := p.raw(name)
	if v = strings.TrimSpace(v); v == "" {
		return def
	}
	return v
}

// required returns the trimmed value of name, or the Nacos error when it is
// missing or blank.
func (p *params) required(name string) (string, error) {
	v := p.optional(name, "")
	if v == "" {
		return "", badRequest("Param '" + name + "' is required.")
	}
	return v, nil
}

// intParam parses name as an integer in [lo, hi], def when absent or blank.
func (p *params) intParam(name string, def, lo, hi int) (int, error) {
	v := p.optional(name, "")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, badRequest(fmt.Sprintf("Param '%s' is illegal, it must be an integer in %d..%d: %q", name, lo, hi, v))
	}
	return n, nil
}

// requiredInt is intParam for a parameter that must be present.
func (p *params) requiredInt(name string, lo, hi int) (int, error) {
	if _, err := p.required(name); err != nil {
		return 0, err
	}
	return p.intParam(name, 0, lo, hi)
}

// floatParam parses name as a number, def when absent or blank.
func (p *params) floatParam(name string, def float64) (float64, error) {
	v := p.optional(name, "")
	if v == "" {
		return def, nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, badRequest(fmt.Sprintf("Param '%s' is illegal, it must be a number: %q", name, v))
	}
	return f, nil
}

// boolParam reads a flag the way Nacos (commons-lang toBoolean) does:
// true, on, yes, y and t in any case are true, anything else false.
func (p *params) boolParam(name string, def bool) bool {
	v := p.optional(name, "")
	if v == "" {
		return def
	}
	return lenientBool(v)
}

func lenientBool(v string) bool {
	switch strings.ToLower(v) {
	case "true", "on", "yes", "y", "t":
		return true
	}
	return false
}

// strictTrue is Java's "true".equalsIgnoreCase, used for healthyOnly.
func (p *params) strictTrue(name string) bool {
	return strings.EqualFold(p.optional(name, ""), "true")
}
