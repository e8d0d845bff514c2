package naming

import (
	"strings"
	"testing"
)

// checkServiceNameSplit is the rule as Nacos states it, with Java's split.
func checkServiceNameSplit(grouped string) string {
	parts := strings.Split(grouped, GroupSeparator)
	for len(parts) > 0 && parts[len(parts)-1] == "" {
		parts = parts[:len(parts)-1]
	}
	switch {
	case len(parts) < 2:
		return "format"
	case parts[0] == "":
		return "group"
	}
	return ""
}

func FuzzCheckServiceName(f *testing.F) {
	for _, s := range []string{"", "a", "@@", "a@@", "@@a", "a@@b", "a@@@", "a@@@@", "a@@@@b", "@@@@a", "g@@s@@", "@a@@b", "a@@@@@"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := ""
		if err := CheckServiceName(s); err != nil {
			got = "format"
			if strings.Contains(err.Error(), "can't be empty") {
				got = "group"
			}
		}
		if want := checkServiceNameSplit(s); got != want {
			t.Errorf("CheckServiceName(%q): got %q, want %q", s, got, want)
		}
	})
}

func TestCheckServiceName_NoAllocation(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = CheckServiceName("DEFAULT_GROUP@@svc") }); n != 0 {
		t.Errorf("got %v allocations, want 0", n)
	}
}
