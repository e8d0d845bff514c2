package wire

import (
	"crypto/md5"
	"encoding/hex"
	"slices"
	"strconv"

	"github.com/pulse-registry/pulse/internal/naming"
)

// List is the data of one instance-list answer (GET /instance/list, and the
// data of a UDP push).
type List struct {
	Name        string // the grouped name the client asked for, echoed
	Clusters    string // the clusters parameter, echoed byte for byte
	Env         string
	CacheMillis int64
	// Grouped selects grouped names in "dom" and "hosts[].serviceName" (Java
	// agents); other agents get the bare name.
	Grouped   bool
	Selection naming.Selection
}

// AppendList appends the JSON of l. The shape is the union of the Nacos 1.4
// and 2.x answers, so that clients of either generation find their keys. A
// service that does not exist gets only name, clusters, cacheMillis and an
// empty host list, as in Nacos.
func AppendList(b []byte, l *List) []byte {
	b = slices.Grow(b, listSize(l))
	b = append(b, '{')
	if !l.Selection.Found {
		b = appendKey(b, "name")
		b = AppendString(b, l.Name)
		b = appendKey(b, "clusters")
		b = AppendString(b, l.Clusters)
		b = appendKey(b, "cacheMillis")
		b = strconv.AppendInt(b, l.CacheMillis, 10)
		b = appendKey(b, "hosts")
		return append(b, "[]}"...)
	}
	group, bare := naming.SplitGrouped(l.Name)
	dom := bare
	if l.Grouped {
		dom = l.Name
	}
	sel := &l.Selection
	b = appendKey(b, "name")
	b = AppendString(b, l.Name)
	b = appendKey(b, "groupName")
	b = AppendString(b, group)
	b = appendKey(b, "clusters")
	b = AppendString(b, l.Clusters)
	b = appendKey(b, "cacheMillis")
	b = strconv.AppendInt(b, l.CacheMillis, 10)
	b = appendKey(b, "hosts")
	b = append(b, '[')
	for i := range sel.Hosts {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendHost(b, &sel.Hosts[i], l.Name, dom)
	}
	b = append(b, ']')
	b = appendKey(b, "lastRefTime")
	b = strconv.AppendInt(b, sel.Revision, 10)
	b = appendKey(b, "checksum")
	b = appendChecksum(b, l, sel.Revision)
	b = appendKey(b, "allIPs")
	b = append(b, "false"...)
	b = appendKey(b, "reachProtectionThreshold")
	b = appendBool(b, sel.ReachedProtection)
	b = appendKey(b, "valid")
	b = append(b, "true"...)
	b = appendKey(b, "dom")
	b = AppendString(b, dom)
	b = appendKey(b, "useSpecifiedURL")
	b = append(b, "false"...)
	b = appendKey(b, "env")
	b = AppendString(b, l.Env)
	b = appendKey(b, "metadata")
	b = append(b, sel.Metadata.JSON()...)
	return append(b, '}')
}

// listSize estimates the length of l's JSON from above (escaping aside),
// so that a list of thousands of hosts is written into one allocation
// instead of a doubling series of them.
func listSize(l *List) int {
	const top, perHost = 512, 340 // key names, punctuation and numbers
	n := top + 2*len(l.Name) + len(l.Clusters) + len(l.Env) + len(l.Selection.Metadata.JSON())
	for i := range l.Selection.Hosts {
		h := &l.Selection.Hosts[i]
		n += perHost + 2*len(h.IP) + 2*len(h.Cluster) + 2*len(l.Name) + len(h.ID) + len(h.Metadata.JSON())
	}
	return n
}

func appendHost(b []byte, h *naming.Host, grouped, serviceName string) []byte {
	b = append(b, '{')
	b = appendKey(b, "instanceId")
	if h.ID != "" {
		b = AppendString(b, h.ID)
	} else {
		// ip#port#cluster#group@@service, written without building the string.
		b = append(b, '"')
		b = appendEscaped(b, h.IP)
		b = append(b, '#')
		b = strconv.AppendInt(b, int64(h.Port), 10)
		b = append(b, '#')
		b = append(b, h.Cluster...) // cluster names are [0-9a-zA-Z-]
		b = append(b, '#')
		b = appendEscaped(b, grouped)
		b = append(b, '"')
	}
	b = appendKey(b, "ip")
	b = AppendString(b, h.IP)
	b = appendKey(b, "port")
	b = strconv.AppendInt(b, int64(h.Port), 10)
	b = appendKey(b, "weight")
	b = appendFloat(b, h.Weight)
	b = appendKey(b, "healthy")
	b = appendBool(b, h.Healthy)
	b = appendKey(b, "valid")
	b = appendBool(b, h.Healthy)
	b = appendKey(b, "marked")
	b = appendBool(b, h.Marked)
	b = appendKey(b, "enabled")
	b = appendBool(b, h.Enabled)
	b = appendKey(b, "ephemeral")
	b = appendBool(b, h.Ephemeral)
	b = appendKey(b, "clusterName")
	b = append(b, '"')
	b = append(b, h.Cluster...)
	b = append(b, '"')
	b = appendKey(b, "serviceName")
	b = AppendString(b, serviceName)
	b = appendKey(b, "metadata")
	b = append(b, h.Metadata.JSON()...)
	b = appendKey(b, "instanceHeartBeatInterval")
	interval := h.Timing.BeatInterval
	if interval == 0 {
		interval = naming.DefaultBeatInterval
	}
	b = strconv.AppendInt(b, interval.Milliseconds(), 10)
	b = appendKey(b, "instanceHeartBeatTimeOut")
	b = strconv.AppendInt(b, h.Timing.BeatTimeout.Milliseconds(), 10)
	b = appendKey(b, "ipDeleteTimeout")
	b = strconv.AppendInt(b, h.Timing.DeleteTimeout.Milliseconds(), 10)
	b = appendKey(b, "instanceIdGenerator")
	if h.ID != "" {
		b = append(b, `"snowflake"`...)
	} else {
		b = append(b, `"simple"`...)
	}
	return append(b, '}')
}

// appendChecksum writes an MD5 hex digest that changes whenever the answer
// changes: it covers the service, the clusters asked for and the revision.
// Nacos hashes the whole instance list; no client checks how it is made.
func appendChecksum(b []byte, l *List, rev int64) []byte {
	var buf [160]byte
	in := append(buf[:0], l.Name...)
	in = append(in, 0)
	in = append(in, l.Clusters...)
	in = append(in, 0)
	in = strconv.AppendInt(in, rev, 10)
	sum := md5.Sum(in)
	b = append(b, '"')
	b = hex.AppendEncode(b, sum[:])
	return append(b, '"')
}
