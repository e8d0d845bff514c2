package push

import (
	"math"
	"net/netip"
	"sync/atomic"
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
	ackBy    time.Time // when the current attempt's ack was due
	// sent is the unix ns of the last datagram, stored just before it is
	// written (outside the lock), for ack deadlines and round-trip times.
	sent atomic.Int64
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
	p.lastAck = now
	if sent := pd.sent.Load(); pd.attempts == 1 && sent > 0 {
		// Karn: only an ack of a datagram sent once tells the round trip.
		p.observeRTTLocked(time.Duration(now.UnixNano() - sent))
	} else if pd.attempts > 1 {
		// Only a resend got through: keep the longer wait that worked.
		p.rto = min(max(p.rto, p.backoffLocked(pd.attempts)), maxAckTimeout)
	}
	p.mu.Unlock()
	p.st.acks.Add(1)
	p.latency.Observe(now.Sub(pd.changed))
}

// observeRTTLocked updates the smoothed round-trip time and its variance the
// way TCP does (RFC 6298), so that the ack timeout follows the load: a fan-out
// to thousands of targets on a busy machine brings acks back later, and a
// fixed timeout would resend to all of them at once.
func (p *Pusher) observeRTTLocked(rtt time.Duration) {
	if p.srtt == 0 {
		p.srtt, p.rttvar = rtt, rtt/2
	} else {
		p.rttvar = (3*p.rttvar + (p.srtt - rtt).Abs()) / 4
		p.srtt = (7*p.srtt + rtt) / 8
	}
	p.rto = min(max(p.cfg.AckTimeout, p.srtt+4*p.rttvar), maxAckTimeout)
}

// ackQuiet is how long no ack must have come in before a push is deemed
// lost: see dueRetriesLocked.
const ackQuiet = 20 * time.Millisecond

// maxAckTimeout caps the adaptive ack timeout.
const maxAckTimeout = 10 * time.Second

func (p *Pusher) limiterLocked(addr netip.AddrPort) *rate.Limiter {
	lim := p.limiters[addr]
	if lim == nil {
		lim = rate.NewLimiter(rate.Limit(p.cfg.RatePerAddr), p.cfg.BurstPerAddr)
		p.limiters[addr] = lim
	}
	return lim
}

// backoffLocked is the wait for an ack after the given attempt (1 = first
// send): the adaptive timeout, multiplied by RetryBackoff for each resend.
func (p *Pusher) backoffLocked(attempt int) time.Duration {
	rto := max(p.rto, p.cfg.AckTimeout)
	d := float64(rto) * math.Pow(p.cfg.RetryBackoff, float64(attempt-1))
	return time.Duration(min(d, float64(time.Minute)))
}

// send sends each push once (first send or resend), unless the
// destination's rate says to wait: then the push keeps a reserved token and
// goes out when it is due. Each push's ack deadline counts from the moment
// the last datagram of the batch left: a fan-out to thousands of targets
// takes a while.
func (p *Pusher) send(list []*pending, now time.Time) {
	if len(list) == 0 {
		return
	}
	outs := make([]*pending, 0, len(list))
	p.mu.Lock()
	for _, pd := range list {
		if pd.done {
			continue
		}
		if !pd.reserved {
			r := p.limiterLocked(pd.key.addr).ReserveN(now, 1)
			if d := r.DelayFrom(now); d > 0 {
				pd.reserved = true
				p.scheduleLocked(pd, now.Add(d))
				p.st.limited.Add(1)
				continue
			}
		}
		pd.reserved = false
		pd.attempts++
		pd.gen++ // its old deadline is void until rescheduled below
		outs = append(outs, pd)
	}
	p.mu.Unlock()
	for _, pd := range outs {
		if pd.attempts > 1 {
			p.st.retries.Add(1)
		} else {
			p.st.pushes.Add(1)
		}
		pd.sent.Store(p.clk.Now().UnixNano())
		if _, err := p.conn.WriteToUDPAddrPort(pd.packet, pd.key.addr); err != nil {
			p.log.Debug("push send", "addr", pd.key.addr.String(), "err", err)
		}
	}
	// Deadlines count from the end of the batch, not from each datagram:
	// while thousands of datagrams go out, the acks of the first ones wait
	// to be read, and a deadline from their own send time would resend them
	// for that wait alone.
	end := p.clk.Now()
	p.mu.Lock()
	for _, pd := range outs {
		if !pd.done {
			pd.ackBy = end.Add(p.backoffLocked(pd.attempts))
			p.scheduleLocked(pd, pd.ackBy)
		}
	}
	p.mu.Unlock()
}

// dueRetriesLocked collects the pushes whose wait is over: those holding a
// reserved token are sent, unacked ones are sent again or, past MaxRetries,
// counted as failed.
func (p *Pusher) dueRetriesLocked(now time.Time, sends []*pending) []*pending {
	for p.retries.dueBy(now) {
		e := p.retries.pop()
		pd := e.v.pd
		if pd.done || e.v.gen != pd.gen {
			continue
		}
		if !pd.reserved && now.Sub(p.lastAck) < ackQuiet && now.Before(pd.ackBy.Add(p.backoffLocked(pd.attempts))) {
			// Acks are still coming in, this one may be among them: a
			// burst of thousands is read one by one, and on a busy
			// machine the last are read late. Wait for a quiet moment,
			// at most one more timeout.
			p.scheduleLocked(pd, now.Add(ackQuiet))
			continue
		}
		if !pd.reserved && pd.attempts > p.cfg.MaxRetries {
			p.forgetLocked(pd)
			p.st.failed.Add(1)
			p.log.Debug("push failed: no ack", "service", pd.t.Key.Name, "addr", pd.key.addr.String(), "attempts", pd.attempts)
			continue
		}
		sends = append(sends, pd)
	}
	return sends
}

func (p *Pusher) scheduleLocked(pd *pending, due time.Time) {
	pd.gen++
	pd.due = due
	p.retries.push(due, retry{pd: pd, gen: pd.gen})
}

// retry is a resend (or a rate-delayed send) waiting in the heap; gen tells
// a stale entry from the live one.
type retry struct {
	pd  *pending
	gen int
}
