package naming

import (
	"fmt"
	"slices"
)

// Query selects the instances a client asked for with GET /instance/list.
type Query struct {
	Key         ServiceKey
	Clusters    []string // empty means every cluster; unknown names are ignored
	HealthyOnly bool
}

// Selection is the answer to a Query.
type Selection struct {
	Found    bool // false: the service does not exist
	Revision int64
	Metadata Metadata
	// ReachedProtection is true when the share of healthy instances was at or
	// below the threshold, so unhealthy instances are served as healthy.
	ReachedProtection bool
	Hosts             []Host
}

// Select runs the Nacos list algorithm: the served set is every instance of
// the requested clusters, disabled ones included; when the healthy share of
// that set is at or below the protect threshold, unhealthy instances are
// served as healthy; healthy hosts come first, unhealthy ones follow unless
// HealthyOnly; disabled instances are never served. Hosts are appended to
// buf, which callers may reuse between calls.
func (r *Registry) Select(q Query, buf []Host) Selection {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s := r.serviceLocked(q.Key)
	if s == nil {
		return Selection{Hosts: buf[:0]}
	}
	sel := Selection{
		Found:    true,
		Revision: s.rev,
		Metadata: s.meta,
	}
	var clusters []*cluster
	if len(q.Clusters) == 0 {
		for _, name := range s.names {
			clusters = append(clusters, s.clusters[name])
		}
	} else {
		for _, name := range q.Clusters {
			if c := s.clusters[name]; c != nil && !containsCluster(clusters, c) {
				clusters = append(clusters, c)
			}
		}
	}
	total, healthy := 0, 0
	for _, c := range clusters {
		total += len(c.list)
		for _, in := range c.list {
			if in.healthy {
				healthy++
			}
		}
	}
	hosts := slices.Grow(buf[:0], total) // one allocation, not a doubling series, for a large service
	if total == 0 {
		sel.Hosts = hosts
		return sel
	}
	sel.ReachedProtection = float64(healthy)/float64(total) <= s.protectThreshold
	for _, c := range clusters {
		for _, in := range c.list {
			if in.healthy && in.enabled {
				hosts = append(hosts, in.host())
			}
		}
	}
	if sel.ReachedProtection || !q.HealthyOnly {
		for _, c := range clusters {
			for _, in := range c.list {
				if !in.healthy && in.enabled {
					h := in.host()
					h.Healthy = sel.ReachedProtection
					hosts = append(hosts, h)
				}
			}
		}
	}
	sel.Hosts = hosts
	return sel
}

func containsCluster(cs []*cluster, c *cluster) bool {
	for _, x := range cs {
		if x == c {
			return true
		}
	}
	return false
}

// Instance returns the real state (no protection) of the instance at ip:port
// in cluster. The error wraps ErrServiceNotFound, ErrClusterNotFound (the
// cluster is missing or empty) or ErrInstanceNotFound.
func (r *Registry) Instance(key ServiceKey, cluster, ip string, port int) (Host, error) {
	if cluster == "" {
		cluster = DefaultCluster
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	s := r.serviceLocked(key)
	if s == nil {
		return Host{}, fmt.Errorf("instance %s:%d: %w", ip, port, ErrServiceNotFound)
	}
	c := s.clusters[cluster]
	if c == nil || len(c.list) == 0 {
		return Host{}, fmt.Errorf("instance %s:%d: %w", ip, port, ErrClusterNotFound)
	}
	in := c.find(ip, int32(port))
	if in == nil {
		return Host{}, fmt.Errorf("instance %s:%d: %w", ip, port, ErrInstanceNotFound)
	}
	return in.host(), nil
}
