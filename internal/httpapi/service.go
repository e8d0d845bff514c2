package httpapi

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strings"

	"github.com/pulse-registry/pulse/internal/naming"
	"github.com/pulse-registry/pulse/internal/wire"
)

// serviceSpec reads protectThreshold, metadata and selector.
func serviceSpec(p *params, thresholdRequired bool) (naming.ServiceSpec, error) {
	var s naming.ServiceSpec
	var err error
	if thresholdRequired {
		if _, err := p.required("protectThreshold"); err != nil {
			return s, err
		}
	}
	if s.ProtectThreshold, err = p.floatParam("protectThreshold", 0); err != nil {
		return s, err
	}
	if s.Metadata, err = metadataParam(p, "metadata"); err != nil {
		return s, err
	}
	if s.Selector, err = selectorParam(p); err != nil {
		return s, err
	}
	return s, nil
}

// selectorParam validates a selector: {"type":"none"} or
// {"type":"label","expression":"..."}. It is stored as data.
func selectorParam(p *params) (string, error) {
	raw := p.optional("selector", "")
	if raw == "" {
		return "", nil
	}
	var sel struct {
		Type       string `json:"type"`
		Expression string `json:"expression"`
	}
	if err := json.Unmarshal([]byte(raw), &sel); err != nil {
		return "", badRequest("Param 'selector' is illegal, it must be a JSON object: " + raw)
	}
	switch sel.Type {
	case "none", "label":
	default:
		return "", badRequest("Param 'selector' is illegal, type must be none or label: " + raw)
	}
	b, _ := json.Marshal(sel)
	if sel.Type == "none" {
		b = []byte(naming.DefaultSelector)
	}
	return string(b), nil
}

func (h *Handler) createService(w http.ResponseWriter, r *http.Request, p *params) error {
	key, err := serviceKey(p)
	if err != nil {
		return err
	}
	spec, err := serviceSpec(p, false)
	if err != nil {
		return err
	}
	err = h.w.CreateService(key, spec, h.clk.Now())
	if errors.Is(err, naming.ErrServiceExists) {
		return withStatus(http.StatusBadRequest, "specified service already exists, serviceName : "+key.Name, err)
	}
	if err != nil {
		return err
	}
	writeOK(w)
	return nil
}

func (h *Handler) deleteService(w http.ResponseWriter, r *http.Request, p *params) error {
	key, err := serviceKey(p)
	if err != nil {
		return err
	}
	err = h.w.DeleteService(key, h.clk.Now())
	if errors.Is(err, naming.ErrServiceNotFound) {
		return withStatus(http.StatusBadRequest, "specified service not exist, serviceName : "+key.Name, err)
	}
	if err != nil {
		return err
	}
	writeOK(w)
	return nil
}

func (h *Handler) updateService(w http.ResponseWriter, r *http.Request, p *params) error {
	key, err := serviceKey(p)
	if err != nil {
		return err
	}
	spec, err := serviceSpec(p, true)
	if err != nil {
		return err
	}
	err = h.w.UpdateService(key, spec, h.clk.Now())
	if errors.Is(err, naming.ErrServiceNotFound) {
		return withStatus(http.StatusBadRequest, "service "+key.Name+" not found!", err)
	}
	if err != nil {
		return err
	}
	writeOK(w)
	return nil
}

func (h *Handler) getService(w http.ResponseWriter, r *http.Request, p *params) error {
	key, err := serviceKey(p)
	if err != nil {
		return err
	}
	info, err := h.r.Service(key)
	if errors.Is(err, naming.ErrServiceNotFound) {
		return withStatus(http.StatusNotFound, "service "+key.Name+" is not found!", err)
	}
	if err != nil {
		return err
	}
	doc := wire.Service{
		Name:             key.Bare(),
		GroupName:        key.Group(),
		NamespaceID:      key.Namespace,
		ProtectThreshold: info.ProtectThreshold,
		Metadata:         json.RawMessage(info.Metadata.JSON()),
		Selector:         json.RawMessage(info.Selector),
		Clusters:         []wire.Cluster{},
	}
	for _, c := range info.Clusters {
		doc.Clusters = append(doc.Clusters, wire.Cluster{
			Name:          c.Name,
			HealthChecker: json.RawMessage(c.HealthChecker),
			Metadata:      json.RawMessage(c.Metadata.JSON()),
		})
	}
	writeJSON(w, doc)
	return nil
}

// serviceList answers GET /service/list: the names of a group's services (or
// of all groups, grouped, with groupName=*), sorted, one page of them.
func (h *Handler) serviceList(w http.ResponseWriter, r *http.Request, p *params) error {
	pageNo, err := p.requiredInt("pageNo", math.MinInt32, math.MaxInt32)
	if err != nil {
		return err
	}
	pageSize, err := p.requiredInt("pageSize", 0, math.MaxInt32)
	if err != nil {
		return err
	}
	ns := naming.Namespace(p.optional("namespaceId", ""))
	group := p.optional("groupName", naming.DefaultGroup)
	var names []string
	for _, name := range h.r.Services(ns) {
		if group == "*" {
			names = append(names, name)
			continue
		}
		if g, bare := naming.SplitGrouped(name); g == group {
			names = append(names, bare)
		}
	}
	pageNo = max(pageNo, 1)
	start := min(len(names), (pageNo-1)*pageSize) // both below 2^31: no overflow
	end := min(len(names), start+pageSize)
	page := names[start:end]
	if page == nil {
		page = []string{}
	}
	writeJSON(w, wire.ServiceNames{Count: len(names), Doms: page})
	return nil
}

// updateCluster handles PUT /cluster: a cluster's health checker and
// metadata.
func (h *Handler) updateCluster(w http.ResponseWriter, r *http.Request, p *params) error {
	key, err := serviceKey(p)
	if err != nil {
		return err
	}
	name, err := p.required("clusterName")
	if err != nil {
		return err
	}
	var spec naming.ClusterSpec
	if spec.CheckPort, err = p.intParam("checkPort", 0, 0, math.MaxUint16); err != nil {
		return err
	}
	spec.UseInstancePorts = p.boolParam("useInstancePort4Check", true)
	if spec.Metadata, err = metadataParam(p, "metadata"); err != nil {
		return err
	}
	if raw := p.optional("healthChecker", ""); raw != "" {
		var hc map[string]any
		_ = json.Unmarshal([]byte(raw), &hc) // an error leaves no type
		typ, _ := hc["type"].(string)
		if typ == "" {
			return badRequest("Param 'healthChecker' is illegal, it must be a JSON object with a type: " + raw)
		}
		switch typ = strings.ToUpper(typ); typ {
		case "TCP", "HTTP", "MYSQL", "NONE":
		default:
			return badRequest("Param 'healthChecker' is illegal, unknown type: " + typ)
		}
		spec.HealthChecker = raw
		if hc["type"] != typ {
			// Stored with the type in capitals, which is what readers test.
			hc["type"] = typ
			b, _ := json.Marshal(hc) // decoded JSON always encodes
			spec.HealthChecker = string(b)
		}
	}
	err = h.w.UpdateCluster(key, name, spec, h.clk.Now())
	if errors.Is(err, naming.ErrServiceNotFound) {
		return withStatus(http.StatusBadRequest, "service not found:"+key.Name, err)
	}
	if err != nil {
		return err
	}
	writeOK(w)
	return nil
}
