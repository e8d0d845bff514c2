package naming

import (
	"strconv"
	"sync/atomic"
	"time"
	"unique"
)

// InstanceSpec is what a caller registers or updates.
type InstanceSpec struct {
	IP        string
	Port      int
	Cluster   string // blank means DefaultCluster
	Weight    float64
	Healthy   bool
	Enabled   bool
	Ephemeral bool
	Metadata  map[string]string
	App       string
}

// Host is a point-in-time copy of an instance, as a query serves it. Its
// strings and Metadata share memory with the registry, so copying is cheap.
type Host struct {
	IP        string
	Port      int
	Weight    float64
	Healthy   bool // after protection, when it comes from Select
	Enabled   bool
	Ephemeral bool
	Marked    bool
	Cluster   string
	// ID is the instance id when it is not the default
	// "ip#port#cluster#group@@service"; see InstanceID.
	ID       string
	Metadata Metadata
	Timing   Timing
	App      string
	LastBeat time.Time
}

// InstanceID returns the instance id, deriving the default form from the
// grouped service name when the instance has no explicit id.
func (h *Host) InstanceID(service string) string {
	if h.ID != "" {
		return h.ID
	}
	return h.IP + "#" + strconv.Itoa(h.Port) + "#" + h.Cluster + "#" + service
}

// instanceKey identifies an instance inside a cluster. Ephemeral and
// persistent instances live in separate sets, as in Nacos.
type instanceKey struct {
	ip        string
	port      int32
	ephemeral bool
}

// instance is the stored form, kept small: a million of them must fit in a
// few hundred megabytes.
type instance struct {
	ip        string
	port      int32
	idx       int32 // position in cluster.list
	ephemeral bool
	healthy   bool
	enabled   bool
	marked    bool
	removed   bool // removed from the registry; expiry entries skip it
	weight    float64
	meta      Metadata
	timing    unique.Handle[Timing]
	id        string // explicit id (snowflake generator); "" means derived
	app       string
	cluster   *cluster
	// due is the deadline (unix ns) of the instance's live entry in the
	// expiry heap, 0 when it has none. Entries with another deadline are
	// stale and dropped when they surface.
	due int64
	// lastBeat is the unix time in nanoseconds of the last heartbeat. Beats
	// store it under the registry's read lock; everything else reads it under
	// the write lock or atomically.
	lastBeat atomic.Int64
}

// update sets what a registration or an update may change and reports
// whether anything visible did. Health and the last beat are not among it.
func (in *instance) update(spec InstanceSpec, meta Metadata, timing unique.Handle[Timing]) bool {
	in.timing = timing
	if in.weight == spec.Weight && in.enabled == spec.Enabled && in.meta == meta && in.app == spec.App {
		return false
	}
	in.weight, in.enabled, in.meta, in.app = spec.Weight, spec.Enabled, meta, intern(spec.App)
	return true
}

func (in *instance) key() instanceKey {
	return instanceKey{in.ip, in.port, in.ephemeral}
}

func (in *instance) host() Host {
	return Host{
		IP:        in.ip,
		Port:      int(in.port),
		Weight:    in.weight,
		Healthy:   in.healthy,
		Enabled:   in.enabled,
		Ephemeral: in.ephemeral,
		Marked:    in.marked,
		Cluster:   in.cluster.name,
		ID:        in.id,
		Metadata:  in.meta,
		Timing:    in.timing.Value(),
		App:       in.app,
		LastBeat:  time.Unix(0, in.lastBeat.Load()),
	}
}

// datumKey is the Nacos internal key of an instance, used in batch replies.
func (in *instance) datumKey() string {
	kind := "persist"
	if in.ephemeral {
		kind = "ephemeral"
	}
	return in.ip + ":" + strconv.Itoa(int(in.port)) + ":unknown:" + in.cluster.name + ":" + kind
}

var defaultTiming = unique.Make(Timing{
	BeatTimeout:   DefaultBeatTimeout,
	DeleteTimeout: DefaultDeleteTimeout,
})

func timingHandle(m map[string]string) unique.Handle[Timing] {
	t := TimingOf(m)
	if t == defaultTiming.Value() {
		return defaultTiming
	}
	return unique.Make(t)
}
