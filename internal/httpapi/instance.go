package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"

	"github.com/pulse-registry/pulse/internal/naming"
	"github.com/pulse-registry/pulse/internal/push"
	"github.com/pulse-registry/pulse/internal/wire"
)

// serviceKey reads namespaceId, serviceName and groupName, and checks the
// grouped name's format. As Nacos' DistroFilter does, a serviceName without
// "@@" is prefixed with groupName (DEFAULT_GROUP when blank).
func serviceKey(p *params) (naming.ServiceKey, error) {
	name, err := p.required("serviceName")
	if err != nil {
		return naming.ServiceKey{}, err
	}
	key := naming.ServiceKey{
		Namespace: naming.Namespace(p.optional("namespaceId", "")),
		Name:      naming.Grouped(p.optional("groupName", ""), name),
	}
	if err := naming.CheckServiceName(key.Name); err != nil {
		return naming.ServiceKey{}, err
	}
	return key, nil
}

// instanceRef reads the service, ip and port that name one instance.
func instanceRef(p *params) (key naming.ServiceKey, ip string, port int, err error) {
	if key, err = serviceKey(p); err != nil {
		return key, "", 0, err
	}
	if ip, err = p.required("ip"); err != nil {
		return key, "", 0, err
	}
	port, err = p.requiredInt("port", 0, math.MaxUint16)
	return key, ip, port, err
}

// clusterParam reads clusterName, then its alias cluster.
func clusterParam(p *params) string {
	return p.optional("clusterName", p.optional("cluster", naming.DefaultCluster))
}

func metadataParam(p *params, name string) (map[string]string, error) {
	v, _ := p.raw(name)
	m, err := wire.DecodeMetadata(v)
	if err != nil {
		return nil, badRequest(err.Error())
	}
	return m, nil
}

// instanceSpec reads the parameters of register and update.
func (h *Handler) instanceSpec(p *params) (naming.ServiceKey, naming.InstanceSpec, error) {
	key, err := serviceKey(p)
	if err != nil {
		return key, naming.InstanceSpec{}, err
	}
	var s naming.InstanceSpec
	if s.IP, err = p.required("ip"); err != nil {
		return key, s, err
	}
	if s.Port, err = p.requiredInt("port", 0, math.MaxUint16); err != nil {
		return key, s, err
	}
	if s.Weight, err = p.floatParam("weight", 1); err != nil {
		return key, s, err
	}
	if s.Metadata, err = metadataParam(p, "metadata"); err != nil {
		return key, s, err
	}
	s.Cluster = clusterParam(p)
	s.Healthy = p.boolParam("healthy", true)
	s.Enabled = p.boolParam("enabled", p.boolParam("enable", true))
	s.Ephemeral = p.boolParam("ephemeral", h.sw.Get().DefaultInstanceEphemeral)
	s.App = p.optional("app", "DEFAULT")
	return key, s, nil
}

func (h *Handler) register(w http.ResponseWriter, r *http.Request, p *params) error {
	key, spec, err := h.instanceSpec(p)
	if err != nil {
		return err
	}
	if err := h.w.Register(key, spec, h.clk.Now()); err != nil {
		return err
	}
	h.registers.Add(1)
	writeOK(w)
	return nil
}

func (h *Handler) deregister(w http.ResponseWriter, r *http.Request, p *params) error {
	key, ip, port, err := instanceRef(p)
	if err != nil {
		return err
	}
	ephemeral := p.boolParam("ephemeral", h.sw.Get().DefaultInstanceEphemeral)
	if h.w.Deregister(key, clusterParam(p), ip, port, ephemeral, h.clk.Now()) {
		h.deregisters.Add(1)
	}
	writeOK(w)
	return nil
}

// update is an update for Java agents (and the Node client, which says it is
// one) and an upsert for every other agent, as in Nacos.
func (h *Handler) update(w http.ResponseWriter, r *http.Request, p *params) error {
	key, spec, err := h.instanceSpec(p)
	if err != nil {
		return err
	}
	now := h.clk.Now()
	if !agentOf(r).UpdateOnly() {
		if err := h.w.Register(key, spec, now); err != nil {
			return err
		}
		writeOK(w)
		return nil
	}
	switch err := h.w.Update(key, spec, now); {
	case errors.Is(err, naming.ErrServiceNotFound):
		return withStatus(http.StatusBadRequest, fmt.Sprintf("service not found, namespace: %s, service: %s", key.Namespace, key.Name), err)
	case errors.Is(err, naming.ErrInstanceNotFound):
		return withStatus(http.StatusBadRequest, fmt.Sprintf("instance not exist: %s:%d", spec.IP, spec.Port), err)
	case err != nil:
		return err
	}
	writeOK(w)
	return nil
}

func (h *Handler) patch(w http.ResponseWriter, r *http.Request, p *params) error {
	key, ip, port, err := instanceRef(p)
	if err != nil {
		return err
	}
	var patch naming.Patch
	if _, ok := p.raw("metadata"); ok {
		if patch.Metadata, err = metadataParam(p, "metadata"); err != nil {
			return err
		}
		if patch.Metadata == nil {
			patch.Metadata = map[string]string{}
		}
	}
	if v := p.optional("app", ""); v != "" {
		patch.App = &v
	}
	if p.optional("weight", "") != "" {
		wt, err := p.floatParam("weight", 0)
		if err != nil {
			return err
		}
		patch.Weight = &wt
	}
	if p.optional("healthy", "") != "" {
		v := p.boolParam("healthy", true)
		patch.Healthy = &v
	}
	if p.optional("enabled", "") != "" || p.optional("enable", "") != "" {
		v := p.boolParam("enabled", p.boolParam("enable", true))
		patch.Enabled = &v
	}
	err = h.w.PatchInstance(key, clusterParam(p), ip, port, patch, h.clk.Now())
	if errors.Is(err, naming.ErrInstanceNotFound) {
		return withStatus(http.StatusBadRequest, "instance not found", err)
	}
	if err != nil {
		return err
	}
	writeOK(w)
	return nil
}

// detail answers GET /instance with the real state of one instance.
func (h *Handler) detail(w http.ResponseWriter, r *http.Request, p *params) error {
	key, ip, port, err := instanceRef(p)
	if err != nil {
		return err
	}
	cluster := p.optional("clusterName", naming.DefaultCluster)
	host, err := h.r.Instance(key, cluster, ip, port)
	switch {
	case errors.Is(err, naming.ErrServiceNotFound):
		return withStatus(http.StatusNotFound, "no service "+key.Name+" found!", err)
	case errors.Is(err, naming.ErrClusterNotFound):
		return withStatus(http.StatusNotFound, "no ips found for cluster "+cluster+" in service "+key.Name, err)
	case errors.Is(err, naming.ErrInstanceNotFound):
		return withStatus(http.StatusNotFound, "no matched ip found!", err)
	case err != nil:
		return err
	}
	writeJSON(w, wire.InstanceDetail{
		Service:     key.Name,
		IP:          host.IP,
		Port:        host.Port,
		ClusterName: host.Cluster,
		Weight:      host.Weight,
		Healthy:     host.Healthy,
		Enabled:     host.Enabled,
		Ephemeral:   host.Ephemeral,
		InstanceID:  host.InstanceID(key.Name),
		Metadata:    json.RawMessage(host.Metadata.JSON()),
		LastBeat:    host.LastBeat.UnixMilli(),
	})
	return nil
}

// listBuf is reused between list queries to keep the hot path free of large
// allocations.
type listBuf struct {
	hosts []naming.Host
	out   []byte
}

func (h *Handler) list(w http.ResponseWriter, r *http.Request, p *params) error {
	key, err := serviceKey(p)
	if err != nil {
		return err
	}
	if p.strictTrue("isCheck") {
		writeJSONBytes(w, []byte("{}")) // legacy Nacos quirk
		return nil
	}
	udpPort, err := p.intParam("udpPort", 0, math.MinInt32, math.MaxInt32)
	if err != nil {
		return err
	}
	clusters, _ := p.raw("clusters")
	healthyOnly := p.strictTrue("healthyOnly")
	env := p.optional("env", "")
	agent := agentOf(r)
	sw := h.sw.Get()

	cacheMillis := sw.DefaultCacheMillis
	if udpPort > 0 && h.cfg.Subscriber != nil && sw.PushEnabled && agent.PushCapable(sw) {
		clientIP := p.optional("clientIP", "")
		if h.cfg.PushToSource {
			clientIP = ""
		}
		if addr, ok := pushAddr(r, clientIP, udpPort); ok {
			if h.cfg.Subscriber.Subscribe(push.Target{
				Key:         key,
				Clusters:    clusters,
				HealthyOnly: healthyOnly,
				Env:         env,
				Addr:        addr,
				Agent:       agent,
				App:         p.optional("app", ""),
			}) {
				cacheMillis = sw.DefaultPushCacheMillis
			}
		}
	}

	buf, _ := h.pool.Get().(*listBuf)
	if buf == nil {
		buf = &listBuf{}
	}
	l := wire.List{
		Name:        key.Name,
		Clusters:    clusters,
		Env:         env,
		CacheMillis: cacheMillis,
		Grouped:     agent.GroupedNames(),
		Selection:   h.r.Select(naming.Query{Key: key, Clusters: naming.ParseClusters(clusters), HealthyOnly: healthyOnly}, buf.hosts),
	}
	buf.out = wire.AppendList(buf.out[:0], &l)
	writeJSONBytes(w, buf.out)
	buf.hosts = l.Selection.Hosts
	clear(buf.hosts) // drop references to registry strings
	if cap(buf.out) <= 1<<20 && cap(buf.hosts) <= 1<<14 {
		h.pool.Put(buf)
	}
	return nil
}

// pushAddr is where pushes for a list query go: clientIP and udpPort, or the
// request's source address when clientIP is blank or not an IP address.
func pushAddr(r *http.Request, clientIP string, udpPort int) (netip.AddrPort, bool) {
	if udpPort <= 0 || udpPort > math.MaxUint16 {
		return netip.AddrPort{}, false
	}
	ip, err := netip.ParseAddr(clientIP)
	if err != nil {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return netip.AddrPort{}, false
		}
		if ip, err = netip.ParseAddr(host); err != nil {
			return netip.AddrPort{}, false
		}
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(udpPort)), true
}

func agentOf(r *http.Request) wire.Agent {
	return wire.RequestAgent(r.Header.Get("User-Agent"), r.Header.Get("Client-Version"))
}

// beat handles PUT /instance/beat as Nacos' InstanceController.beat does.
func (h *Handler) beat(w http.ResponseWriter, r *http.Request, p *params) error {
	sw := h.sw.Get()
	cluster := p.optional("clusterName", naming.DefaultCluster)
	ip := p.optional("ip", "")
	port, err := p.intParam("port", 0, 0, math.MaxUint16)
	if err != nil {
		return err
	}
	raw := p.optional("beat", "")
	if raw != "" {
		// Only what identifies the instance: its metadata matters only if it
		// must be re-created, which is rare.
		ref, err := wire.DecodeBeatRef(raw)
		if err != nil {
			return badRequest("Param 'beat' is illegal, " + err.Error())
		}
		if ref.Cluster != "" {
			cluster = ref.Cluster
		}
		ip, port = ref.IP, ref.Port
	}
	key, err := serviceKey(p)
	if err != nil {
		return err
	}
	now := h.clk.Now()
	res, err := h.w.Beat(key, naming.BeatSpec{Cluster: cluster, IP: ip, Port: port}, now)
	if err == nil && !res.Found && raw != "" {
		// Unknown: re-register from the whole body.
		body, err := wire.DecodeBeat(raw)
		if err != nil {
			return badRequest("Param 'beat' is illegal, " + err.Error())
		}
		res, err = h.w.Beat(key, beatFromBody(body, cluster), now)
		if err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	h.beats.Add(1)
	interval := sw.ClientBeatInterval
	code := wire.CodeResourceNotFound
	if res.Found {
		code = wire.CodeOK
		if res.Interval > 0 {
			interval = res.Interval.Milliseconds()
		}
	}
	writeJSONBytes(w, h.beatReplyBytes(interval, code, sw.LightBeatEnabled))
	return nil
}

// beatReply is a ready-made beat answer.
type beatReply struct {
	interval int64
	code     int
	light    bool
	b        []byte // never changed once stored
}

// beatReplyBytes returns the beat answer, reusing the last one when it is
// the same, as it nearly always is.
func (h *Handler) beatReplyBytes(interval int64, code int, light bool) []byte {
	if c := h.beatReply.Load(); c != nil && c.interval == interval && c.code == code && c.light == light {
		return c.b
	}
	c := &beatReply{interval: interval, code: code, light: light, b: wire.AppendBeatReply(nil, interval, code, light)}
	h.beatReply.Store(c)
	return c.b
}

// metadataBatch handles PUT (merge) and DELETE (remove keys) of
// /instance/metadata/batch.
func (h *Handler) metadataBatch(w http.ResponseWriter, r *http.Request, p *params) error {
	key, err := serviceKey(p)
	if err != nil {
		return err
	}
	if _, err := p.required("metadata"); err != nil {
		return err
	}
	entries, err := metadataParam(p, "metadata")
	if err != nil {
		return err
	}
	b := naming.MetadataBatch{
		Kind:    p.optional("consistencyType", ""),
		Entries: entries,
		Delete:  r.Method == http.MethodDelete,
	}
	if raw := p.optional("instances", ""); raw != "" {
		var refs []wire.InstanceRef
		if err := json.Unmarshal([]byte(raw), &refs); err != nil {
			return badRequest("Param 'instances' is illegal, it must be a JSON array of {ip, port, ephemeral, clusterName}: " + err.Error())
		}
		for _, ref := range refs {
			eph := true
			if ref.Ephemeral != nil {
				eph = *ref.Ephemeral
			}
			b.Instances = append(b.Instances, naming.InstanceRef{IP: ref.IP, Port: ref.PortValue(), Cluster: ref.ClusterName, Ephemeral: eph})
		}
	}
	if len(b.Instances) == 0 && b.Kind != "ephemeral" && b.Kind != "persist" {
		return badRequest("Param 'instances' or 'consistencyType' (ephemeral or persist) is required.")
	}
	updated, err := h.w.UpdateMetadata(key, b, h.clk.Now())
	if err != nil {
		return err
	}
	if updated == nil {
		updated = []string{}
	}
	writeJSON(w, wire.MetadataBatchReply{Updated: updated})
	return nil
}

// setHealth handles PUT /health: it sets health by hand, which Nacos allows
// only for clusters whose health checker is NONE.
func (h *Handler) setHealth(w http.ResponseWriter, r *http.Request, p *params) error {
	key, ip, port, err := instanceRef(p)
	if err != nil {
		return err
	}
	v := p.optional("healthy", p.optional("valid", ""))
	if v == "" {
		return badRequest("Param 'healthy' is required.")
	}
	cluster := clusterParam(p)
	info, err := h.r.Service(key)
	if err != nil {
		return withStatus(http.StatusBadRequest, "service not found: "+key.Name, err)
	}
	for _, c := range info.Clusters {
		if c.Name == cluster && !checkerIsNone(c.HealthChecker) {
			return badRequest("health check is still working, service: " + key.Name)
		}
	}
	err = h.w.PatchInstance(key, cluster, ip, port, naming.Patch{Healthy: ptr(lenientBool(v))}, h.clk.Now())
	if errors.Is(err, naming.ErrInstanceNotFound) {
		return withStatus(http.StatusBadRequest, "instance not found: "+ip+":"+strconv.Itoa(port), err)
	}
	if err != nil {
		return err
	}
	writeOK(w)
	return nil
}

func checkerIsNone(checker string) bool {
	var c struct{ Type string }
	return json.Unmarshal([]byte(checker), &c) == nil && strings.EqualFold(c.Type, "NONE")
}

func ptr[T any](v T) *T { return &v }
