package client

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/pulse-registry/pulse/internal/naming"
	"github.com/pulse-registry/pulse/internal/wire"
)

// beat is the heartbeat record of one ephemeral instance (the seeds'
// BeatInfo) and the loop that sends its beats.
type beat struct {
	key    string
	period time.Duration // until the server names an interval

	// mu guards reg, which UpdateInstance may change while the loop runs.
	mu  sync.Mutex
	reg registration

	stopOnce sync.Once
	stopped  chan struct{} // closed to stop the loop: the record's "stopped"
	done     chan struct{} // closed when the loop has ended
}

// beatKey identifies a beat record, as the Nacos clients do: grouped
// service, IP and port.
func beatKey(grouped, ip string, port int) string {
	return grouped + "#" + ip + "#" + strconv.Itoa(port)
}

func (b *beat) stop() { b.stopOnce.Do(func() { close(b.stopped) }) }

func (b *beat) registration() registration {
	b.mu.Lock()
	defer b.mu.Unlock()
	r := b.reg
	r.Metadata = maps.Clone(r.Metadata)
	return r
}

// beatPeriod is the record's period: the instance's metadata
// preserved.heart.beat.interval (ms), read as the server reads it, when it
// is set and positive, else the configured default.
func (c *Client) beatPeriod(meta map[string]string) time.Duration {
	if d := naming.TimingOf(meta).BeatInterval; d > 0 {
		return d
	}
	return c.cfg.BeatInterval
}

// addBeat starts the heartbeats of reg. A record that already exists for
// the same key is stopped first: the new loop waits for the old one to end
// before its first beat, so the two never overlap.
func (c *Client) addBeat(reg registration) error {
	b := &beat{
		key:     beatKey(reg.grouped, reg.IP, reg.Port),
		period:  c.beatPeriod(reg.Metadata),
		reg:     reg,
		stopped: make(chan struct{}),
		done:    make(chan struct{}),
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	old := c.beats[b.key]
	if old != nil {
		old.stop()
		c.log.Debug("replacing beat", "instance", b.key)
	}
	c.beats[b.key] = b
	if c.cfg.BatchBeats && !c.batcher {
		c.batcher = true
		c.wg.Go(c.runBatcher)
	}
	c.wg.Go(func() { c.runBeat(b, old) })
	return nil
}

// updateBeat gives a running record the new weight and metadata.
func (c *Client) updateBeat(reg registration) {
	c.mu.Lock()
	b := c.beats[beatKey(reg.grouped, reg.IP, reg.Port)]
	c.mu.Unlock()
	if b == nil {
		return
	}
	b.mu.Lock()
	b.reg = reg
	b.mu.Unlock()
}

// removeBeat stops the record of key, if any, and waits for its loop to
// end, including a beat in flight.
func (c *Client) removeBeat(ctx context.Context, key string) error {
	c.mu.Lock()
	b := c.beats[key]
	delete(c.beats, key)
	c.mu.Unlock()
	if b == nil {
		return nil
	}
	b.stop()
	select {
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// runBeat is the loop of one record: beat, wait for the interval the server
// named (or the record's period), beat again. Beats are sequential, so at
// most one is in flight, and a slow server slows the loop instead of piling
// requests up. A beat in flight is not cancelled by stop, only by Close.
func (c *Client) runBeat(b *beat, prev *beat) {
	defer close(b.done)
	c.beatLoops.Add(1)
	defer c.beatLoops.Add(-1)
	if prev != nil {
		select {
		case <-prev.done:
		case <-c.ctx.Done():
			return
		}
	}
	light := false
	timer := time.NewTimer(0) // the first beat goes out at once
	defer timer.Stop()
	for {
		select {
		case <-timer.C:
		case <-b.stopped:
			return
		case <-c.ctx.Done():
			return
		}
		select {
		case <-b.stopped: // stopped while the timer fired
			return
		default:
		}
		next, isLight := c.sendBeat(b, light)
		light = isLight
		if c.batching() {
			next = c.align(next)
		}
		timer.Reset(next)
	}
}

// sendBeat sends one beat and handles the answer. It returns when the next
// beat is due and whether it may be light.
func (c *Client) sendBeat(b *beat, light bool) (time.Duration, bool) {
	reg := b.registration()
	var ans beatAnswer
	var err error
	res := batchResult{unsupported: true}
	if c.batching() {
		res = c.batchBeat(b, reg, light)
		ans, err = res.ans, res.err
	}
	if res.unsupported {
		p := c.refParams(reg)
		if !light {
			body, _ := json.Marshal(b.body(reg)) // plain data always encodes
			p.Set("beat", string(body))
		}
		ans, err = c.beatOnce(p)
	}
	if err != nil {
		if c.ctx.Err() == nil {
			c.log.Warn("beat failed; retrying on schedule", "instance", b.key, "err", err)
		}
		return b.period, light
	}
	next := b.period
	if ans.ClientBeatInterval > 0 {
		next = time.Duration(ans.ClientBeatInterval) * time.Millisecond
	}
	if ans.Code == wire.CodeResourceNotFound {
		select {
		case <-b.stopped:
			return next, false // being deregistered: do not bring it back
		default:
		}
		c.log.Info("server lost the instance; registering it again", "instance", b.key)
		if err := c.register(c.ctx, reg); err != nil {
			c.log.Warn("register again failed", "instance", b.key, "err", err)
		}
		// The server answered for an instance it does not know, with its
		// default interval: the record's own period is the one that keeps
		// the instance alive. The next beat carries the body again.
		return b.period, false
	}
	return next, ans.LightBeatEnabled
}

// body is the full beat body of reg, from which a server can re-create the
// instance.
func (b *beat) body(reg registration) beatBody {
	return beatBody{
		IP:          reg.IP,
		Port:        reg.Port,
		Weight:      reg.Weight,
		ServiceName: reg.grouped,
		Cluster:     reg.Cluster,
		Metadata:    reg.Metadata,
		Ephemeral:   true,
		Period:      b.period.Milliseconds(),
	}
}

func (c *Client) beatOnce(p url.Values) (beatAnswer, error) {
	raw, err := c.call(c.ctx, http.MethodPut, pathBeat, p)
	if err != nil {
		return beatAnswer{}, err
	}
	ans := beatAnswer{Code: wire.CodeOK}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &ans); err != nil {
			return beatAnswer{}, fmt.Errorf("decode beat answer: %w", err)
		}
	}
	return ans, nil
}
