package httpapi

import (
	"net/http"

	"github.com/pulse-registry/pulse/internal/wire"
)

func (h *Handler) getSwitches(w http.ResponseWriter, r *http.Request, p *params) error {
	writeJSON(w, h.sw.Get())
	return nil
}

// putSwitches sets one switch: entry and value. Pulse runs one node or one
// replicated store, so Nacos' debug flag (local only) changes nothing.
func (h *Handler) putSwitches(w http.ResponseWriter, r *http.Request, p *params) error {
	entry, err := p.required("entry")
	if err != nil {
		return err
	}
	value, _ := p.raw("value")
	if err := h.sw.Update(entry, value); err != nil {
		return err
	}
	h.log.Info("switch changed", "entry", entry, "value", value)
	writeOK(w)
	return nil
}

func (h *Handler) metrics(w http.ResponseWriter, r *http.Request, p *params) error {
	st := h.r.Stats()
	sw := h.sw.Get()
	status := "UP"
	if sw.OverriddenServerStatus != nil {
		status = *sw.OverriddenServerStatus
	}
	m := wire.Metrics{
		Status:                   status,
		ServiceCount:             st.Services,
		InstanceCount:            st.Instances,
		ResponsibleServiceCount:  st.Services,
		ResponsibleInstanceCount: st.Instances,
		BeatCount:                h.beats.Load(),
		RegisterCount:            h.registers.Load(),
		DeregisterCount:          h.deregisters.Load(),
		HealthCheckState:         sw.HealthCheckEnabled,
	}
	m.CPU, m.Load, m.Mem = systemLoad()
	if h.cfg.Metrics != nil {
		h.cfg.Metrics(&m)
	}
	writeJSON(w, m)
	return nil
}

// servers answers GET /operator/servers with this node, the only member of a
// standalone server.
func (h *Handler) servers(w http.ResponseWriter, r *http.Request, p *params) error {
	self := h.cfg.Self
	writeJSON(w, wire.Servers{Servers: []wire.Member{{
		IP:      self.Addr().String(),
		Port:    int(self.Port()),
		State:   "UP",
		Address: self.String(), // [v6]:port for IPv6
		ExtendInfo: map[string]any{
			"lastRefreshTime": h.clk.Now().UnixMilli(),
			"site":            "unknown",
			"version":         h.cfg.Version,
			"weight":          1,
			"adWeight":        0,
		},
	}}})
	return nil
}

// login answers the Nacos login endpoints. Pulse has no users and no auth
// yet, so everything is open and a login grants nothing: it answers 200
// without an access token, which tells nacos-sdk-go, the Java client and
// Pulse's client to go on without one. Without this endpoint, clients
// configured with a username log a failed login every few seconds.
func (h *Handler) login(w http.ResponseWriter, r *http.Request, p *params) error {
	user, err := p.required("username")
	if err != nil {
		return err
	}
	writeJSON(w, wire.Login{TokenTTL: 18000, Username: user})
	return nil
}
