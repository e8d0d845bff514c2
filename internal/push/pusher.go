// Package push sends service changes to subscribed clients over UDP, the
// way Nacos 1.x clients expect: a "dom" packet carrying the same answer the
// client's own instance-list query would get, acked by the client on the
// socket that sent it.
//
// Unlike Nacos, which waits a fixed second before every push, a Pusher sends
// the first change to a service at once and merges the changes that follow
// within a short window into one trailing push of the latest state. Only the
// newest state per (service, target) matters: a newer push replaces an
// unacked older one, a slow or dead target never delays the others, and the
// registry is never blocked (ServiceChanged only marks the service dirty).
// Retries, zombie targets and a per-address packet rate are all bounded.
package push

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"

	"github.com/pulse-registry/pulse/internal/clock"
	"github.com/pulse-registry/pulse/internal/latency"
	"github.com/pulse-registry/pulse/internal/naming"
	"github.com/pulse-registry/pulse/internal/switches"
	"github.com/pulse-registry/pulse/internal/wire"
)

// Source is where the pusher reads the state it pushes. *naming.Registry
// implements it.
type Source interface {
	Select(q naming.Query, buf []naming.Host) naming.Selection
}

// Target is a client that asked for pushes of a service, described by its
// own instance-list query so that a push can carry the same answer.
type Target struct {
	Key         naming.ServiceKey
	Clusters    string // as the client sent it
	HealthyOnly bool
	Env         string
	Addr        netip.AddrPort // where pushes go
	Agent       wire.Agent
	App         string
}

// TargetInfo describes a live target, for GET /service/subscribers.
type TargetInfo struct {
	Target
	Subscribed time.Time // first subscription
	Refreshed  time.Time // last list query
	Pending    bool      // a push to it waits for its ack
}

// targetID is what makes two subscriptions the same target: Nacos keys push
// clients by service, clusters, address and agent.
type targetID struct {
	addr        netip.AddrPort
	clusters    string
	healthyOnly bool
	env         string
	grouped     bool
	agent       string
}

type target struct {
	Target
	id         targetID
	subscribed time.Time
	refreshed  time.Time
	pending    *pending // the newest unacked push, nil when none
}

// subscription is the push state of one service.
type subscription struct {
	targets   map[targetID]*target
	lastRound time.Time // start of the last push round
	trailing  time.Time // when a trailing round is due; zero when none
	changed   time.Time // first change not yet pushed; zero when none
}

// Pusher pushes service changes to subscribed targets. Create it with New,
// run it with Run. It is safe for concurrent use.
type Pusher struct {
	cfg  Config
	src  Source
	sw   *switches.Set
	clk  clock.Clock
	log  *slog.Logger
	conn *net.UDPConn
	wake chan struct{} // capacity 1

	// mu guards the fields below and the targets and pending pushes they
	// reach. It is never held while sending or receiving datagrams.
	mu       sync.Mutex
	subs     map[naming.ServiceKey]*subscription
	dirty    []naming.ServiceKey // services changed since the last tick
	nTargets int
	pending  map[ackKey]*pending
	// loosePending indexes pending pushes by port and sequence; nil marks
	// an ambiguous key.
	loosePending map[looseKey]*pending
	retries      dueHeap[retry]
	trailing     dueHeap[trailingRound]
	limiters     map[netip.AddrPort]*rate.Limiter
	seq          int64
	sweepAt      time.Time
	// listBuf holds the list answer being encoded; only the loop uses it.
	listBuf []byte
	// lastAck is when the last ack was matched.
	lastAck time.Time
	// srtt, rttvar and rto adapt the ack timeout to measured round trips.
	srtt, rttvar, rto time.Duration

	st      counters
	latency latency.Histogram
}

type counters struct {
	pushes, acks, retries, failed, tooLarge, superseded, limited, refused, badAcks atomic.Int64
}

// New returns a Pusher that sends from conn and reads acks on it. The Pusher
// owns conn from now on and closes it when Run returns.
func New(cfg Config, conn *net.UDPConn, src Source, sw *switches.Set, clk clock.Clock, log *slog.Logger) (*Pusher, error) {
	if cfg == (Config{}) {
		cfg = DefaultConfig()
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Pusher{
		cfg:          cfg,
		src:          src,
		sw:           sw,
		clk:          clk,
		log:          log,
		conn:         conn,
		wake:         make(chan struct{}, 1),
		subs:         map[naming.ServiceKey]*subscription{},
		pending:      map[ackKey]*pending{},
		loosePending: map[looseKey]*pending{},
		limiters:     map[netip.AddrPort]*rate.Limiter{},
		// Sequence numbers start from the clock in microseconds, so that acks
		// meant for an earlier run of the server do not match, and stay far
		// below 2^53 (the Node client parses them as JavaScript numbers).
		seq: clk.Now().UnixMicro() % (wire.MaxSeq / 2),
		// Until a round trip has been measured, wait 4 times the floor (1 s
		// by default), as RFC 6298 starts at 1 s: the first fan-out to
		// thousands of targets brings its acks back slowly.
		rto: min(4*cfg.AckTimeout, maxAckTimeout),
	}, nil
}

// Addr returns the address pushes are sent from.
func (p *Pusher) Addr() netip.AddrPort { return p.conn.LocalAddr().(*net.UDPAddr).AddrPort() }

func (p *Pusher) signal() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Subscribe adds or refreshes a target. It reports whether the target will
// get pushes: false when push is switched off or the target bound is
// reached.
func (p *Pusher) Subscribe(t Target) bool {
	if !p.sw.Get().PushEnabled || !t.Addr.IsValid() || t.Addr.Port() == 0 {
		return false
	}
	id := targetID{
		addr:        t.Addr,
		clusters:    t.Clusters,
		healthyOnly: t.HealthyOnly,
		env:         t.Env,
		grouped:     t.Agent.GroupedNames(),
		agent:       t.Agent.Raw,
	}
	now := p.clk.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	sub := p.subs[t.Key]
	var tg *target
	if sub != nil {
		tg = sub.targets[id]
	}
	if tg == nil {
		if p.nTargets >= p.cfg.MaxTargets {
			p.st.refused.Add(1)
			return false
		}
		// A target outlives its request, whose strings may share memory with
		// the whole request body: keep copies.
		t.Key = naming.ServiceKey{Namespace: strings.Clone(t.Key.Namespace), Name: strings.Clone(t.Key.Name)}
		t.Clusters, t.Env, t.App = strings.Clone(t.Clusters), strings.Clone(t.Env), strings.Clone(t.App)
		t.Agent = wire.ParseAgent(strings.Clone(t.Agent.Raw))
		id.clusters, id.env, id.agent = t.Clusters, t.Env, t.Agent.Raw
		if sub == nil {
			sub = &subscription{targets: map[targetID]*target{}}
			p.subs[t.Key] = sub
		}
		tg = &target{Target: t, id: id, subscribed: now}
		sub.targets[id] = tg
		p.nTargets++
	} else if tg.App != t.App {
		tg.App = strings.Clone(t.App)
	}
	tg.refreshed = now
	return true
}

// ServiceChanged marks a service as changed. It never blocks: the push
// happens on the pusher's goroutine.
func (p *Pusher) ServiceChanged(key naming.ServiceKey, _ int64) {
	p.mu.Lock()
	sub := p.subs[key]
	if sub == nil {
		p.mu.Unlock()
		return
	}
	if sub.changed.IsZero() {
		sub.changed = p.clk.Now()
		p.dirty = append(p.dirty, key)
	}
	p.mu.Unlock()
	p.signal()
}

// Run pushes until ctx is done, then sends the rounds already due, closes
// the socket and returns after its goroutines have ended.
func (p *Pusher) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return p.readAcks() })
	g.Go(func() error {
		defer p.conn.Close() // ends readAcks
		timer := p.clk.NewTimer(time.Hour)
		defer timer.Stop()
		for {
			next := p.tick(p.clk.Now())
			wait := time.Hour
			if !next.IsZero() {
				wait = max(next.Sub(p.clk.Now()), 0)
			}
			timer.Stop()
			timer.Reset(wait)
			select {
			case <-gctx.Done():
				p.flush()
				return nil
			case <-p.wake:
			case <-timer.C():
			}
		}
	})
	return g.Wait()
}

// flush runs the rounds of changes that are waiting, at shutdown.
func (p *Pusher) flush() {
	p.mu.Lock()
	keys := p.dirty
	p.dirty = nil
	for len(p.trailing) > 0 { // merged changes waiting for their window
		keys = append(keys, p.trailing.pop().v.key)
	}
	var rounds []round
	now := p.clk.Now()
	for _, k := range keys {
		if sub := p.subs[k]; sub != nil && !sub.changed.IsZero() {
			rounds = append(rounds, round{key: k, changed: sub.changed})
			sub.changed, sub.trailing, sub.lastRound = time.Time{}, time.Time{}, now
		}
	}
	p.mu.Unlock()
	for _, r := range rounds {
		p.push(r, now)
	}
}

func (p *Pusher) readAcks() error {
	buf := make([]byte, 2048)
	for {
		n, from, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// ICMP port-unreachable from a dead target surfaces here on
			// some systems; it says nothing about the socket.
			p.log.Debug("read ack", "err", err)
			continue
		}
		ack, err := wire.DecodeAck(buf[:n])
		if err != nil {
			p.st.badAcks.Add(1)
			p.log.Debug("bad ack", "from", from.String(), "err", err)
			continue
		}
		p.acked(from, ack.LastRefTime)
	}
}

// tick does what is due at now: rounds for changed services (at once, or at
// the end of the merge window), resends, and the zombie sweep. It returns
// when it next needs to run (zero: only when woken).
func (p *Pusher) tick(now time.Time) time.Time {
	var rounds []round
	var sends []*pending
	p.mu.Lock()
	for _, k := range p.dirty {
		sub := p.subs[k]
		if sub == nil || sub.changed.IsZero() || !sub.trailing.IsZero() {
			continue
		}
		if due := sub.lastRound.Add(p.cfg.MergeWindow); now.Before(due) {
			sub.trailing = due // merged into one trailing round
			p.trailing.push(due, trailingRound{k, due})
		} else {
			rounds = append(rounds, round{key: k, changed: sub.changed})
			sub.changed, sub.lastRound = time.Time{}, now
		}
	}
	p.dirty = p.dirty[:0]
	for p.trailing.dueBy(now) {
		tr := p.trailing.pop().v
		sub := p.subs[tr.key]
		if sub == nil || !sub.trailing.Equal(tr.due) {
			continue // the service's subscription went meanwhile
		}
		rounds = append(rounds, round{key: tr.key, changed: sub.changed})
		sub.changed, sub.trailing, sub.lastRound = time.Time{}, time.Time{}, now
	}
	sends = p.dueRetriesLocked(now, sends)
	var next time.Time
	for _, t := range []time.Time{p.trailing.next(), p.retries.next()} {
		if !t.IsZero() {
			next = earliest(next, t)
		}
	}
	if !now.Before(p.sweepAt) {
		p.sweepLocked(now)
		p.sweepAt = now.Add(p.cfg.ZombieTimeout / 4)
	}
	next = earliest(next, p.sweepAt)
	p.mu.Unlock()

	p.send(sends, now)
	for _, r := range rounds {
		p.push(r, now)
	}
	if len(rounds) > 0 || len(sends) > 0 {
		// Look again at once: sending scheduled new deadlines, and changes
		// may have come in meanwhile.
		return now
	}
	return next
}

func earliest(a, b time.Time) time.Time {
	if a.IsZero() || b.Before(a) {
		return b
	}
	return a
}

// sweepLocked drops targets that stopped refreshing their subscription.
func (p *Pusher) sweepLocked(now time.Time) {
	for k, sub := range p.subs {
		for id, t := range sub.targets {
			if now.Sub(t.refreshed) > p.cfg.ZombieTimeout {
				p.dropTargetLocked(sub, id, t)
			}
		}
		if len(sub.targets) == 0 && sub.trailing.IsZero() {
			delete(p.subs, k)
		}
	}
	for addr, lim := range p.limiters {
		if lim.TokensAt(now) >= float64(p.cfg.BurstPerAddr) {
			delete(p.limiters, addr) // full again: the same as a fresh one
		}
	}
}

func (p *Pusher) dropTargetLocked(sub *subscription, id targetID, t *target) {
	if t.pending != nil {
		p.forgetLocked(t.pending)
	}
	delete(sub.targets, id)
	p.nTargets--
	p.log.Debug("push target expired", "service", t.Key.Name, "addr", t.Addr.String(), "agent", t.Agent.Raw)
}

// trailingRound is a service's merged changes waiting for the end of the
// merge window.
type trailingRound struct {
	key naming.ServiceKey
	due time.Time
}

type round struct {
	key     naming.ServiceKey
	changed time.Time // when the first change of the round happened
}

// variant is what decides the bytes of a push: targets that share it share
// one encoded packet.
type variant struct {
	clusters    string
	healthyOnly bool
	env         string
	grouped     bool
}

// push runs one round: it encodes the service once per variant of query
// and sends the packets to every live target.
func (p *Pusher) push(r round, now time.Time) {
	if !p.sw.Get().PushEnabled {
		return
	}
	p.mu.Lock()
	sub := p.subs[r.key]
	if sub == nil {
		p.mu.Unlock()
		return
	}
	groups := map[variant][]*target{}
	for id, t := range sub.targets {
		if now.Sub(t.refreshed) > p.cfg.ZombieTimeout {
			p.dropTargetLocked(sub, id, t)
			continue
		}
		v := variant{id.clusters, id.healthyOnly, id.env, id.grouped}
		groups[v] = append(groups[v], t)
	}
	p.mu.Unlock()

	cacheMillis := p.sw.Get().DefaultPushCacheMillis
	var hosts []naming.Host
	var sends []*pending
	for v, targets := range groups {
		sel := p.src.Select(naming.Query{Key: r.key, Clusters: naming.ParseClusters(v.clusters), HealthyOnly: v.healthyOnly}, hosts)
		hosts = sel.Hosts
		l := wire.List{Name: r.key.Name, Clusters: v.clusters, Env: v.env, CacheMillis: cacheMillis, Grouped: v.grouped, Selection: sel}
		// Only the loop goroutine runs rounds: one buffer serves them all.
		// EncodePush copies what it keeps.
		p.listBuf = wire.AppendList(p.listBuf[:0], &l)
		data := p.listBuf
		p.mu.Lock()
		p.seq++
		seq := p.seq
		p.mu.Unlock()
		pkt, err := wire.EncodePush(seq, data)
		if err != nil {
			// Too big for one datagram: the client's poll covers it.
			p.st.tooLarge.Add(int64(len(targets)))
			p.log.Warn("push skipped", "service", r.key.Name, "err", err, "targets", len(targets))
			continue
		}
		p.mu.Lock()
		for _, t := range targets {
			if sub.targets[t.id] != t {
				continue // dropped meanwhile
			}
			if old := t.pending; old != nil {
				p.forgetLocked(old)
				p.st.superseded.Add(1)
			}
			pd := &pending{t: t, key: ackKey{t.Addr, seq}, packet: pkt, changed: r.changed}
			t.pending = pd
			p.addPendingLocked(pd)
			sends = append(sends, pd)
		}
		p.mu.Unlock()
	}
	clear(hosts)
	if cap(p.listBuf) > 1<<20 {
		p.listBuf = nil // a huge service's answer: do not keep its buffer
	}
	p.send(sends, now)
}

// Stats is what the pusher has done since it started.
type Stats struct {
	Targets    int   // live push targets
	Services   int   // services with at least one target
	Pushes     int64 // pushes sent (one per target and change round)
	Acks       int64
	Retries    int64 // datagrams sent again for want of an ack
	Failed     int64 // pushes never acked after every retry
	TooLarge   int64 // pushes skipped: the service does not fit a datagram
	Superseded int64 // unacked pushes replaced by a newer one
	Limited    int64 // sends delayed by the per-address rate
	Refused    int64 // subscriptions refused at the target bound
	BadAcks    int64 // datagrams on the push socket that were not acks
	Waiting    int   // pushes waiting for their ack
	// Latency is the time from a change to the ack of its push.
	Latency latency.Snapshot
}

// Stats returns counters and current sizes.
func (p *Pusher) Stats() Stats {
	p.mu.Lock()
	s := Stats{Targets: p.nTargets, Services: len(p.subs), Waiting: len(p.pending)}
	p.mu.Unlock()
	s.Pushes = p.st.pushes.Load()
	s.Acks = p.st.acks.Load()
	s.Retries = p.st.retries.Load()
	s.Failed = p.st.failed.Load()
	s.TooLarge = p.st.tooLarge.Load()
	s.Superseded = p.st.superseded.Load()
	s.Limited = p.st.limited.Load()
	s.Refused = p.st.refused.Load()
	s.BadAcks = p.st.badAcks.Load()
	s.Latency = p.latency.Snapshot()
	return s
}

// Targets lists the live targets of a service, sorted by address.
func (p *Pusher) Targets(key naming.ServiceKey) []TargetInfo {
	now := p.clk.Now()
	p.mu.Lock()
	var out []TargetInfo
	if sub := p.subs[key]; sub != nil {
		for _, t := range sub.targets {
			if now.Sub(t.refreshed) > p.cfg.ZombieTimeout {
				continue
			}
			out = append(out, TargetInfo{Target: t.Target, Subscribed: t.subscribed, Refreshed: t.refreshed, Pending: t.pending != nil})
		}
	}
	p.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if c := out[i].Addr.Compare(out[j].Addr); c != 0 {
			return c < 0
		}
		return out[i].Clusters < out[j].Clusters
	})
	return out
}

func (p *Pusher) String() string { return fmt.Sprintf("push from %s", p.Addr()) }
