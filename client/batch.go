package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/pulse-registry/pulse/internal/wire"
)

// Batched beats (Config.BatchBeats): the beat loops of one client keep
// their per-instance schedule, but each loop hands its beat to one batcher
// goroutine, which sends every beat that falls due within batchWindow in one
// PUT /instance/beat/batch. Loops with the same interval are aligned on a
// per-client phase, so their beats fall due together.

const (
	pathBeatBatch = "/v1/ns/instance/beat/batch"
	// batchWindow is how long the batcher waits for more beats after the
	// first one of a batch.
	batchWindow = 10 * time.Millisecond
	// maxBatch is the most beats in one request (the server takes 5000).
	maxBatch = 1000
)

// beatReq is one beat handed to the batcher.
type beatReq struct {
	b     *beat
	reg   registration
	light bool
	done  chan batchResult // capacity 1
}

type batchResult struct {
	ans beatAnswer
	err error
	// unsupported: the server has no batch endpoint; send this beat alone.
	unsupported bool
}

// batching reports whether beats go through the batcher.
func (c *Client) batching() bool { return c.cfg.BatchBeats && !c.noBatch.Load() }

// align moves a beat due after d to the latest moment, no later, that is
// a multiple of d from the client's phase, so that the loops of one client
// with the same interval beat together. The phase is random per client, so
// that many clients do not all beat at the same instant.
func (c *Client) align(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	now := c.now().UnixNano()
	phase := int64(c.phase % uint64(d))
	t := now + int64(d) - phase
	aligned := t - t%int64(d) + phase
	if aligned <= now {
		return d
	}
	return time.Duration(aligned - now)
}

// batchBeat sends one beat through the batcher and waits for its answer.
func (c *Client) batchBeat(b *beat, reg registration, light bool) batchResult {
	req := &beatReq{b: b, reg: reg, light: light, done: make(chan batchResult, 1)}
	select {
	case c.batchIn <- req:
	case <-c.ctx.Done():
		return batchResult{err: ErrClosed}
	}
	select {
	case r := <-req.done:
		return r
	case <-c.ctx.Done():
		return batchResult{err: ErrClosed}
	}
}

// runBatcher collects beats and sends them in batches until Close.
func (c *Client) runBatcher() {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var batch []*beatReq
		select {
		case r := <-c.batchIn:
			batch = append(batch, r)
		case <-c.ctx.Done():
			return
		}
		timer.Reset(batchWindow)
	collect:
		for len(batch) < maxBatch {
			select {
			case r := <-c.batchIn:
				batch = append(batch, r)
			case <-timer.C:
				break collect
			case <-c.ctx.Done():
				break collect
			}
		}
		timer.Stop()
		c.sendBatch(batch)
	}
}

// sendBatch sends one batch and hands each loop its answer.
func (c *Client) sendBatch(batch []*beatReq) {
	body := wire.BeatBatch{Beats: make([]wire.BatchBeat, len(batch))}
	for i, r := range batch {
		bb := wire.BatchBeat{
			NamespaceID: c.cfg.Namespace,
			ServiceName: r.reg.grouped,
			ClusterName: r.reg.Cluster,
			IP:          r.reg.IP,
			Port:        r.reg.Port,
		}
		if !r.light {
			bb.Beat, _ = json.Marshal(r.b.body(r.reg)) // plain data always encodes
		}
		body.Beats[i] = bb
	}
	payload, _ := json.Marshal(body)
	p := url.Values{}
	c.common(p)
	raw, err := c.callJSON(c.ctx, http.MethodPut, pathBeatBatch, p, payload)
	var reply wire.BeatBatchReply
	if err == nil {
		if err = json.Unmarshal(raw, &reply); err == nil && len(reply.Results) != len(batch) {
			err = fmt.Errorf("client: beat batch of %d got %d results", len(batch), len(reply.Results))
		}
	}
	var se *ServerError
	if errors.As(err, &se) && (se.Status == http.StatusNotImplemented || se.Status == http.StatusNotFound) {
		// A Nacos server, or an older Pulse: beat one by one from now on.
		c.noBatch.Store(true)
		c.log.Info("server has no batch beats; sending beats one by one", "server", se.Server)
		for _, r := range batch {
			r.done <- batchResult{unsupported: true}
		}
		return
	}
	for i, r := range batch {
		if err != nil {
			r.done <- batchResult{err: err}
			continue
		}
		res := reply.Results[i]
		if res.Code != wire.CodeOK && res.Code != wire.CodeResourceNotFound {
			r.done <- batchResult{err: &ServerError{Status: res.Code, Body: res.Message}}
			continue
		}
		r.done <- batchResult{ans: beatAnswer{
			ClientBeatInterval: res.ClientBeatInterval,
			Code:               res.Code,
			LightBeatEnabled:   reply.LightBeatEnabled && res.Code == wire.CodeOK,
		}}
	}
}
