package httpapi

import (
	"math"
	"net/http"

	"github.com/pulse-registry/pulse/internal/wire"
)

// subscribers answers GET /service/subscribers: a service's push targets,
// one page of them.
func (h *Handler) subscribers(w http.ResponseWriter, r *http.Request, p *params) error {
	key, err := serviceKey(p)
	if err != nil {
		return err
	}
	pageNo, err := p.intParam("pageNo", 1, math.MinInt32, math.MaxInt32)
	if err != nil {
		return err
	}
	pageSize, err := p.intParam("pageSize", 1000, 0, math.MaxInt32)
	if err != nil {
		return err
	}
	out := wire.Subscribers{Subscribers: []wire.Subscriber{}}
	if h.cfg.Subscriber != nil {
		all := h.cfg.Subscriber.Targets(key)
		out.Count = len(all)
		start := min(len(all), (max(pageNo, 1)-1)*pageSize)
		for _, t := range all[start:min(len(all), start+pageSize)] {
			cluster := t.Clusters
			out.Subscribers = append(out.Subscribers, wire.Subscriber{
				AddrStr:     t.Addr.String(),
				Agent:       t.Agent.Raw,
				App:         t.App,
				IP:          t.Addr.Addr().String(),
				Port:        int(t.Addr.Port()),
				NamespaceID: key.Namespace,
				ServiceName: key.Name,
				Cluster:     cluster,
				HealthyOnly: t.HealthyOnly,
				Subscribed:  t.Subscribed.UnixMilli(),
				Refreshed:   t.Refreshed.UnixMilli(),
				Pending:     t.Pending,
			})
		}
	}
	writeJSON(w, out)
	return nil
}

// pushState answers GET /operator/push/state.
func (h *Handler) pushState(w http.ResponseWriter, r *http.Request, p *params) error {
	var out wire.PushState
	if h.cfg.Subscriber != nil {
		s := h.cfg.Subscriber.Stats()
		out = wire.PushState{
			Succeed:      s.Acks,
			Total:        s.Pushes,
			Targets:      s.Targets,
			Services:     s.Services,
			Acks:         s.Acks,
			Retries:      s.Retries,
			Failed:       s.Failed,
			TooLarge:     s.TooLarge,
			Superseded:   s.Superseded,
			RateLimited:  s.Limited,
			Refused:      s.Refused,
			BadAcks:      s.BadAcks,
			WaitingAck:   s.Waiting,
			LatencyCount: s.Latency.Count,
			LatencyP50Ms: s.Latency.P50.Milliseconds(),
			LatencyP99Ms: s.Latency.P99.Milliseconds(),
			LatencyMaxMs: s.Latency.Max.Milliseconds(),
			LatencyAvgMs: s.Latency.Mean.Milliseconds(),
		}
		if s.Pushes > 0 {
			out.Ratio = float64(s.Acks) / float64(s.Pushes)
		}
	}
	writeJSON(w, out)
	return nil
}
