package push

import (
	"math"
	"net/netip"
	"time"

	"golang.org/x/time/rate"
)

// pending is a push waiting for its ack.
type pending struct {
	t        *target
	key      ackKey
	packet   []byte    // shared by the targets of one round and variant
	changed  time.Time // the change that caused it, for latency
	attempts int       // datagrams sent so far
	reserved bool      // holds a rate-limiter token; send it when due
	done     bool      // acked, failed, superseded or dropped
	gen      int       // bumped whenever its heap entry becomes stale
	due      time.Time
}

// ackKey matches an ack to its push. Nacos keys acks by the ack's source
// ip:port and the sequence number; pulse also matches by port and sequence
// alone when that is unambiguous, for multi-homed clients whose acks leave
// from another address than the one pushed to.
type ackKey struct {
	addr netip.AddrPort
	seq  int64
}

type looseKey struct {
	port uint16
	seq  int64
}

func (p *Pusher) loose(pd *pending) looseKey { return looseKey{pd.key.addr.Port(), pd.key.seq} }

func (p *Pusher) addPendingLocked(pd *pending) {
	p.pending[pd.key] = pd
	lk := p.loose(pd)
	if _, taken := p.loosePending[lk]; taken {
		p.loosePending[lk] = nil // ambiguous: exact matches only
	} else {
		p.loosePending[lk] = pd
	}
}

// forgetLocked ends a pending push, whatever became of it.
func (p *Pusher) forgetLocked(pd *pending) {
	if pd.done {
		return
	}
	pd.done = true
	pd.gen++
	delete(p.pending, pd.key)
	if lk := p.loose(pd); p.loosePending[lk] == pd {
		delete(p.loosePending, lk)
	}
	if pd.t.pending == pd {
		pd.t.pending = nil
	}
}

// acked handles an ack from the socket. An ack only ends the push with its
// own sequence number: an old ack never cancels a newer push.
func (p *Pusher) acked(from netip.AddrPort, seq int64) {
	now := p.clk.Now()
	p.mu.Lock()
	pd := p.pending[ackKey{from, seq}]
	if pd == nil {
		pd = p.loosePending[looseKey{from.Port(), seq}]
	}
	if pd == nil {
		p.mu.Unlock()
		p.st.badAcks.Add(1)
		return
	}
	p.forgetLocked(pd)
	p.mu.Unlock()
	p.st.acks.Add(1)
	p.latency.Observe(now.Sub(pd.changed))
}

func (p *Pusher) limiterLocked(addr netip.AddrPort) *rate.Limiter {
	lim := p.limiters[addr]
	if lim == nil {
		lim = rate.NewLimiter(rate.Limit(p.cfg.RatePerAddr), p.cfg.BurstPerAddr)
		p.limiters[addr] = lim
	}
	return lim
}

// backoff is the wait for an ack after the given attempt (1 = first send).
func (p *Pusher) backoff(attempt int) time.Duration {
	d := float64(p.cfg.AckTimeout) * math.Pow(p.cfg.RetryBackoff, float64(attempt-1))
	return time.Duration(min(d, float64(time.Minute)))
}

// send sends each push once (first send or resend), unless the
// destination's rate says to wait: then the push keeps a reserved token and
// goes out when it is due.
func (p *Pusher) send(list []*pending, now time.Time) {
	if len(list) == 0 {
		return
	}
	type out struct {
		pd     *pending
		packet []byte
		addr   netip.AddrPort
		resend bool
	}
	outs := make([]out, 0, len(list))
	p.mu.Lock()
	for _, pd := range list {
		if pd.done {
			continue
		}
		if !pd.reserved {
			r := p.limiterLocked(pd.t.Addr).ReserveN(now, 1)
			if d := r.DelayFrom(now); d > 0 {
				pd.reserved = true
				p.scheduleLocked(pd, now.Add(d))
				p.st.limited.Add(1)
				continue
			}
		}
		pd.reserved = false
		pd.attempts++
		p.scheduleLocked(pd, now.Add(p.backoff(pd.attempts)))
		outs = append(outs, out{pd, pd.packet, pd.t.Addr, pd.attempts > 1})
	}
	p.mu.Unlock()
	for _, o := range outs {
		if o.resend {
			p.st.retries.Add(1)
		} else {
			p.st.pushes.Add(1)
		}
		if _, err := p.conn.WriteToUDPAddrPort(o.packet, o.addr); err != nil {
			p.log.Debug("push send", "addr", o.addr.String(), "err", err)
		}
	}
}

// dueRetriesLocked collects the pushes whose wait is over: those holding a
// reserved token are sent, unacked ones are sent again or, past MaxRetries,
// counted as failed.
func (p *Pusher) dueRetriesLocked(now time.Time, sends []*pending) []*pending {
	for len(p.retries) > 0 && !now.Before(p.retries[0].due) {
		e := p.retries.pop()
		pd := e.pd
		if pd.done || e.gen != pd.gen {
			continue
		}
		if !pd.reserved && pd.attempts > max(p.cfg.MaxRetries, 0) {
			p.forgetLocked(pd)
			p.st.failed.Add(1)
			p.log.Debug("push failed: no ack", "service", pd.t.Key.Name, "addr", pd.t.Addr.String(), "attempts", pd.attempts)
			continue
		}
		sends = append(sends, pd)
	}
	return sends
}

func (p *Pusher) scheduleLocked(pd *pending, due time.Time) {
	pd.gen++
	pd.due = due
	p.retries.push(retryEntry{due: due, pd: pd, gen: pd.gen})
}

type retryEntry struct {
	due time.Time
	pd  *pending
	gen int
}

// retryHeap is a binary min-heap on due.
type retryHeap []retryEntry

func (h *retryHeap) push(e retryEntry) {
	*h = append(*h, e)
	a := *h
	for i := len(a) - 1; i > 0; {
		parent := (i - 1) / 2
		if !a[i].due.Before(a[parent].due) {
			break
		}
		a[i], a[parent] = a[parent], a[i]
		i = parent
	}
}

func (h *retryHeap) pop() retryEntry {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a[n] = retryEntry{}
	a = a[:n]
	for i := 0; ; {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && a[r].due.Before(a[l].due) {
			m = r
		}
		if !a[m].due.Before(a[i].due) {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}
