package httpapi

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"time"

	"github.com/pulse-registry/pulse/internal/naming"
	"github.com/pulse-registry/pulse/internal/wire"
)

// maxBatchBeats bounds one batch. A client with more instances sends several.
const maxBatchBeats = 5000

// beatBatch handles PUT /instance/beat/batch, a Pulse extension: the beats of
// many instances in one JSON request, so that a process with many instances
// (Dubbo registers one service per interface) pays one HTTP round trip per
// period instead of one per instance. Each beat behaves exactly as PUT
// /instance/beat; a bad beat fails alone, with code 400 in its result.
// Nacos answers this path with 501, which tells a client to fall back.
func (h *Handler) beatBatch(w http.ResponseWriter, r *http.Request, p *params) error {
	// Without a Content-Type the parameter parser has read the body already.
	body := p.body.Bytes()
	if len(body) == 0 {
		var err error
		if body, err = io.ReadAll(io.LimitReader(r.Body, maxBody+1)); err != nil {
			return badRequest("read request body: " + err.Error())
		}
	}
	if len(body) > maxBody {
		return badRequest(fmt.Sprintf("request body larger than %d bytes", maxBody))
	}
	var batch wire.BeatBatch
	if err := json.Unmarshal(body, &batch); err != nil {
		return badRequest("request body is not a beat batch: " + err.Error())
	}
	if len(batch.Beats) > maxBatchBeats {
		return badRequest(fmt.Sprintf("a batch holds at most %d beats, got %d", maxBatchBeats, len(batch.Beats)))
	}
	sw := h.sw.Get()
	now := h.clk.Now()
	reply := wire.BeatBatchReply{LightBeatEnabled: sw.LightBeatEnabled, Results: make([]wire.BatchBeatResult, len(batch.Beats))}
	for i, b := range batch.Beats {
		res := &reply.Results[i]
		res.ClientBeatInterval = sw.ClientBeatInterval
		code, interval, err := h.batchBeat(b, now)
		if err != nil {
			status, msg := errorReply(err)
			if status >= 500 {
				h.log.Error("batch beat failed", "service", b.ServiceName, "ip", b.IP, "port", b.Port, "err", err)
			}
			res.Code, res.Message = status, msg
			continue
		}
		res.Code = code
		if interval > 0 {
			res.ClientBeatInterval = interval.Milliseconds()
		}
	}
	h.beats.Add(int64(len(batch.Beats)))
	writeJSON(w, reply)
	return nil
}

func (h *Handler) batchBeat(b wire.BatchBeat, now time.Time) (int, time.Duration, error) {
	if b.ServiceName == "" {
		return 0, 0, badRequest("Param 'serviceName' is required.")
	}
	key := naming.ServiceKey{Namespace: naming.Namespace(b.NamespaceID), Name: naming.Grouped(b.GroupName, b.ServiceName)}
	if err := naming.CheckServiceName(key.Name); err != nil {
		return 0, 0, err
	}
	if b.Port < 0 || b.Port > math.MaxUint16 {
		return 0, 0, badRequest(fmt.Sprintf("Param 'port' is illegal, it must be an integer in 0..65535: %d", b.Port))
	}
	spec := naming.BeatSpec{Cluster: b.ClusterName, IP: b.IP, Port: b.Port}
	raw := ""
	if len(b.Beat) > 0 && string(b.Beat) != "null" {
		raw = string(b.Beat)
		ref, err := wire.DecodeBeatRef(raw)
		if err != nil {
			return 0, 0, badRequest("Param 'beat' is illegal, " + err.Error())
		}
		if ref.Cluster != "" {
			spec.Cluster = ref.Cluster
		}
		spec.IP, spec.Port = ref.IP, ref.Port
	}
	res, err := h.w.Beat(key, spec, now)
	if err == nil && !res.Found && raw != "" {
		full, err := wire.DecodeBeat(raw)
		if err != nil {
			return 0, 0, badRequest("Param 'beat' is illegal, " + err.Error())
		}
		res, err = h.w.Beat(key, beatFromBody(full, b.ClusterName), now)
		if err != nil {
			return 0, 0, err
		}
	}
	if err != nil {
		return 0, 0, err
	}
	if !res.Found {
		return wire.CodeResourceNotFound, 0, nil
	}
	return wire.CodeOK, res.Interval, nil
}

// beatFromBody is the beat a full body describes: its ip, port and cluster
// (cluster falling back to the request's), and the instance to re-create if
// the server no longer knows it.
func beatFromBody(b wire.Beat, cluster string) naming.BeatSpec {
	if b.Cluster != "" {
		cluster = b.Cluster
	}
	return naming.BeatSpec{
		Cluster: cluster,
		IP:      b.IP,
		Port:    b.Port,
		Instance: &naming.InstanceSpec{
			IP:        b.IP,
			Port:      b.Port,
			Cluster:   cluster,
			Weight:    b.Weight,
			Healthy:   true,
			Enabled:   true,
			Ephemeral: b.Ephemeral,
			Metadata:  b.Metadata,
		},
	}
}
