package naming

import (
	"slices"
	"strconv"
	"strings"
)

// Default health checker of a cluster, as Nacos stores it.
const DefaultHealthChecker = `{"type":"TCP"}`

// DefaultSelector is the selector of a service that has none.
const DefaultSelector = `{"type":"none"}`

// ServiceSpec is the settable part of a service.
type ServiceSpec struct {
	ProtectThreshold float64
	Metadata         map[string]string
	Selector         string // JSON text; blank means DefaultSelector
}

// ClusterSpec is the settable part of a cluster.
type ClusterSpec struct {
	HealthChecker    string // JSON text; blank means DefaultHealthChecker
	Metadata         map[string]string
	CheckPort        int
	UseInstancePorts bool
}

// ServiceInfo describes a service and its clusters.
type ServiceInfo struct {
	Key              ServiceKey
	ProtectThreshold float64
	Metadata         Metadata
	Selector         string
	Revision         int64
	Clusters         []ClusterInfo
}

// ClusterInfo describes one cluster of a service.
type ClusterInfo struct {
	Name             string
	HealthChecker    string
	Metadata         Metadata
	CheckPort        int
	UseInstancePorts bool
}

type service struct {
	key              ServiceKey
	protectThreshold float64
	meta             Metadata
	selector         string
	explicit         bool  // created by CreateService; never auto-removed
	emptySince       int64 // unix ns when its last instance left
	rev              int64 // revision, served as lastRefTime
	count            int   // instances in all clusters
	removed          bool
	queued           bool // has an empty-service entry in the expiry heap
	clusters         map[string]*cluster
	names            []string   // cluster names, sorted
	snowflake        [2]*idPool // ids of the snowflake generator: persistent, ephemeral
}

// ids returns the snowflake ids of the service's ephemeral or persistent
// instances.
func (s *service) ids(ephemeral bool) *idPool {
	i := 0
	if ephemeral {
		i = 1
	}
	if s.snowflake[i] == nil {
		s.snowflake[i] = &idPool{used: map[int]struct{}{}}
	}
	return s.snowflake[i]
}

// idPool hands out the smallest non-negative integer not in use, as Nacos'
// snowflake generator does, in amortised constant time: free remembers the
// lowest id that may be free.
type idPool struct {
	used map[int]struct{}
	free int
}

func (p *idPool) take() string {
	for {
		if _, ok := p.used[p.free]; !ok {
			break
		}
		p.free++
	}
	p.used[p.free] = struct{}{}
	id := strconv.Itoa(p.free)
	p.free++
	return id
}

func (p *idPool) give(id string) {
	n, err := strconv.Atoi(id)
	if err != nil {
		return
	}
	delete(p.used, n)
	p.free = min(p.free, n)
}

type cluster struct {
	name             string
	svc              *service
	checker          string
	meta             Metadata
	checkPort        int
	useInstancePorts bool
	byKey            map[instanceKey]*instance
	list             []*instance
}

func newService(key ServiceKey, floor int64) *service {
	return &service{
		key:      key,
		selector: DefaultSelector,
		rev:      floor,
		clusters: map[string]*cluster{},
	}
}

func (s *service) cluster(name string, create bool) *cluster {
	c := s.clusters[name]
	if c == nil && create {
		name = intern(name)
		c = &cluster{
			name:    name,
			svc:     s,
			checker: DefaultHealthChecker,
			byKey:   map[instanceKey]*instance{},
		}
		s.clusters[name] = c
		i, _ := slices.BinarySearch(s.names, name)
		s.names = slices.Insert(s.names, i, name)
	}
	return c
}

func (s *service) info() ServiceInfo {
	si := ServiceInfo{
		Key:              s.key,
		ProtectThreshold: s.protectThreshold,
		Metadata:         s.meta,
		Selector:         s.selector,
		Revision:         s.rev,
	}
	for _, name := range s.names {
		c := s.clusters[name]
		si.Clusters = append(si.Clusters, ClusterInfo{
			Name:             c.name,
			HealthChecker:    c.checker,
			Metadata:         c.meta,
			CheckPort:        c.checkPort,
			UseInstancePorts: c.useInstancePorts,
		})
	}
	return si
}

func (c *cluster) add(in *instance) {
	in.cluster = c
	in.idx = int32(len(c.list))
	c.list = append(c.list, in)
	c.byKey[in.key()] = in
	c.svc.count++
}

// remove takes in out of the cluster by moving the last instance into its
// slot, so removal costs O(1) whatever the cluster's size.
func (c *cluster) remove(in *instance) {
	last := c.list[len(c.list)-1]
	c.list[in.idx] = last
	last.idx = in.idx
	c.list[len(c.list)-1] = nil
	c.list = c.list[:len(c.list)-1]
	delete(c.byKey, in.key())
	in.removed = true
	c.svc.count--
}

// find returns the instance at ip:port, ephemeral first.
func (c *cluster) find(ip string, port int32) *instance {
	if in := c.byKey[instanceKey{ip, port, true}]; in != nil {
		return in
	}
	return c.byKey[instanceKey{ip, port, false}]
}

// ParseClusters splits a Nacos "clusters" parameter: comma-separated, empty
// tokens dropped, no trimming.
func ParseClusters(s string) []string {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	out := parts[:0]
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}
