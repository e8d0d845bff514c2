// Package switches holds the Nacos runtime switches (GET|PUT
// /operator/switches): settings an operator changes while the server runs,
// such as turning health checking off.
package switches

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pulse-registry/pulse/internal/wire"
)

// Error reports a bad switch entry or value.
type Error struct{ Msg string }

func (e *Error) Error() string { return e.Msg }

func errorf(format string, args ...any) error { return &Error{Msg: fmt.Sprintf(format, args...)} }

// Set is the current switch values. Reads are lock-free; it is safe for
// concurrent use.
type Set struct {
	v       atomic.Pointer[wire.Switches]
	changed atomic.Pointer[chan struct{}] // closed and replaced by every update
	// mu serialises updates.
	mu sync.Mutex
}

// New returns a Set holding the Nacos defaults.
func New() *Set {
	s := &Set{}
	d := wire.DefaultSwitches()
	s.v.Store(&d)
	ch := make(chan struct{})
	s.changed.Store(&ch)
	return s
}

// Get returns the current values. The result must not be modified.
func (s *Set) Get() *wire.Switches { return s.v.Load() }

// Changed returns a channel that is closed at the next update; components
// that cache a switch select on it.
func (s *Set) Changed() <-chan struct{} { return *s.changed.Load() }

// Update sets one entry, with the names and rules of Nacos' SwitchManager.
func (s *Set) Update(entry, value string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := *s.v.Load()
	next := cur
	next.AdWeightMap = maps.Clone(cur.AdWeightMap)
	next.LimitedURLMap = maps.Clone(cur.LimitedURLMap)
	if err := apply(&next, entry, value); err != nil {
		return err
	}
	if err := validate(&next); err != nil {
		return err
	}
	s.v.Store(&next)
	ch := make(chan struct{})
	close(*s.changed.Swap(&ch))
	return nil
}

// Entries lists the entry names Update accepts.
func Entries() []string {
	return slices.Sorted(maps.Keys(setters))
}

// validate checks the whole set after a change, so that "batch", which
// replaces everything at once, obeys the same rules as each entry.
func validate(sw *wire.Switches) error {
	switch {
	case sw.ClientBeatInterval < 1:
		return errorf("clientBeatInterval must be at least 1: %d", sw.ClientBeatInterval)
	case sw.DefaultPushCacheMillis < 10000:
		return errorf("pushCacheMillis must be at least 10000: %d", sw.DefaultPushCacheMillis)
	case sw.DefaultCacheMillis < 1000:
		return errorf("defaultCacheMillis must be at least 1000: %d", sw.DefaultCacheMillis)
	case sw.CheckTimes < 1:
		return errorf("healthCheckTimes must be at least 1: %d", sw.CheckTimes)
	case !(sw.DistroThreshold > 0):
		return errorf("distroThreshold must be above 0: %v", sw.DistroThreshold)
	}
	for url, code := range sw.LimitedURLMap {
		if strings.TrimSpace(url) == "" || code < 100 || code > 599 {
			return errorf("limitedUrlMap entries must be a path and a status in 100..599: %q:%d", url, code)
		}
	}
	if st := sw.OverriddenServerStatus; st != nil {
		switch *st {
		case "UP", "DOWN", "STARTING", "PAUSED", "WRITE_ONLY", "READ_ONLY":
		default:
			return errorf("unknown server status: %s", *st)
		}
	}
	for _, v := range []string{sw.PushJavaVersion, sw.PushGoVersion, sw.PushPythonVersion, sw.PushCVersion, sw.PushCSharpVersion} {
		if v == "" {
			return errorf("push versions must not be empty")
		}
	}
	return nil
}

func apply(sw *wire.Switches, entry, value string) error {
	set, ok := setters[entry]
	if !ok {
		return errorf("unknown switch entry: %s (known: %s)", entry, strings.Join(Entries(), ", "))
	}
	return set(sw, strings.TrimSpace(value))
}

var setters = map[string]func(*wire.Switches, string) error{
	"clientBeatInterval": intSetter(func(s *wire.Switches) *int64 { return &s.ClientBeatInterval }, 1),
	"pushCacheMillis":    intSetter(func(s *wire.Switches) *int64 { return &s.DefaultPushCacheMillis }, 10000),
	"defaultCacheMillis": intSetter(func(s *wire.Switches) *int64 { return &s.DefaultCacheMillis }, 1000),
	"serviceStatusSynchronizationPeriodMillis": intSetter(func(s *wire.Switches) *int64 {
		return &s.ServiceStatusSynchronizationPeriodMillis
	}, 5000),
	"serverStatusSynchronizationPeriodMillis": intSetter(func(s *wire.Switches) *int64 {
		return &s.ServerStatusSynchronizationPeriodMillis
	}, 15000),
	"distroServerExpiredMillis": intSetter(func(s *wire.Switches) *int64 { return &s.DistroServerExpiredMillis }, 1),
	"healthCheckTimes": func(s *wire.Switches, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return errorf("healthCheckTimes must be a positive integer: %s", v)
		}
		s.CheckTimes = n
		return nil
	},
	"distroThreshold": func(s *wire.Switches, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || !(f > 0) {
			return errorf("distroThreshold must be a number above 0: %s", v)
		}
		s.DistroThreshold = f
		return nil
	},
	"distro":                       boolSetter(func(s *wire.Switches) *bool { return &s.DistroEnabled }),
	"check":                        boolSetter(func(s *wire.Switches) *bool { return &s.HealthCheckEnabled }),
	"pushEnabled":                  boolSetter(func(s *wire.Switches) *bool { return &s.PushEnabled }),
	"disableAddIP":                 boolSetter(func(s *wire.Switches) *bool { return &s.DisableAddIP }),
	"sendBeatOnly":                 boolSetter(func(s *wire.Switches) *bool { return &s.SendBeatOnly }),
	"enableStandalone":             boolSetter(func(s *wire.Switches) *bool { return &s.EnableStandalone }),
	"defaultInstanceEphemeral":     boolSetter(func(s *wire.Switches) *bool { return &s.DefaultInstanceEphemeral }),
	"lightBeatEnabled":             boolSetter(func(s *wire.Switches) *bool { return &s.LightBeatEnabled }),
	"autoChangeHealthCheckEnabled": boolSetter(func(s *wire.Switches) *bool { return &s.AutoChangeHealthCheckEnabled }),
	"pushVersion": func(s *wire.Switches, v string) error {
		kind, ver, ok := strings.Cut(v, ":")
		if !ok || ver == "" {
			return errorf("pushVersion must look like java:0.1.0: %s", v)
		}
		switch strings.ToLower(kind) {
		case "java":
			s.PushJavaVersion = ver
		case "go":
			s.PushGoVersion = ver
		case "python":
			s.PushPythonVersion = ver
		case "c":
			s.PushCVersion = ver
		case "csharp":
			s.PushCSharpVersion = ver
		default:
			return errorf("unsupported client type: %s", kind)
		}
		return nil
	},
	"limitedUrlMap": func(s *wire.Switches, v string) error {
		m := map[string]int{}
		if v != "" {
			for _, pair := range strings.Split(v, ",") {
				url, code, ok := strings.Cut(pair, ":")
				n, err := strconv.Atoi(strings.TrimSpace(code))
				if !ok || err != nil || n < 100 || n > 599 || strings.TrimSpace(url) == "" {
					return errorf("limitedUrlMap must look like /url:503,/other:429: %s", v)
				}
				m[strings.TrimSpace(url)] = n
			}
		}
		s.LimitedURLMap = m
		return nil
	},
	"overriddenServerStatus": func(s *wire.Switches, v string) error {
		switch v {
		case "", "null":
			s.OverriddenServerStatus = nil
		case "UP", "DOWN", "STARTING", "PAUSED", "WRITE_ONLY", "READ_ONLY":
			s.OverriddenServerStatus = &v
		default:
			return errorf("unknown server status: %s", v)
		}
		return nil
	},
	"batch": func(s *wire.Switches, v string) error {
		next := *s
		if err := json.Unmarshal([]byte(v), &next); err != nil {
			return errorf("batch must be a switches JSON document: %v", err)
		}
		*s = next
		return nil
	},
}

func intSetter(field func(*wire.Switches) *int64, minimum int64) func(*wire.Switches, string) error {
	return func(s *wire.Switches, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < minimum {
			return errorf("value must be an integer of at least %d: %s", minimum, v)
		}
		*field(s) = n
		return nil
	}
}

func boolSetter(field func(*wire.Switches) *bool) func(*wire.Switches, string) error {
	return func(s *wire.Switches, v string) error {
		b, err := strconv.ParseBool(strings.ToLower(v))
		if err != nil {
			return errorf("value must be true or false: %s", v)
		}
		*field(s) = b
		return nil
	}
}
