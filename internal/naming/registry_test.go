package naming

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var svcKey = ServiceKey{Namespace: DefaultNamespace, Name: "DEFAULT_GROUP@@demo"}

// recorder is a Notifier that records announcements. It calls back into the
// registry to prove that notifications come after the lock is released.
type recorder struct {
	mu   sync.Mutex
	reg  *Registry
	revs map[ServiceKey][]int64
}

func (r *recorder) ServiceChanged(key ServiceKey, rev int64) {
	if r.reg != nil {
		r.reg.Stats() // would deadlock if called under the write lock
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.revs == nil {
		r.revs = map[ServiceKey][]int64{}
	}
	r.revs[key] = append(r.revs[key], rev)
}

func (r *recorder) count(key ServiceKey) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.revs[key])
}

func newRegistry(t testing.TB) (*Registry, *recorder) {
	t.Helper()
	rec := &recorder{}
	reg := New(Config{Notifier: rec})
	rec.reg = reg
	return reg, rec
}

func spec(ip string, port int) InstanceSpec {
	return InstanceSpec{IP: ip, Port: port, Weight: 1, Healthy: true, Enabled: true, Ephemeral: true}
}

func mustRegister(t testing.TB, reg *Registry, key ServiceKey, s InstanceSpec, now time.Time) {
	t.Helper()
	if err := reg.Register(key, s, now); err != nil {
		t.Fatalf("Register(%v): %v", s, err)
	}
}

func hostsOf(t testing.TB, reg *Registry, q Query) []string {
	t.Helper()
	var out []string
	for _, h := range reg.Select(q, nil).Hosts {
		out = append(out, fmt.Sprintf("%s:%d/%s healthy=%v", h.IP, h.Port, h.Cluster, h.Healthy))
	}
	return out
}

func TestRegistry_Register(t *testing.T) {
	reg, rec := newRegistry(t)
	mustRegister(t, reg, svcKey, spec("10.0.0.1", 8080), t0)
	sel := reg.Select(Query{Key: svcKey}, nil)
	if !sel.Found || len(sel.Hosts) != 1 {
		t.Fatalf("got %+v, want one host", sel)
	}
	h := sel.Hosts[0]
	if h.IP != "10.0.0.1" || h.Port != 8080 || h.Cluster != DefaultCluster || !h.Healthy || !h.Enabled || !h.Ephemeral {
		t.Errorf("got host %+v", h)
	}
	if got, want := h.InstanceID(svcKey.Name), "10.0.0.1#8080#DEFAULT#DEFAULT_GROUP@@demo"; got != want {
		t.Errorf("got id %q, want %q", got, want)
	}
	if sel.Revision != t0.UnixMilli() {
		t.Errorf("got revision %d, want %d", sel.Revision, t0.UnixMilli())
	}
	if rec.count(svcKey) != 1 {
		t.Errorf("got %d notifications, want 1", rec.count(svcKey))
	}

	t.Run("identical re-registration changes nothing", func(t *testing.T) {
		mustRegister(t, reg, svcKey, spec("10.0.0.1", 8080), t0.Add(time.Second))
		if rec.count(svcKey) != 1 {
			t.Errorf("got %d notifications, want 1", rec.count(svcKey))
		}
	})
	t.Run("a change bumps the revision, even within the same millisecond", func(t *testing.T) {
		s := spec("10.0.0.1", 8080)
		s.Weight = 2
		mustRegister(t, reg, svcKey, s, t0)
		got := reg.Select(Query{Key: svcKey}, nil).Revision
		if got != t0.UnixMilli()+1 {
			t.Errorf("got revision %d, want %d", got, t0.UnixMilli()+1)
		}
	})
	t.Run("re-registration keeps health", func(t *testing.T) {
		healthy := false
		if err := reg.PatchInstance(svcKey, "", "10.0.0.1", 8080, Patch{Healthy: &healthy}, t0); err != nil {
			t.Fatal(err)
		}
		mustRegister(t, reg, svcKey, spec("10.0.0.1", 8080), t0)
		h, err := reg.Instance(svcKey, "", "10.0.0.1", 8080)
		if err != nil || h.Healthy {
			t.Errorf("got %+v, %v; want unhealthy", h, err)
		}
	})
	t.Run("ephemeral and persistent sets are separate", func(t *testing.T) {
		s := spec("10.0.0.1", 8080)
		s.Ephemeral = false
		mustRegister(t, reg, svcKey, s, t0)
		if n := reg.Stats().Instances; n != 2 {
			t.Errorf("got %d instances, want 2", n)
		}
		if reg.Deregister(svcKey, "", "10.0.0.1", 8080, false, t0) != true {
			t.Error("persistent deregister removed nothing")
		}
		if _, err := reg.Instance(svcKey, "", "10.0.0.1", 8080); err != nil {
			t.Errorf("ephemeral instance gone after persistent deregister: %v", err)
		}
	})
}

func TestRegistry_RegisterInvalid(t *testing.T) {
	tests := []struct {
		name  string
		key   ServiceKey
		spec  func(*InstanceSpec)
		param string
	}{
		{"blank ip", svcKey, func(s *InstanceSpec) { s.IP = "" }, "ip"},
		{"negative port", svcKey, func(s *InstanceSpec) { s.Port = -1 }, "port"},
		{"port too large", svcKey, func(s *InstanceSpec) { s.Port = 65536 }, "port"},
		{"weight too large", svcKey, func(s *InstanceSpec) { s.Weight = 10000.5 }, "weight"},
		{"negative weight", svcKey, func(s *InstanceSpec) { s.Weight = -1 }, "weight"},
		{"cluster with underscore", svcKey, func(s *InstanceSpec) { s.Cluster = "a_b" }, "clusterName"},
		{"service without group", ServiceKey{DefaultNamespace, "demo"}, nil, "serviceName"},
		{"empty group", ServiceKey{DefaultNamespace, "@@demo"}, nil, "serviceName"},
		{"empty service", ServiceKey{DefaultNamespace, "grp@@"}, nil, "serviceName"},
		{"bad character", ServiceKey{DefaultNamespace, "DEFAULT_GROUP@@de mo"}, nil, "serviceName"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, rec := newRegistry(t)
			s := spec("10.0.0.1", 80)
			if tt.spec != nil {
				tt.spec(&s)
			}
			err := reg.Register(tt.key, s, t0)
			var ie *InvalidError
			if !errors.As(err, &ie) || ie.Param != tt.param {
				t.Fatalf("got %v, want an InvalidError on %s", err, tt.param)
			}
			if st := reg.Stats(); st.Services != 0 || st.Instances != 0 || rec.count(tt.key) != 0 {
				t.Errorf("half applied: %+v", st)
			}
		})
	}
}

func TestRegistry_Deregister(t *testing.T) {
	reg, rec := newRegistry(t)
	if reg.Deregister(svcKey, "", "10.0.0.1", 1, true, t0) {
		t.Error("removed an unknown instance")
	}
	for i := range 3 {
		mustRegister(t, reg, svcKey, spec("10.0.0.1", i), t0)
	}
	if !reg.Deregister(svcKey, "", "10.0.0.1", 0, true, t0) {
		t.Fatal("removed nothing")
	}
	got := hostsOf(t, reg, Query{Key: svcKey})
	if len(got) != 2 {
		t.Errorf("got %v, want 2 hosts", got)
	}
	if rec.count(svcKey) != 4 {
		t.Errorf("got %d notifications, want 4", rec.count(svcKey))
	}
}

func TestRegistry_Beat(t *testing.T) {
	reg, rec := newRegistry(t)
	t.Run("unknown instance without body", func(t *testing.T) {
		res, err := reg.Beat(svcKey, BeatSpec{IP: "10.0.0.1", Port: 80}, t0)
		if err != nil || res.Found {
			t.Errorf("got %+v, %v; want not found", res, err)
		}
		if reg.Stats().Services != 0 {
			t.Error("a light beat created a service")
		}
	})
	t.Run("unknown instance with body re-registers", func(t *testing.T) {
		s := spec("10.0.0.1", 80)
		s.Metadata = map[string]string{MetaBeatInterval: "2000"}
		res, err := reg.Beat(svcKey, BeatSpec{IP: "10.0.0.1", Port: 80, Instance: &s}, t0)
		if err != nil || !res.Found || !res.Reregistered || res.Interval != 2*time.Second {
			t.Errorf("got %+v, %v", res, err)
		}
		if len(hostsOf(t, reg, Query{Key: svcKey})) != 1 {
			t.Error("instance not re-registered")
		}
	})
	t.Run("beat refreshes last beat and revives", func(t *testing.T) {
		reg.ExpireDue(t0.Add(16*time.Second), nil)
		h, _ := reg.Instance(svcKey, "", "10.0.0.1", 80)
		if h.Healthy {
			t.Fatal("instance still healthy after 16 s without beats")
		}
		before := rec.count(svcKey)
		now := t0.Add(17 * time.Second)
		res, err := reg.Beat(svcKey, BeatSpec{IP: "10.0.0.1", Port: 80}, now)
		if err != nil || !res.Found || res.Interval != 2*time.Second {
			t.Errorf("got %+v, %v", res, err)
		}
		h, _ = reg.Instance(svcKey, "", "10.0.0.1", 80)
		if !h.Healthy || !h.LastBeat.Equal(now) {
			t.Errorf("got %+v, want healthy with last beat %v", h, now)
		}
		if rec.count(svcKey) != before+1 {
			t.Errorf("revival announced %d times, want once", rec.count(svcKey)-before)
		}
	})
}

func TestRegistry_Expiry(t *testing.T) {
	reg, rec := newRegistry(t)
	mustRegister(t, reg, svcKey, spec("10.0.0.1", 1), t0)
	fast := spec("10.0.0.1", 2)
	fast.Metadata = map[string]string{MetaBeatTimeout: "3000", MetaDeleteTimeout: "6000"}
	mustRegister(t, reg, svcKey, fast, t0)

	if got := reg.NextDeadline(); !got.Equal(t0.Add(3 * time.Second)) {
		t.Fatalf("got next deadline %v, want t0+3s", got)
	}
	check := func(at time.Duration, wantKinds []TransitionKind, wantNext time.Duration) {
		t.Helper()
		trs, next := reg.ExpireDue(t0.Add(at), nil)
		var kinds []TransitionKind
		for _, tr := range trs {
			kinds = append(kinds, tr.Kind)
			if tr.Deadline.After(t0.Add(at)) {
				t.Errorf("transition %+v applied before its deadline", tr)
			}
		}
		if fmt.Sprint(kinds) != fmt.Sprint(wantKinds) {
			t.Errorf("at %v: got transitions %v, want %v", at, kinds, wantKinds)
		}
		if wantNext >= 0 && !next.Equal(t0.Add(wantNext)) {
			t.Errorf("at %v: got next %v, want t0+%v", at, next.Sub(t0), wantNext)
		}
	}
	check(3*time.Second-1, nil, 3*time.Second)
	check(3*time.Second, []TransitionKind{BecameUnhealthy}, 6*time.Second)
	// The default instance beats at 5 s and 10 s, so it must not expire at 15 s.
	for _, at := range []time.Duration{5 * time.Second, 10 * time.Second} {
		if _, err := reg.Beat(svcKey, BeatSpec{IP: "10.0.0.1", Port: 1}, t0.Add(at)); err != nil {
			t.Fatal(err)
		}
	}
	check(6*time.Second, []TransitionKind{Expired}, 15*time.Second)
	check(15*time.Second, nil, 25*time.Second)
	check(25*time.Second, []TransitionKind{BecameUnhealthy}, 40*time.Second)
	check(40*time.Second, []TransitionKind{Expired}, -1)
	if trs, _ := reg.ExpireDue(t0.Add(40*time.Second), nil); len(trs) != 0 || !reg.NextDeadline().IsZero() {
		t.Errorf("instances gone: got a deadline at %v", reg.NextDeadline())
	}
	if n := reg.Stats().Instances; n != 0 {
		t.Errorf("got %d instances, want 0", n)
	}
	if rec.count(svcKey) != 6 { // 2 registrations, 2 unhealthy, 2 removals
		t.Errorf("got %d notifications, want 6", rec.count(svcKey))
	}
	t.Run("empty implicit service is dropped after its TTL", func(t *testing.T) {
		emptied := t0.Add(40 * time.Second)
		if next := reg.Housekeep(emptied); !next.Equal(emptied.Add(DefaultEmptyServiceTTL)) {
			t.Errorf("got housekeeping due at %v, want the TTL after the service emptied", next.Sub(t0))
		}
		reg.Housekeep(emptied.Add(DefaultEmptyServiceTTL - 1))
		if n := reg.Stats().Services; n != 1 {
			t.Fatalf("1 ns before its TTL: got %d services, want 1", n)
		}
		reg.Housekeep(emptied.Add(DefaultEmptyServiceTTL))
		if n := reg.Stats().Services; n != 0 {
			t.Errorf("at its TTL: got %d services, want 0", n)
		}
	})
}

func TestRegistry_EmptyServiceTTLCountsFromTheLastEmptying(t *testing.T) {
	reg, _ := newRegistry(t)
	mustRegister(t, reg, svcKey, spec("10.0.0.1", 1), t0)
	reg.Deregister(svcKey, "", "10.0.0.1", 1, true, t0) // empty at 0 s
	mustRegister(t, reg, svcKey, spec("10.0.0.1", 2), t0.Add(10*time.Second))
	reg.Deregister(svcKey, "", "10.0.0.1", 2, true, t0.Add(85*time.Second)) // empty again at 85 s
	reg.Housekeep(t0.Add(DefaultEmptyServiceTTL))
	if n := reg.Stats().Services; n != 1 {
		t.Fatalf("90 s after the first emptying: got %d services, want 1 (emptied again at 85 s)", n)
	}
	reg.Housekeep(t0.Add(85*time.Second + DefaultEmptyServiceTTL))
	if n := reg.Stats().Services; n != 0 {
		t.Errorf("90 s after the last emptying: got %d services, want 0", n)
	}
}

func TestRegistry_MaxInstances(t *testing.T) {
	reg := New(Config{MaxInstances: 2})
	mustRegister(t, reg, svcKey, spec("10.0.0.1", 1), t0)
	mustRegister(t, reg, svcKey, spec("10.0.0.1", 2), t0)
	mustRegister(t, reg, svcKey, spec("10.0.0.1", 2), t0) // an update still works
	if err := reg.Register(svcKey, spec("10.0.0.1", 3), t0); !errors.Is(err, ErrFull) {
		t.Errorf("got %v, want ErrFull", err)
	}
	reg.Deregister(svcKey, "", "10.0.0.1", 1, true, t0)
	mustRegister(t, reg, svcKey, spec("10.0.0.1", 3), t0)
}

func TestRegistry_ExpiryShortenedTimeout(t *testing.T) {
	reg, _ := newRegistry(t)
	mustRegister(t, reg, svcKey, spec("10.0.0.1", 1), t0)
	s := spec("10.0.0.1", 1)
	s.Metadata = map[string]string{MetaBeatTimeout: "1000"}
	mustRegister(t, reg, svcKey, s, t0)
	trs, _ := reg.ExpireDue(t0.Add(time.Second), nil)
	if len(trs) != 1 || trs[0].Kind != BecameUnhealthy {
		t.Errorf("got %+v, want the instance unhealthy at its new, shorter timeout", trs)
	}
}

func TestRegistry_ExplicitServiceStays(t *testing.T) {
	reg, _ := newRegistry(t)
	if err := reg.CreateService(svcKey, ServiceSpec{ProtectThreshold: 0.5}, t0); err != nil {
		t.Fatal(err)
	}
	if err := reg.CreateService(svcKey, ServiceSpec{}, t0); !errors.Is(err, ErrServiceExists) {
		t.Errorf("got %v, want ErrServiceExists", err)
	}
	mustRegister(t, reg, svcKey, spec("10.0.0.1", 1), t0)
	reg.Deregister(svcKey, "", "10.0.0.1", 1, true, t0)
	reg.ExpireDue(t0.Add(time.Hour), nil)
	if _, err := reg.Service(svcKey); err != nil {
		t.Errorf("explicit service removed: %v", err)
	}
}

func TestRegistry_RevisionNeverGoesBack(t *testing.T) {
	reg, _ := newRegistry(t)
	for i := range 100 {
		mustRegister(t, reg, svcKey, spec("10.0.0.1", i), t0)
	}
	old := reg.Select(Query{Key: svcKey}, nil).Revision
	if err := reg.DeleteService(svcKey, t0); err != nil {
		t.Fatal(err)
	}
	mustRegister(t, reg, svcKey, spec("10.0.0.1", 1), t0)
	if got := reg.Select(Query{Key: svcKey}, nil).Revision; got <= old {
		t.Errorf("got revision %d after re-creation, want above %d", got, old)
	}
}

func TestRegistry_SelectProtection(t *testing.T) {
	reg, _ := newRegistry(t)
	for i := range 4 {
		s := spec("10.0.0.1", i)
		s.Healthy = i < 2
		s.Enabled = i != 1
		s.Cluster = []string{"a", "a", "b", "b"}[i]
		mustRegister(t, reg, svcKey, s, t0)
	}
	// Healthy: port 0 (a), port 1 (a, disabled). Unhealthy: ports 2, 3 (b).
	tests := []struct {
		name      string
		threshold float64
		q         Query
		want      string
	}{
		{"all clusters", 0, Query{}, "[10.0.0.1:0/a healthy=true 10.0.0.1:2/b healthy=false 10.0.0.1:3/b healthy=false]"},
		{"healthy only", 0, Query{HealthyOnly: true}, "[10.0.0.1:0/a healthy=true]"},
		{"protection with threshold 0 when no healthy instance", 0, Query{Clusters: []string{"b"}}, "[10.0.0.1:2/b healthy=true 10.0.0.1:3/b healthy=true]"},
		{"protection overrides healthy only", 0, Query{Clusters: []string{"b"}, HealthyOnly: true}, "[10.0.0.1:2/b healthy=true 10.0.0.1:3/b healthy=true]"},
		{"protection at the threshold", 0.5, Query{}, "[10.0.0.1:0/a healthy=true 10.0.0.1:2/b healthy=true 10.0.0.1:3/b healthy=true]"},
		{"no protection above the threshold", 0.49, Query{}, "[10.0.0.1:0/a healthy=true 10.0.0.1:2/b healthy=false 10.0.0.1:3/b healthy=false]"},
		{"unknown clusters ignored", 0, Query{Clusters: []string{"x", "a", "a"}}, "[10.0.0.1:0/a healthy=true]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := reg.UpdateService(svcKey, ServiceSpec{ProtectThreshold: tt.threshold}, t0); err != nil {
				t.Fatal(err)
			}
			q := tt.q
			q.Key = svcKey
			if got := fmt.Sprint(hostsOf(t, reg, q)); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestRegistry_Snowflake(t *testing.T) {
	reg, _ := newRegistry(t)
	for i := range 3 {
		s := spec("10.0.0.1", i)
		s.Metadata = map[string]string{MetaIDGenerator: "snowflake"}
		mustRegister(t, reg, svcKey, s, t0)
	}
	reg.Deregister(svcKey, "", "10.0.0.1", 1, true, t0)
	s := spec("10.0.0.2", 9)
	s.Metadata = map[string]string{MetaIDGenerator: "snowflake"}
	mustRegister(t, reg, svcKey, s, t0)
	h, err := reg.Instance(svcKey, "", "10.0.0.2", 9)
	if err != nil || h.ID != "1" {
		t.Errorf("got id %q (%v), want the freed id 1", h.ID, err)
	}
}

func TestRegistry_UpdateMetadata(t *testing.T) {
	reg, _ := newRegistry(t)
	mustRegister(t, reg, svcKey, spec("10.0.0.1", 1), t0)
	p := spec("10.0.0.1", 2)
	p.Ephemeral = false
	mustRegister(t, reg, svcKey, p, t0)

	got, err := reg.UpdateMetadata(svcKey, MetadataBatch{Kind: "ephemeral", Entries: map[string]string{"a": "1"}}, t0)
	if err != nil || fmt.Sprint(got) != "[10.0.0.1:1:unknown:DEFAULT:ephemeral]" {
		t.Errorf("got %v, %v", got, err)
	}
	got, err = reg.UpdateMetadata(svcKey, MetadataBatch{
		Instances: []InstanceRef{{IP: "10.0.0.1", Port: 2}},
		Entries:   map[string]string{"b": "2"},
	}, t0)
	if err != nil || fmt.Sprint(got) != "[10.0.0.1:2:unknown:DEFAULT:persist]" {
		t.Errorf("got %v, %v", got, err)
	}
	if _, err := reg.UpdateMetadata(svcKey, MetadataBatch{Kind: "ephemeral", Entries: map[string]string{"a": ""}, Delete: true}, t0); err != nil {
		t.Fatal(err)
	}
	h, _ := reg.Instance(svcKey, "", "10.0.0.1", 1)
	if h.Metadata.JSON() != "{}" {
		t.Errorf("got metadata %s after delete, want {}", h.Metadata.JSON())
	}
	if _, err := reg.UpdateMetadata(ServiceKey{DefaultNamespace, "DEFAULT_GROUP@@none"}, MetadataBatch{}, t0); !errors.Is(err, ErrServiceNotFound) {
		t.Errorf("got %v, want ErrServiceNotFound", err)
	}
}

func TestMetadata(t *testing.T) {
	a := MetadataOf(map[string]string{"b": "2", "a": "<1>"})
	b := MetadataOf(map[string]string{"a": "<1>", "b": "2"})
	if a != b {
		t.Error("equal maps give different Metadata")
	}
	if got, want := a.JSON(), `{"a":"<1>","b":"2"}`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if m := a.Map(); len(m) != 2 || m["b"] != "2" {
		t.Errorf("got %v", m)
	}
	if (Metadata{}).JSON() != "{}" || MetadataOf(nil) != (Metadata{}) {
		t.Error("empty metadata is not the zero value")
	}
	tm := TimingOf(map[string]string{MetaBeatInterval: "0", MetaBeatTimeout: "x", MetaDeleteTimeout: "7000"})
	if tm.BeatInterval != 0 || tm.BeatTimeout != DefaultBeatTimeout || tm.DeleteTimeout != 7*time.Second {
		t.Errorf("got %+v", tm)
	}
}

func TestCheckServiceName(t *testing.T) {
	for name, ok := range map[string]bool{
		"g@@s": true, "a@@b@@c": true, "a@@@@b": true,
		"s": false, "g@@": false, "@@s": false, "a@@@@": false, "": false,
	} {
		if err := CheckServiceName(name); (err == nil) != ok {
			t.Errorf("CheckServiceName(%q) = %v, want ok=%v", name, err, ok)
		}
	}
}

// TestRegistry_Concurrent runs writers, beaters, readers and expiry at once;
// its value is under -race.
func TestRegistry_Concurrent(t *testing.T) {
	reg, _ := newRegistry(t)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				now := t0.Add(time.Duration(i) * time.Second)
				s := spec(fmt.Sprintf("10.0.%d.1", w), i%20)
				_ = reg.Register(svcKey, s, now)
				_, _ = reg.Beat(svcKey, BeatSpec{IP: s.IP, Port: s.Port}, now)
				reg.Select(Query{Key: svcKey}, nil)
				reg.ExpireDue(now, nil)
				if i%7 == 0 {
					reg.Deregister(svcKey, "", s.IP, s.Port, true, now)
				}
			}
		})
	}
	wg.Wait()
	// Whatever the interleaving, the counts agree with what is served.
	sel := reg.Select(Query{Key: svcKey}, nil)
	if got, want := reg.Stats().Instances, len(sel.Hosts); got != want {
		t.Errorf("Stats counts %d instances, Select serves %d", got, want)
	}
	seen := map[string]bool{}
	for _, h := range sel.Hosts {
		k := fmt.Sprintf("%s:%d", h.IP, h.Port)
		if seen[k] {
			t.Errorf("%s served twice", k)
		}
		seen[k] = true
	}
	if len(sel.Hosts) > 0 && reg.NextDeadline().IsZero() {
		t.Error("ephemeral instances remain but no deadline is scheduled")
	}
}

func TestRegistry_BeatAfterDeregister(t *testing.T) {
	reg, _ := newRegistry(t)
	s := spec("10.0.0.1", 80)
	full := BeatSpec{IP: "10.0.0.1", Port: 80, Instance: &s}
	mustRegister(t, reg, svcKey, s, t0)
	reg.Deregister(svcKey, "", "10.0.0.1", 80, true, t0)

	res, err := reg.Beat(svcKey, full, t0.Add(DefaultDeregisterGrace-time.Millisecond))
	if err != nil || res.Found || reg.Stats().Instances != 0 {
		t.Fatalf("a full beat right after deregistration: got %+v, %v, %d instances; want it refused", res, err, reg.Stats().Instances)
	}
	t.Run("after the grace a full beat re-creates the instance", func(t *testing.T) {
		reg.ExpireDue(t0.Add(DefaultDeregisterGrace), nil) // sweeps the tombstone
		res, err := reg.Beat(svcKey, full, t0.Add(DefaultDeregisterGrace))
		if err != nil || !res.Reregistered {
			t.Errorf("got %+v, %v; want re-registered", res, err)
		}
	})
	t.Run("registering again ends the grace", func(t *testing.T) {
		reg.Deregister(svcKey, "", "10.0.0.1", 80, true, t0)
		mustRegister(t, reg, svcKey, s, t0)
		reg.Deregister(svcKey, "", "10.0.0.1", 81, true, t0) // another instance: unrelated
		reg.Deregister(svcKey, "", "10.0.0.1", 80, true, t0)
		mustRegister(t, reg, svcKey, s, t0.Add(time.Millisecond))
		reg.Deregister(svcKey, "", "10.0.0.1", 80, true, t0.Add(time.Millisecond))
		mustRegister(t, reg, svcKey, s, t0.Add(2*time.Millisecond))
		if res, err := reg.Beat(svcKey, full, t0.Add(3*time.Millisecond)); err != nil || !res.Found || res.Reregistered {
			t.Errorf("got %+v, %v; want an ordinary beat of the registered instance", res, err)
		}
	})
	t.Run("expiry leaves no grace", func(t *testing.T) {
		other := spec("10.0.0.2", 80)
		mustRegister(t, reg, svcKey, other, t0)
		reg.ExpireDue(t0.Add(DefaultDeleteTimeout), nil)
		res, err := reg.Beat(svcKey, BeatSpec{IP: "10.0.0.2", Port: 80, Instance: &other}, t0.Add(DefaultDeleteTimeout))
		if err != nil || !res.Reregistered {
			t.Errorf("got %+v, %v; an expired instance's beat must re-create it", res, err)
		}
	})
}

func TestRegistry_MetadataBound(t *testing.T) {
	reg, _ := newRegistry(t)
	big := map[string]string{"pad": strings.Repeat("x", MaxMetadataBytes)}
	s := spec("10.0.0.1", 1)
	s.Metadata = big
	var ie *InvalidError
	if err := reg.Register(svcKey, s, t0); !errors.As(err, &ie) || ie.Param != "metadata" {
		t.Fatalf("got %v, want an InvalidError on metadata", err)
	}
	mustRegister(t, reg, svcKey, spec("10.0.0.1", 1), t0)
	mustRegister(t, reg, svcKey, spec("10.0.0.1", 2), t0)
	if _, err := reg.UpdateMetadata(svcKey, MetadataBatch{Kind: "ephemeral", Entries: big}, t0); !errors.As(err, &ie) {
		t.Fatalf("batch: got %v, want an InvalidError", err)
	}
	for _, port := range []int{1, 2} {
		if h, _ := reg.Instance(svcKey, "", "10.0.0.1", port); h.Metadata.JSON() != "{}" {
			t.Errorf("port %d: a refused batch changed the metadata to %.40s", port, h.Metadata.JSON())
		}
	}
	if err := reg.PatchInstance(svcKey, "", "10.0.0.1", 1, Patch{Metadata: big}, t0); !errors.As(err, &ie) {
		t.Errorf("patch: got %v, want an InvalidError", err)
	}
}
