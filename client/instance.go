package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/pulse-registry/pulse/internal/naming"
)

// Instance is an instance as the server lists it.
type Instance struct {
	ID        string
	IP        string
	Port      int
	Weight    float64
	Healthy   bool
	Enabled   bool
	Ephemeral bool
	Cluster   string
	Service   string // as the server names it; grouped (group@@name) on Pulse
	Metadata  map[string]string
}

// Addr returns the instance's host:port.
func (in Instance) Addr() string { return net.JoinHostPort(in.IP, strconv.Itoa(in.Port)) }

// same reports whether a and b are the same instance: ip, port and cluster.
func (in Instance) same(o Instance) bool {
	return in.IP == o.IP && in.Port == o.Port && in.Cluster == o.Cluster
}

// equal reports whether a and b are the same instance in the same state.
func (in Instance) equal(o Instance) bool {
	return in.same(o) && in.ID == o.ID && in.Weight == o.Weight && in.Healthy == o.Healthy &&
		in.Enabled == o.Enabled && in.Ephemeral == o.Ephemeral && in.Service == o.Service &&
		maps.Equal(in.Metadata, o.Metadata)
}

// Registration describes an instance to register, update or deregister.
// Its zero values are the Nacos defaults: an enabled, ephemeral instance of
// weight 1 in cluster DEFAULT of group DEFAULT_GROUP.
type Registration struct {
	Service string // required; a name holding "@@" is taken as group@@name
	Group   string // default DEFAULT_GROUP
	Cluster string // default DEFAULT
	IP      string // required
	Port    int    // 0 to 65535
	// Weight steers SelectOne; 0 means the default, 1.
	Weight   float64
	Metadata map[string]string
	// Persistent instances are not kept alive by heartbeats: they stay
	// registered until deregistered.
	Persistent bool
	// Disabled instances are registered but not listed.
	Disabled bool
}

// registration is a checked Registration.
type registration struct {
	Registration
	grouped string
}

func (r Registration) check() (registration, error) {
	grouped, err := groupedName(r.Service, r.Group)
	if err != nil {
		return registration{}, err
	}
	var errs []error
	if strings.TrimSpace(r.IP) == "" {
		errs = append(errs, errors.New("client: instance IP is empty"))
	}
	if r.Port < 0 || r.Port > 65535 {
		errs = append(errs, fmt.Errorf("client: port %d: must be 0 to 65535", r.Port))
	}
	if r.Weight < 0 || r.Weight > 10000 {
		errs = append(errs, fmt.Errorf("client: weight %v: must be 0 to 10000", r.Weight))
	}
	if err := errors.Join(errs...); err != nil {
		return registration{}, err
	}
	if r.Weight == 0 {
		r.Weight = 1
	}
	if r.Cluster == "" {
		r.Cluster = DefaultCluster
	}
	r.Group, _ = naming.SplitGrouped(grouped)
	r.Metadata = maps.Clone(r.Metadata)
	return registration{Registration: r, grouped: grouped}, nil
}

// addr returns the instance's host:port.
func (r registration) addr() string { return net.JoinHostPort(r.IP, strconv.Itoa(r.Port)) }

// refParams returns the parameters that name the instance, with the
// namespace and app.
func (c *Client) refParams(r registration) url.Values {
	p := url.Values{
		"serviceName": {r.grouped},
		"groupName":   {r.Group},
		"clusterName": {r.Cluster},
		"ip":          {r.IP},
		"port":        {strconv.Itoa(r.Port)},
	}
	c.common(p)
	return p
}

// instanceParams returns the parameters of POST and PUT /instance.
func (c *Client) instanceParams(r registration) url.Values {
	meta := r.Metadata
	if meta == nil {
		meta = map[string]string{}
	}
	mj, _ := json.Marshal(meta) // a string map always encodes
	p := c.refParams(r)
	p.Set("weight", strconv.FormatFloat(r.Weight, 'f', -1, 64))
	p.Set("enable", strconv.FormatBool(!r.Disabled))
	p.Set("enabled", strconv.FormatBool(!r.Disabled))
	p.Set("healthy", "true")
	p.Set("ephemeral", strconv.FormatBool(!r.Persistent))
	p.Set("metadata", string(mj))
	return p
}

// common adds the namespace and app parameters.
func (c *Client) common(p url.Values) {
	if c.cfg.Namespace != "" {
		p.Set("namespaceId", c.cfg.Namespace)
	}
	if c.cfg.AppName != "" {
		p.Set("app", c.cfg.AppName)
	}
}

// RegisterInstance registers an instance. For an ephemeral instance it then
// starts heartbeats, the first one at once; registering an instance that
// already beats (same service, IP and port) replaces its heartbeat loop, so
// that it never beats twice.
func (c *Client) RegisterInstance(ctx context.Context, r Registration) error {
	reg, err := r.check()
	if err != nil {
		return err
	}
	if err := c.register(ctx, reg); err != nil {
		return err
	}
	if !reg.Persistent {
		return c.addBeat(reg)
	}
	return nil
}

func (c *Client) register(ctx context.Context, reg registration) error {
	if _, err := c.call(ctx, http.MethodPost, pathInstance, c.instanceParams(reg)); err != nil {
		return fmt.Errorf("register %s %s: %w", reg.grouped, reg.addr(), err)
	}
	return nil
}

// UpdateInstance changes a registered instance's weight, metadata and
// enabled flag (PUT /instance). Pulse and Nacos register the instance if it
// is missing. The heartbeats of the instance, if any, carry the new values
// from then on.
func (c *Client) UpdateInstance(ctx context.Context, r Registration) error {
	reg, err := r.check()
	if err != nil {
		return err
	}
	if _, err := c.call(ctx, http.MethodPut, pathInstance, c.instanceParams(reg)); err != nil {
		return fmt.Errorf("update %s %s: %w", reg.grouped, reg.addr(), err)
	}
	if !reg.Persistent {
		c.updateBeat(reg)
	}
	return nil
}

// DeregisterInstance removes an instance. Its heartbeats stop first, and
// any beat in flight finishes, so that no beat can register the instance
// again behind the removal. Service, Group, Cluster, IP, Port and
// Persistent of r are used.
func (c *Client) DeregisterInstance(ctx context.Context, r Registration) error {
	reg, err := r.check()
	if err != nil {
		return err
	}
	if !reg.Persistent {
		if err := c.removeBeat(ctx, beatKey(reg.grouped, reg.IP, reg.Port)); err != nil {
			return fmt.Errorf("deregister %s: stop heartbeats: %w", reg.grouped, err)
		}
	}
	p := c.refParams(reg)
	p.Set("ephemeral", strconv.FormatBool(!reg.Persistent))
	if _, err := c.call(ctx, http.MethodDelete, pathInstance, p); err != nil {
		return fmt.Errorf("deregister %s %s: %w", reg.grouped, reg.addr(), err)
	}
	return nil
}

// Query names the instances a read is about.
type Query struct {
	Service string // required; a name holding "@@" is taken as group@@name
	Group   string // default DEFAULT_GROUP
	// Clusters limits the answer to these clusters; empty means all.
	Clusters []string
}

func (q Query) resolve() (grouped, clusters string, err error) {
	grouped, err = groupedName(q.Service, q.Group)
	if err != nil {
		return "", "", err
	}
	for _, cl := range q.Clusters {
		if cl == "" || strings.Contains(cl, ",") {
			return "", "", fmt.Errorf("client: cluster name %q is empty or holds a comma", cl)
		}
	}
	return grouped, strings.Join(q.Clusters, ","), nil
}

// Instances returns every instance of the service that the server lists,
// healthy or not (disabled ones are never listed). When a subscription
// keeps the same service and clusters up to date, it answers from memory.
func (c *Client) Instances(ctx context.Context, q Query) ([]Instance, error) {
	snap, err := c.current(ctx, q)
	if err != nil {
		return nil, err
	}
	return cloneInstances(snap.hosts), nil
}

// HealthyInstances returns the instances that are healthy, enabled and of
// positive weight, as Instances finds them.
func (c *Client) HealthyInstances(ctx context.Context, q Query) ([]Instance, error) {
	snap, err := c.current(ctx, q)
	if err != nil {
		return nil, err
	}
	return healthy(snap.hosts), nil
}

// SelectOne returns one healthy instance chosen at random, each with a
// chance proportional to its weight. It returns ErrNoInstance when there is
// none.
func (c *Client) SelectOne(ctx context.Context, q Query) (Instance, error) {
	snap, err := c.current(ctx, q)
	if err != nil {
		return Instance{}, err
	}
	hosts := healthy(snap.hosts)
	if len(hosts) == 0 {
		return Instance{}, fmt.Errorf("select %s: %w", snap.name, ErrNoInstance)
	}
	total := 0.0
	for _, h := range hosts {
		total += h.Weight
	}
	x := rand.Float64() * total
	for _, h := range hosts {
		if x < h.Weight {
			return h, nil
		}
		x -= h.Weight
	}
	return hosts[len(hosts)-1], nil // rounding left x at the very top
}

func healthy(hosts []Instance) []Instance {
	var out []Instance
	for _, h := range hosts {
		if h.Healthy && h.Enabled && h.Weight > 0 {
			out = append(out, cloneInstance(h))
		}
	}
	return out
}

func cloneInstance(in Instance) Instance {
	in.Metadata = maps.Clone(in.Metadata)
	return in
}

func cloneInstances(hosts []Instance) []Instance {
	out := make([]Instance, len(hosts))
	for i, h := range hosts {
		out[i] = cloneInstance(h)
	}
	return out
}

// current returns the subscribed state of q, or asks the server.
func (c *Client) current(ctx context.Context, q Query) (*snapshot, error) {
	grouped, clusters, err := q.resolve()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	w := c.watchers[cacheKey(grouped, clusters)]
	c.mu.Unlock()
	if w != nil {
		if snap := w.latest(); snap != nil {
			return snap, nil
		}
	}
	return c.list(ctx, grouped, clusters, 0)
}

// list asks the servers for a service's instances. A udpPort above 0 asks
// for pushes to that port.
func (c *Client) list(ctx context.Context, grouped, clusters string, udpPort int) (*snapshot, error) {
	p := url.Values{
		"serviceName": {grouped},
		"clusters":    {clusters},
		"healthyOnly": {"false"},
	}
	if udpPort > 0 {
		p.Set("udpPort", strconv.Itoa(udpPort))
		if c.cfg.ClientIP != "" {
			p.Set("clientIP", c.cfg.ClientIP)
		}
	}
	c.common(p)
	b, err := c.call(ctx, http.MethodGet, pathInstanceList, p)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", grouped, err)
	}
	snap, err := decodeList(b)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", grouped, err)
	}
	return snap, nil
}

// ListServices returns the names of a group's services (DEFAULT_GROUP when
// group is blank), sorted. Group "*" lists every group's services, as
// group@@name.
func (c *Client) ListServices(ctx context.Context, group string) ([]string, error) {
	if group == "" {
		group = DefaultGroup
	}
	const pageSize = 1000
	var names []string
	for page := 1; ; page++ {
		p := url.Values{
			"groupName": {group},
			"pageNo":    {strconv.Itoa(page)},
			"pageSize":  {strconv.Itoa(pageSize)},
		}
		c.common(p)
		b, err := c.call(ctx, http.MethodGet, pathServiceList, p)
		if err != nil {
			return nil, fmt.Errorf("list services of %s: %w", group, err)
		}
		var ans serviceNames
		if err := json.Unmarshal(b, &ans); err != nil {
			return nil, fmt.Errorf("list services of %s: decode answer: %w", group, err)
		}
		names = append(names, ans.Doms...)
		if len(ans.Doms) < pageSize || len(names) >= ans.Count {
			return names, nil
		}
	}
}
