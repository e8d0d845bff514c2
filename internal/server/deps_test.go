package server_test

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyRules keeps the layering of docs/style: the registry core
// depends on nothing, the public client on no server internals, and only the
// composition root wires everything.
func TestDependencyRules(t *testing.T) {
	const mod = "github.com/pulse-registry/pulse"
	out, err := exec.Command("go", "list", "-deps", "-json=ImportPath,Imports,Standard", mod+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	type pkg struct {
		ImportPath string
		Imports    []string
		Standard   bool
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs[p.ImportPath] = p
	}
	var deps func(string, map[string]bool)
	deps = func(path string, seen map[string]bool) {
		for _, imp := range pkgs[path].Imports {
			if !seen[imp] {
				seen[imp] = true
				deps(imp, seen)
			}
		}
	}
	nonStd := func(path string) []string {
		seen := map[string]bool{}
		deps(path, seen)
		var out []string
		for p := range seen {
			// "C" is cgo's pseudo-package (net imports it), not a dependency.
			if !pkgs[p].Standard && p != "C" {
				out = append(out, p)
			}
		}
		return out
	}
	if d := nonStd(mod + "/internal/naming"); len(d) > 0 {
		t.Errorf("internal/naming must import only the standard library; it imports %v", d)
	}
	if _, ok := pkgs[mod+"/client"]; ok {
		for _, d := range nonStd(mod + "/client") {
			if d != mod+"/internal/wire" && d != mod+"/internal/naming" {
				t.Errorf("client must import only the standard library, internal/wire and internal/naming; it imports %s", d)
			}
		}
	}
	for path, p := range pkgs {
		if !strings.HasPrefix(path, mod) {
			continue
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, "github.com/hashicorp/") && !strings.HasPrefix(path, mod+"/internal/cluster") {
				t.Errorf("%s imports %s: hashicorp packages belong in internal/cluster", path, imp)
			}
			if imp == mod+"/internal/server" && path != mod+"/cmd/pulse" && path != mod+"/internal/servertest" && !strings.HasPrefix(path, mod+"/internal/server") {
				t.Errorf("%s imports internal/server: only cmd/pulse and internal/servertest may", path)
			}
		}
	}
}
