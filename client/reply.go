package client

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// listAnswer is the JSON of GET /instance/list, and the data of a push.
type listAnswer struct {
	Name        string       `json:"name"`
	Clusters    string       `json:"clusters"`
	CacheMillis int64        `json:"cacheMillis"`
	LastRefTime int64        `json:"lastRefTime"`
	Hosts       []hostAnswer `json:"hosts"`
}

type hostAnswer struct {
	InstanceID  string            `json:"instanceId"`
	IP          string            `json:"ip"`
	Port        int               `json:"port"`
	Weight      float64           `json:"weight"`
	Healthy     bool              `json:"healthy"`
	Enabled     bool              `json:"enabled"`
	Ephemeral   bool              `json:"ephemeral"`
	ClusterName string            `json:"clusterName"`
	ServiceName string            `json:"serviceName"`
	Metadata    map[string]string `json:"metadata"`
}

// beatAnswer is the JSON answer to a heartbeat.
type beatAnswer struct {
	ClientBeatInterval int64 `json:"clientBeatInterval"` // ms
	Code               int   `json:"code"`
	LightBeatEnabled   bool  `json:"lightBeatEnabled"` // absent means false
}

// beatBody is the "beat" parameter of a full heartbeat, from which a server
// can re-create an instance it lost.
type beatBody struct {
	IP          string            `json:"ip"`
	Port        int               `json:"port"`
	Weight      float64           `json:"weight"`
	ServiceName string            `json:"serviceName"`
	Cluster     string            `json:"cluster"`
	Metadata    map[string]string `json:"metadata"`
	Ephemeral   bool              `json:"ephemeral"`
	Period      int64             `json:"period"` // ms
}

// serviceNames is the answer of GET /service/list.
type serviceNames struct {
	Count int      `json:"count"`
	Doms  []string `json:"doms"`
}

// snapshot is one accepted state of a service: immutable once built.
type snapshot struct {
	key         string // name, or name@@clusters: the cache key
	name        string // grouped
	clusters    string
	cacheMillis int64
	lastRefTime int64
	hosts       []Instance // sorted by cluster, IP, port
	raw         []byte     // the answer's JSON, for the disk cache
}

// cacheKey is how every Nacos client files a service: the answer's name,
// plus "@@" and its clusters when there are some.
func cacheKey(name, clusters string) string {
	if clusters == "" {
		return name
	}
	return name + "@@" + clusters
}

// decodeList parses a list answer into a snapshot.
func decodeList(b []byte) (*snapshot, error) {
	var a listAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("decode instance list: %w", err)
	}
	if a.Name == "" {
		return nil, fmt.Errorf("decode instance list: no service name")
	}
	s := &snapshot{
		key:         cacheKey(a.Name, a.Clusters),
		name:        a.Name,
		clusters:    a.Clusters,
		cacheMillis: a.CacheMillis,
		lastRefTime: a.LastRefTime,
		hosts:       make([]Instance, 0, len(a.Hosts)),
		raw:         b,
	}
	for _, h := range a.Hosts {
		s.hosts = append(s.hosts, Instance{
			ID:        h.InstanceID,
			IP:        h.IP,
			Port:      h.Port,
			Weight:    h.Weight,
			Healthy:   h.Healthy,
			Enabled:   h.Enabled,
			Ephemeral: h.Ephemeral,
			Cluster:   h.ClusterName,
			Service:   h.ServiceName,
			Metadata:  h.Metadata,
		})
	}
	slices.SortFunc(s.hosts, compareInstances)
	return s, nil
}

// pollPeriod is how long the answer stays fresh.
func (s *snapshot) pollPeriod() time.Duration {
	if s == nil || s.cacheMillis <= 0 {
		return time.Second // what the Go SDK does when the server names none
	}
	return time.Duration(s.cacheMillis) * time.Millisecond
}

func compareInstances(a, b Instance) int {
	if c := strings.Compare(a.Cluster, b.Cluster); c != 0 {
		return c
	}
	if c := strings.Compare(a.IP, b.IP); c != 0 {
		return c
	}
	return a.Port - b.Port
}
