package switches

import (
	"strings"
	"testing"
)

func TestSet_Update(t *testing.T) {
	tests := []struct {
		entry, value string
		err          string // "" means accepted
	}{
		{"clientBeatInterval", "2000", ""},
		{"clientBeatInterval", "0", "at least 1"},
		{"check", "FALSE", ""},
		{"limitedUrlMap", "/v1/ns/instance/list:429", ""},
		{"limitedUrlMap", "/v1/ns/instance/list:0", "limitedUrlMap must look like"},
		{"overriddenServerStatus", "BOGUS", "unknown server status"},
		{"batch", `{"clientBeatInterval":-7}`, "clientBeatInterval must be at least 1"},
		{"batch", `{"limitedUrlMap":{"/v1/ns/instance/list":0}}`, "limitedUrlMap entries"},
		{"batch", `{"overriddenServerStatus":"BOGUS"}`, "unknown server status"},
		{"batch", `{"pushJavaVersion":""}`, "push versions"},
		{"batch", `{"defaultCacheMillis":5000,"lightBeatEnabled":false}`, ""},
		{"nope", "1", "unknown switch entry"},
	}
	for _, tt := range tests {
		t.Run(tt.entry+"="+tt.value, func(t *testing.T) {
			s := New()
			before := *s.Get()
			err := s.Update(tt.entry, tt.value)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("got %v, want accepted", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("got %v, want an error with %q", err, tt.err)
			case tt.err != "" && s.Get().ClientBeatInterval != before.ClientBeatInterval:
				t.Error("a refused update changed the switches")
			}
		})
	}
}

func TestSet_Changed(t *testing.T) {
	s := New()
	ch := s.Changed()
	if err := s.Update("check", "false"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	default:
		t.Fatal("Changed was not closed by an update")
	}
	if s.Get().HealthCheckEnabled {
		t.Error("check=false did not apply")
	}
}
