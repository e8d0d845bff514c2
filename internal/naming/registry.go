package naming

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unique"
)

// Notifier learns about changes to services. ServiceChanged is called after
// the registry's lock is released, once per changed service and operation,
// with the service's new revision. Calls from concurrent operations may
// arrive out of order; a listener that cares compares revisions. It must not
// block: the registry calls it on the goroutine of the request or expiry
// that made the change.
type Notifier interface {
	ServiceChanged(key ServiceKey, rev int64)
}

// Config holds the registry's settings.
type Config struct {
	// Notifier receives change announcements. Nil means nobody listens.
	Notifier Notifier
	// EmptyServiceTTL is how long a service that was created implicitly, by
	// registering an instance, stays after its last instance left. Services
	// created explicitly stay until deleted. Zero means the default, 90 s.
	EmptyServiceTTL time.Duration
	// DeregisterGrace is how long after an explicit deregistration a full
	// beat may not re-create the instance: clients send beats from another
	// goroutine, and one already in flight when the client deregistered
	// would otherwise bring the instance back. Registering again ends it.
	// Zero means the default, 5 s.
	DeregisterGrace time.Duration
	// MaxInstances bounds the instances the registry holds, against a
	// flood of registrations; beyond it a registration fails with ErrFull.
	// Zero means the default, 5,000,000.
	MaxInstances int
}

// Defaults of Config.
const (
	DefaultEmptyServiceTTL = 90 * time.Second
	DefaultDeregisterGrace = 5 * time.Second
	DefaultMaxInstances    = 5_000_000
)

// Registry is the in-memory registry. It is safe for concurrent use.
type Registry struct {
	notifier     Notifier
	emptyTTL     time.Duration
	grace        time.Duration
	maxInstances int
	wake         chan struct{}

	// mu guards the fields below, and the services, clusters and instances
	// they reach (an instance's lastBeat may also be stored under the read
	// lock).
	mu         sync.RWMutex
	namespaces map[string]map[string]*service
	services   int
	instances  int
	expiry     deadlineHeap // instance deadlines
	cleanup    deadlineHeap // empty implicit services
	// floor is the highest revision a deleted service had, so that a service
	// created again under the same name never goes back in time.
	floor int64
	// tombs holds deregistered ephemeral instances until the unix ns when a
	// full beat may re-create them again; swept by ExpireDue.
	tombs     map[tomb]int64
	tombSweep int64
}

// tomb identifies a deregistered instance.
type tomb struct {
	svc     ServiceKey
	cluster string
	ip      string
	port    int32
}

// New returns an empty registry.
func New(cfg Config) *Registry {
	if cfg.EmptyServiceTTL <= 0 {
		cfg.EmptyServiceTTL = DefaultEmptyServiceTTL
	}
	if cfg.DeregisterGrace <= 0 {
		cfg.DeregisterGrace = DefaultDeregisterGrace
	}
	if cfg.MaxInstances <= 0 {
		cfg.MaxInstances = DefaultMaxInstances
	}
	return &Registry{
		notifier:     cfg.Notifier,
		emptyTTL:     cfg.EmptyServiceTTL,
		grace:        cfg.DeregisterGrace,
		maxInstances: cfg.MaxInstances,
		tombs:        map[tomb]int64{},
		wake:         make(chan struct{}, 1),
		namespaces:   map[string]map[string]*service{},
	}
}

// changes collects the services an operation changed, with their new
// revisions, to announce them once the lock is released.
type changes struct {
	list  []change
	index map[ServiceKey]int // built once the list is long, for mass expiry
}

type change struct {
	key ServiceKey
	rev int64
}

// write runs fn under the write lock and announces the changes it made
// once the lock is released.
func (r *Registry) write(fn func(ch *changes) error) error {
	var ch changes
	r.mu.Lock()
	err := fn(&ch)
	r.mu.Unlock()
	r.notify(ch)
	return err
}

func (r *Registry) notify(ch changes) {
	if r.notifier == nil {
		return
	}
	for _, c := range ch.list {
		r.notifier.ServiceChanged(c.key, c.rev)
	}
}

// bumpLocked gives s a new revision: the current time in milliseconds, or one
// more than its last revision if that is already ahead.
func bumpLocked(s *service, now time.Time, ch *changes) {
	s.rev = max(s.rev+1, now.UnixMilli())
	if ch.index != nil {
		if i, ok := ch.index[s.key]; ok {
			ch.list[i].rev = s.rev
			return
		}
		ch.index[s.key] = len(ch.list)
	} else {
		for i := range ch.list {
			if ch.list[i].key == s.key {
				ch.list[i].rev = s.rev
				return
			}
		}
		if len(ch.list) == 8 {
			ch.index = make(map[ServiceKey]int, 16)
			for i, c := range ch.list {
				ch.index[c.key] = i
			}
			ch.index[s.key] = len(ch.list)
		}
	}
	ch.list = append(ch.list, change{s.key, s.rev})
}

func (r *Registry) serviceLocked(key ServiceKey) *service {
	return r.namespaces[key.Namespace][key.Name]
}

// intern returns a copy of s shared with every other interned equal string:
// for the few distinct values of app, cluster and namespace names.
func intern(s string) string { return unique.Make(s).Value() }

func (r *Registry) createServiceLocked(key ServiceKey) (*service, error) {
	if err := CheckServiceName(key.Name); err != nil {
		return nil, err
	}
	if err := validateServiceChars(key.Name); err != nil {
		return nil, err
	}
	// Request strings often point into a whole request body; keep copies
	// of just the names.
	key = ServiceKey{Namespace: intern(key.Namespace), Name: strings.Clone(key.Name)}
	ns := r.namespaces[key.Namespace]
	if ns == nil {
		ns = map[string]*service{}
		r.namespaces[key.Namespace] = ns
	}
	s := newService(key, r.floor)
	ns[key.Name] = s
	r.services++
	return s, nil
}

func (r *Registry) deleteServiceLocked(s *service) {
	for _, c := range s.clusters {
		for _, in := range c.list {
			in.removed = true
		}
		r.instances -= len(c.list)
	}
	s.removed = true
	r.floor = max(r.floor, s.rev)
	ns := r.namespaces[s.key.Namespace]
	delete(ns, s.key.Name)
	if len(ns) == 0 {
		delete(r.namespaces, s.key.Namespace)
	}
	r.services--
}

func checkSpec(spec *InstanceSpec) error {
	if spec.IP == "" {
		return invalid("ip", "Param 'ip' is required.")
	}
	if spec.Port < 0 || spec.Port > math.MaxUint16 {
		return invalid("port", "Param 'port' is illegal, it must be an integer in 0..65535: "+strconv.Itoa(spec.Port))
	}
	if !(spec.Weight >= 0 && spec.Weight <= 10000) { // NaN fails too
		return invalid("weight", "instance format invalid: The weights range from 0.0 to 10000.0")
	}
	if spec.Cluster == "" {
		spec.Cluster = DefaultCluster
	}
	if err := checkMetadata(spec.Metadata); err != nil {
		return err
	}
	return ValidateCluster(spec.Cluster)
}

// Register adds an instance, or replaces the one with the same ip, port,
// cluster and kind (ephemeral or persistent). A replaced instance keeps its id
// and its health: health is the beats' business. The service and cluster are
// created when missing. Registering refreshes the instance's last beat.
func (r *Registry) Register(key ServiceKey, spec InstanceSpec, now time.Time) error {
	if err := checkSpec(&spec); err != nil {
		return err
	}
	if err := CheckServiceName(key.Name); err != nil {
		return err
	}
	return r.write(func(ch *changes) error {
		if len(r.tombs) > 0 {
			delete(r.tombs, tomb{key, spec.Cluster, spec.IP, int32(spec.Port)})
		}
		return r.registerLocked(key, spec, now, ch)
	})
}

func (r *Registry) registerLocked(key ServiceKey, spec InstanceSpec, now time.Time, ch *changes) error {
	s := r.serviceLocked(key)
	if s == nil {
		var err error
		if s, err = r.createServiceLocked(key); err != nil {
			return err
		}
	}
	c := s.cluster(spec.Cluster, true)
	if r.instances >= r.maxInstances && c.byKey[instanceKey{spec.IP, int32(spec.Port), spec.Ephemeral}] == nil {
		return fmt.Errorf("register %s:%d: %w", spec.IP, spec.Port, ErrFull)
	}
	k := instanceKey{spec.IP, int32(spec.Port), spec.Ephemeral}
	meta := MetadataOf(spec.Metadata)
	timing := timingHandle(spec.Metadata)
	in := c.byKey[k]
	if in == nil {
		in = &instance{
			// The request's strings may share memory with its whole body,
			// which the instance would then keep alive.
			ip:        strings.Clone(spec.IP),
			port:      int32(spec.Port),
			ephemeral: spec.Ephemeral,
			healthy:   spec.Healthy,
			enabled:   spec.Enabled,
			weight:    spec.Weight,
			meta:      meta,
			timing:    timing,
			app:       intern(spec.App),
		}
		if gen, _ := spec.Metadata[MetaIDGenerator]; gen == "snowflake" {
			in.id = s.ids(spec.Ephemeral).take()
		}
		in.lastBeat.Store(now.UnixNano())
		c.add(in)
		r.instances++
		bumpLocked(s, now, ch)
	} else {
		in.lastBeat.Store(now.UnixNano())
		if in.update(spec, meta, timing) {
			bumpLocked(s, now, ch)
		}
	}
	if in.ephemeral {
		r.scheduleLocked(in)
	}
	return nil
}

// Update changes an existing instance and fails when the service or the
// instance (of the same kind) is missing. Health and last beat are kept.
func (r *Registry) Update(key ServiceKey, spec InstanceSpec, now time.Time) error {
	if err := checkSpec(&spec); err != nil {
		return err
	}
	return r.write(func(ch *changes) error {
		s := r.serviceLocked(key)
		if s == nil {
			return fmt.Errorf("update instance %s:%d: %w", spec.IP, spec.Port, ErrServiceNotFound)
		}
		c := s.cluster(spec.Cluster, false)
		var in *instance
		if c != nil {
			in = c.byKey[instanceKey{spec.IP, int32(spec.Port), spec.Ephemeral}]
		}
		if in == nil {
			return fmt.Errorf("update instance %s:%d: %w", spec.IP, spec.Port, ErrInstanceNotFound)
		}
		if in.update(spec, MetadataOf(spec.Metadata), timingHandle(spec.Metadata)) {
			bumpLocked(s, now, ch)
		}
		if in.ephemeral {
			r.scheduleLocked(in)
		}
		return nil
	})
}

// Patch holds the fields a partial update sets; nil fields are left alone.
type Patch struct {
	Metadata map[string]string
	App      *string
	Weight   *float64
	Healthy  *bool
	Enabled  *bool
}

// PatchInstance changes the given fields of the instance at ip:port in
// cluster (ephemeral or persistent).
func (r *Registry) PatchInstance(key ServiceKey, cluster, ip string, port int, p Patch, now time.Time) error {
	if cluster == "" {
		cluster = DefaultCluster
	}
	if p.Weight != nil && !(*p.Weight >= 0 && *p.Weight <= 10000) {
		return invalid("weight", "instance format invalid: The weights range from 0.0 to 10000.0")
	}
	if err := checkMetadata(p.Metadata); err != nil {
		return err
	}
	return r.write(func(ch *changes) error {
		in := r.findLocked(key, cluster, ip, port)
		if in == nil {
			return fmt.Errorf("patch instance %s:%d: %w", ip, port, ErrInstanceNotFound)
		}
		changed := false
		if p.Metadata != nil {
			if m := MetadataOf(p.Metadata); m != in.meta {
				in.meta, in.timing, changed = m, timingHandle(p.Metadata), true
			}
		}
		if p.App != nil && *p.App != in.app {
			in.app, changed = intern(*p.App), true
		}
		if p.Weight != nil && *p.Weight != in.weight {
			in.weight, changed = *p.Weight, true
		}
		if p.Healthy != nil && *p.Healthy != in.healthy {
			in.healthy, changed = *p.Healthy, true
		}
		if p.Enabled != nil && *p.Enabled != in.enabled {
			in.enabled, changed = *p.Enabled, true
		}
		if changed {
			bumpLocked(in.cluster.svc, now, ch)
			if in.ephemeral {
				r.scheduleLocked(in)
			}
		}
		return nil
	})
}

func (r *Registry) findLocked(key ServiceKey, cluster, ip string, port int) *instance {
	s := r.serviceLocked(key)
	if s == nil {
		return nil
	}
	c := s.clusters[cluster]
	if c == nil {
		return nil
	}
	return c.find(ip, int32(port))
}

// Deregister removes the instance at ip:port in cluster from the ephemeral or
// the persistent set. Removing an unknown instance is not an error; the
// result tells whether something was removed.
func (r *Registry) Deregister(key ServiceKey, cluster, ip string, port int, ephemeral bool, now time.Time) bool {
	if cluster == "" {
		cluster = DefaultCluster
	}
	removed := false
	_ = r.write(func(ch *changes) error {
		s := r.serviceLocked(key)
		if s == nil {
			return nil
		}
		c := s.clusters[cluster]
		if c == nil {
			return nil
		}
		in := c.byKey[instanceKey{ip, int32(port), ephemeral}]
		if in == nil {
			return nil
		}
		r.removeLocked(in, now, ch)
		removed = true
		if ephemeral {
			if len(r.tombs) == 0 {
				r.tombSweep = now.Add(r.grace).UnixNano()
				r.signal() // the checker's Housekeep sweeps graces
			}
			// The stored strings, not the request's: those may hold on to
			// a whole request body.
			r.tombs[tomb{s.key, c.name, in.ip, in.port}] = now.Add(r.grace).UnixNano()
		}
		return nil
	})
	return removed
}

func (r *Registry) removeLocked(in *instance, now time.Time, ch *changes) {
	s := in.cluster.svc
	in.cluster.remove(in)
	r.instances--
	bumpLocked(s, now, ch)
	if in.id != "" {
		s.ids(in.ephemeral).give(in.id)
	}
	if s.count == 0 && !s.explicit {
		s.emptySince = now.UnixNano()
		if !s.queued {
			s.queued = true
			r.pushLocked(&r.cleanup, entry{when: s.emptySince + int64(r.emptyTTL), svc: s})
		}
	}
}

// BeatSpec is one client heartbeat.
type BeatSpec struct {
	Cluster string // blank means DefaultCluster
	IP      string
	Port    int
	// Instance, when the beat carried a body, re-registers the instance if
	// it is unknown (it expired, or the server restarted).
	Instance *InstanceSpec
}

// BeatResult is the outcome of a heartbeat.
type BeatResult struct {
	Found        bool // false: unknown instance and no body (Nacos code 20404)
	Reregistered bool // the instance was created from the beat's body
	// Interval is the beat interval the instance asked for in its metadata;
	// zero when it did not.
	Interval time.Duration
}

// Beat records a heartbeat: it refreshes the instance's last beat and turns
// an unhealthy, unmarked ephemeral instance healthy again. Its cost does not
// depend on the number of instances: the common case takes the read lock and
// stores one integer.
func (r *Registry) Beat(key ServiceKey, b BeatSpec, now time.Time) (BeatResult, error) {
	if b.Cluster == "" {
		b.Cluster = DefaultCluster
	}
	r.mu.RLock()
	in := r.findLocked(key, b.Cluster, b.IP, b.Port)
	if in != nil {
		if in.ephemeral {
			in.lastBeat.Store(now.UnixNano())
		}
		revive := in.ephemeral && !in.healthy && !in.marked
		interval := in.timing.Value().BeatInterval
		r.mu.RUnlock()
		if revive {
			r.revive(key, b, now)
		}
		return BeatResult{Found: true, Interval: interval}, nil
	}
	r.mu.RUnlock()
	if b.Instance == nil {
		return BeatResult{}, nil
	}
	spec := *b.Instance
	if spec.Cluster == "" {
		spec.Cluster = b.Cluster
	}
	if err := checkSpec(&spec); err != nil {
		return BeatResult{}, fmt.Errorf("re-register from beat: %w", err)
	}
	if err := CheckServiceName(key.Name); err != nil {
		return BeatResult{}, fmt.Errorf("re-register from beat: %w", err)
	}
	refused := false
	err := r.write(func(ch *changes) error {
		// Checked under the write lock, so that a deregistration cannot slip
		// in between; a beat does not end the grace, only a registration.
		if until, ok := r.tombs[tomb{key, spec.Cluster, spec.IP, int32(spec.Port)}]; ok && now.UnixNano() < until {
			refused = true
			return nil
		}
		return r.registerLocked(key, spec, now, ch)
	})
	if err != nil {
		return BeatResult{}, fmt.Errorf("re-register from beat: %w", err)
	}
	if refused {
		return BeatResult{}, nil
	}
	return BeatResult{Found: true, Reregistered: true, Interval: TimingOf(spec.Metadata).BeatInterval}, nil
}

func (r *Registry) revive(key ServiceKey, b BeatSpec, now time.Time) {
	_ = r.write(func(ch *changes) error {
		if in := r.findLocked(key, b.Cluster, b.IP, b.Port); in != nil && in.ephemeral && !in.healthy && !in.marked {
			in.healthy = true
			bumpLocked(in.cluster.svc, now, ch)
			r.scheduleLocked(in)
		}
		return nil
	})
}

// CreateService creates an empty service explicitly; it stays until deleted.
func (r *Registry) CreateService(key ServiceKey, spec ServiceSpec, now time.Time) error {
	if err := checkServiceSpec(spec); err != nil {
		return err
	}
	return r.write(func(ch *changes) error {
		if r.serviceLocked(key) != nil {
			return fmt.Errorf("create service %s: %w", key.Name, ErrServiceExists)
		}
		s, err := r.createServiceLocked(key)
		if err != nil {
			return err
		}
		s.explicit = true
		applyServiceSpec(s, spec)
		bumpLocked(s, now, ch)
		return nil
	})
}

// UpdateService replaces a service's threshold, metadata and selector.
func (r *Registry) UpdateService(key ServiceKey, spec ServiceSpec, now time.Time) error {
	if err := checkServiceSpec(spec); err != nil {
		return err
	}
	return r.write(func(ch *changes) error {
		s := r.serviceLocked(key)
		if s == nil {
			return fmt.Errorf("update service %s: %w", key.Name, ErrServiceNotFound)
		}
		applyServiceSpec(s, spec)
		bumpLocked(s, now, ch)
		return nil
	})
}

func checkServiceSpec(spec ServiceSpec) error {
	if !(spec.ProtectThreshold >= 0 && spec.ProtectThreshold <= 1) {
		return invalid("protectThreshold", "Param 'protectThreshold' is illegal, it must be a number in 0..1")
	}
	return checkMetadata(spec.Metadata)
}

func applyServiceSpec(s *service, spec ServiceSpec) {
	s.protectThreshold = spec.ProtectThreshold
	s.meta = MetadataOf(spec.Metadata)
	s.selector = spec.Selector
	if s.selector == "" {
		s.selector = DefaultSelector
	}
}

// DeleteService removes a service and all its instances.
func (r *Registry) DeleteService(key ServiceKey, now time.Time) error {
	return r.write(func(ch *changes) error {
		s := r.serviceLocked(key)
		if s == nil {
			return fmt.Errorf("delete service %s: %w", key.Name, ErrServiceNotFound)
		}
		bumpLocked(s, now, ch)
		r.deleteServiceLocked(s)
		return nil
	})
}

// UpdateCluster sets a cluster's health checker and metadata, creating the
// cluster when missing. The service must exist.
func (r *Registry) UpdateCluster(key ServiceKey, name string, spec ClusterSpec, now time.Time) error {
	if err := ValidateCluster(name); err != nil {
		return err
	}
	if err := checkMetadata(spec.Metadata); err != nil {
		return err
	}
	return r.write(func(ch *changes) error {
		s := r.serviceLocked(key)
		if s == nil {
			return fmt.Errorf("update cluster %s: %w", name, ErrServiceNotFound)
		}
		c := s.cluster(name, true)
		c.checker = spec.HealthChecker
		if c.checker == "" {
			c.checker = DefaultHealthChecker
		}
		c.meta = MetadataOf(spec.Metadata)
		c.checkPort, c.useInstancePorts = spec.CheckPort, spec.UseInstancePorts
		bumpLocked(s, now, ch)
		return nil
	})
}

// InstanceRef names one instance for a batch operation.
type InstanceRef struct {
	IP        string
	Port      int
	Cluster   string // blank means DefaultCluster
	Ephemeral bool
}

// MetadataBatch is a batch change of instance metadata. Instances lists the
// targets; when it is empty, Kind selects every ephemeral ("ephemeral") or
// persistent ("persist") instance of the service.
type MetadataBatch struct {
	Instances []InstanceRef
	Kind      string
	Entries   map[string]string
	Delete    bool // remove the keys of Entries instead of merging them
}

// UpdateMetadata applies a batch metadata change and returns the Nacos keys
// ("ip:port:unknown:cluster:ephemeral|persist") of the instances it touched.
func (r *Registry) UpdateMetadata(key ServiceKey, b MetadataBatch, now time.Time) ([]string, error) {
	var updated []string
	err := r.write(func(ch *changes) error {
		s := r.serviceLocked(key)
		if s == nil {
			return fmt.Errorf("update metadata: %w", ErrServiceNotFound)
		}
		var targets []*instance
		if len(b.Instances) > 0 {
			for _, ref := range b.Instances {
				cl := ref.Cluster
				if cl == "" {
					cl = DefaultCluster
				}
				if c := s.clusters[cl]; c != nil {
					if in := c.byKey[instanceKey{ref.IP, int32(ref.Port), ref.Ephemeral}]; in != nil {
						targets = append(targets, in)
					}
				}
			}
		} else {
			for _, name := range s.names {
				for _, in := range s.clusters[name].list {
					if b.Kind == "ephemeral" && in.ephemeral || b.Kind == "persist" && !in.ephemeral {
						targets = append(targets, in)
					}
				}
			}
		}
		// Instances mostly share their metadata: work out each distinct
		// change once, under the lock that stalls beats meanwhile.
		type result struct {
			meta   Metadata
			timing unique.Handle[Timing]
		}
		done := map[Metadata]result{}
		for _, in := range targets {
			if _, ok := done[in.meta]; ok {
				continue
			}
			m := in.meta.Map()
			for k, v := range b.Entries {
				if b.Delete {
					delete(m, k)
				} else {
					m[k] = v
				}
			}
			if err := checkMetadata(m); err != nil {
				return err // before any instance changed
			}
			done[in.meta] = result{MetadataOf(m), timingHandle(m)}
		}
		for _, in := range targets {
			res := done[in.meta]
			in.meta, in.timing = res.meta, res.timing
			if in.ephemeral {
				r.scheduleLocked(in)
			}
			updated = append(updated, in.datumKey())
		}
		if len(updated) > 0 {
			bumpLocked(s, now, ch)
		}
		return nil
	})
	return updated, err
}

// Service describes one service.
func (r *Registry) Service(key ServiceKey) (ServiceInfo, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s := r.serviceLocked(key)
	if s == nil {
		return ServiceInfo{}, fmt.Errorf("service %s: %w", key.Name, ErrServiceNotFound)
	}
	return s.info(), nil
}

// Services returns the grouped names of a namespace's services, sorted.
func (r *Registry) Services(namespace string) []string {
	r.mu.RLock()
	names := make([]string, 0, len(r.namespaces[namespace]))
	for name := range r.namespaces[namespace] {
		names = append(names, name)
	}
	r.mu.RUnlock()
	sort.Strings(names)
	return names
}

// Stats counts what the registry holds.
type Stats struct {
	Services  int
	Instances int
}

// Stats returns the current counts.
func (r *Registry) Stats() Stats {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return Stats{Services: r.services, Instances: r.instances}
}
