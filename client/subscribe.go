package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Event tells a subscriber that a service's instances changed.
type Event struct {
	Service   string     // grouped name, group@@name
	Clusters  string     // the clusters subscribed to, comma-separated; empty for all
	Instances []Instance // the whole new list, sorted by cluster, IP and port
	Added     []Instance // instances that were not listed before
	Removed   []Instance // instances no longer listed, in their last known state
	Modified  []Instance // instances whose state changed (health, weight, ...), new state
}

// Subscription is a running subscription; end it with Unsubscribe.
type Subscription struct {
	c    *Client
	w    *watcher
	fn   func(Event)
	mail mailbox[*snapshot]

	stopOnce sync.Once
	stopped  chan struct{}
}

// Subscribe calls fn whenever the instances of q change, starting with the
// instances listed now (as Added) when there are any. It returns once the
// first list has been fetched, within ctx; when no server answers, it
// starts from the disk cache (Config.CacheDir) if that has the service, and
// fails otherwise. After that the subscription lives until Unsubscribe or
// Close and is kept current by pushes and by polls.
//
// Calls to fn are sequential for one subscription and run on a goroutine of
// their own: a slow fn delays only its own subscription, and only the
// latest state is delivered when it returns. fn fires only when the list
// really changed.
func (c *Client) Subscribe(ctx context.Context, q Query, fn func(Event)) (*Subscription, error) {
	if fn == nil {
		return nil, errors.New("client: subscribe: callback is nil")
	}
	grouped, clusters, err := q.resolve()
	if err != nil {
		return nil, err
	}
	for {
		w, err := c.watcher(ctx, grouped, clusters)
		if err != nil {
			return nil, err
		}
		s := &Subscription{c: c, w: w, fn: fn, stopped: make(chan struct{})}
		s.mail.init()
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		// The watcher may have ended between its creation and now, when
		// its last subscriber left: then start over.
		if c.watchers[w.key] == w {
			w.add(s)
			c.wg.Go(s.deliver)
			c.mu.Unlock()
			return s, nil
		}
		c.mu.Unlock()
	}
}

// Unsubscribe ends the subscription. fn is not called again once a call
// that is running returns; Unsubscribe does not wait for it, so it may be
// called from fn. Unsubscribing twice is harmless.
func (s *Subscription) Unsubscribe() {
	s.stopOnce.Do(func() {
		close(s.stopped)
		s.c.dropSubscription(s)
	})
}

// deliver runs fn with the latest state whenever it changes.
func (s *Subscription) deliver() {
	var last []Instance
	for {
		select {
		case <-s.mail.ready():
		case <-s.stopped:
			return
		case <-s.c.ctx.Done():
			return
		}
		snap, ok := s.mail.take()
		if !ok {
			continue
		}
		ev, changed := diff(last, snap.hosts)
		if !changed {
			continue
		}
		select {
		case <-s.stopped:
			return
		default:
		}
		last = snap.hosts
		ev.Service, ev.Clusters = snap.name, snap.clusters
		s.fn(ev)
	}
}

// diff compares two sorted lists.
func diff(old, cur []Instance) (Event, bool) {
	ev := Event{Instances: cloneInstances(cur)}
	i, j := 0, 0
	for i < len(old) || j < len(cur) {
		switch {
		case j == len(cur) || i < len(old) && compareInstances(old[i], cur[j]) < 0:
			ev.Removed = append(ev.Removed, cloneInstance(old[i]))
			i++
		case i == len(old) || compareInstances(old[i], cur[j]) > 0:
			ev.Added = append(ev.Added, cloneInstance(cur[j]))
			j++
		default:
			if !old[i].equal(cur[j]) {
				ev.Modified = append(ev.Modified, cloneInstance(cur[j]))
			}
			i++
			j++
		}
	}
	return ev, len(ev.Added)+len(ev.Removed)+len(ev.Modified) > 0
}

// watcher keeps one service (name and clusters) current for its
// subscribers: it polls the server every cacheMillis and applies pushes.
type watcher struct {
	c        *Client
	key      string
	name     string // grouped
	clusters string
	pushes   mailbox[*snapshot]
	started  chan struct{} // closed after the first fetch
	err      error         // why the first fetch failed; set before started closes
	stopped  chan struct{}

	// mu guards the fields below.
	mu   sync.Mutex
	snap *snapshot
	subs map[*Subscription]struct{}
}

func (w *watcher) latest() *snapshot {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.snap
}

func (w *watcher) add(s *Subscription) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.subs[s] = struct{}{}
	if w.snap != nil {
		s.mail.put(w.snap)
	}
}

// watcher returns the running watcher of a service, or starts one with a
// first fetch. The watcher is listed before that fetch, so that a push sent
// right after the server registered the push target is not lost; a second
// subscriber waits for the first fetch.
func (c *Client) watcher(ctx context.Context, grouped, clusters string) (*watcher, error) {
	key := cacheKey(grouped, clusters)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if w := c.watchers[key]; w != nil {
		c.mu.Unlock()
		select {
		case <-w.started:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if w.err != nil {
			if ctx.Err() == nil && (errors.Is(w.err, context.Canceled) || errors.Is(w.err, context.DeadlineExceeded)) {
				return c.watcher(ctx, grouped, clusters) // the first subscriber gave up, not us
			}
			return nil, w.err
		}
		return w, nil
	}
	w := &watcher{
		c:        c,
		key:      key,
		name:     grouped,
		clusters: clusters,
		started:  make(chan struct{}),
		stopped:  make(chan struct{}),
		subs:     map[*Subscription]struct{}{},
	}
	w.pushes.init()
	c.watchers[key] = w
	c.mu.Unlock()

	snap, port, fresh, err := c.firstFetch(ctx, key, grouped, clusters)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil && c.closed {
		err = ErrClosed
	}
	if err != nil {
		if c.watchers[key] == w {
			delete(c.watchers, key)
		}
		w.err = err
		close(w.started)
		return nil, err
	}
	w.mu.Lock()
	w.snap = snap
	w.mu.Unlock()
	close(w.started)
	c.wg.Go(func() { w.run(port, snap, fresh) })
	return w, nil
}

// firstFetch opens the push socket and asks for the service, falling back
// to the disk cache when no server answers. fresh is false when the answer
// did not come from a server.
func (c *Client) firstFetch(ctx context.Context, key, grouped, clusters string) (snap *snapshot, port int, fresh bool, err error) {
	port, err = c.pushPort()
	if err != nil {
		return nil, 0, false, err
	}
	snap, err = c.list(ctx, grouped, clusters, port)
	switch {
	case err != nil:
		cached, cerr := c.readCache(key)
		if cerr != nil {
			return nil, 0, false, fmt.Errorf("subscribe %s: %w", key, err)
		}
		c.log.Warn("no server answers; starting from the disk cache", "service", key, "err", err)
		return cached, port, false, nil
	case snap.key != key:
		c.log.Warn("server echoed another service; polling goes on", "service", key, "echo", snap.key)
		return nil, port, true, nil
	}
	c.writeCache(snap)
	return snap, port, true, nil
}

// dropSubscription removes s; the last subscriber to leave stops the
// watcher.
func (c *Client) dropSubscription(s *Subscription) {
	w := s.w
	c.mu.Lock()
	defer c.mu.Unlock()
	w.mu.Lock()
	delete(w.subs, s)
	empty := len(w.subs) == 0
	w.mu.Unlock()
	if empty && c.watchers[w.key] == w {
		delete(c.watchers, w.key)
		close(w.stopped)
	}
}

// run polls and applies pushes until the watcher stops.
func (w *watcher) run(port int, first *snapshot, fresh bool) {
	c := w.c
	c.watchLoops.Add(1)
	defer c.watchLoops.Add(-1)
	var stale error
	if !fresh {
		stale = errors.New("started from the disk cache") // poll again soon
	}
	timer := time.NewTimer(c.pollDelay(first, stale))
	defer timer.Stop()
	for {
		select {
		case <-w.stopped:
			return
		case <-c.ctx.Done():
			return
		case <-w.pushes.ready():
			if snap, ok := w.pushes.take(); ok {
				w.apply(snap, "push")
			}
		case <-timer.C:
			snap, err := c.list(c.ctx, w.name, w.clusters, port)
			switch {
			case err != nil:
				if c.ctx.Err() == nil {
					c.log.Warn("poll failed", "service", w.key, "err", err)
				}
			case snap.key != w.key:
				c.log.Warn("server echoed another service; ignored", "service", w.key, "echo", snap.key)
			default:
				w.apply(snap, "poll")
			}
			// Poll on schedule even while pushes arrive: the query is what
			// keeps this client registered for pushes on the server.
			timer.Reset(c.pollDelay(w.latest(), err))
		}
	}
}

// pollDelay is the time to the next poll: the answer's cacheMillis, capped
// by MaxPollInterval; after a failure, at most a second.
func (c *Client) pollDelay(snap *snapshot, err error) time.Duration {
	d := snap.pollPeriod()
	if err != nil || snap == nil {
		d = min(d, time.Second)
	}
	if c.cfg.MaxPollInterval > 0 {
		d = min(d, c.cfg.MaxPollInterval)
	}
	return d
}

// apply takes a new state unless it is older than the one held, and hands
// it to the subscribers when the instances changed.
func (w *watcher) apply(snap *snapshot, source string) {
	w.mu.Lock()
	cur := w.snap
	if cur != nil && snap.lastRefTime > 0 && snap.lastRefTime < cur.lastRefTime {
		w.mu.Unlock()
		w.c.log.Debug("ignoring older data", "service", w.key, "source", source,
			"last_ref_time", snap.lastRefTime, "have", cur.lastRefTime)
		return
	}
	changed := cur == nil || !sameHosts(cur.hosts, snap.hosts)
	w.snap = snap
	if changed {
		for s := range w.subs {
			s.mail.put(snap)
		}
	}
	w.mu.Unlock()
	if changed {
		w.c.log.Debug("service changed", "service", w.key, "source", source, "instances", len(snap.hosts))
		w.c.writeCache(snap)
	}
}

func sameHosts(a, b []Instance) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].equal(b[i]) {
			return false
		}
	}
	return true
}

// mailbox holds the latest value put and signals that one is waiting. A put
// never blocks and replaces a value not yet taken.
type mailbox[T any] struct {
	signal chan struct{}
	// mu guards the fields below.
	mu   sync.Mutex
	v    T
	full bool
}

func (m *mailbox[T]) init() { m.signal = make(chan struct{}, 1) }

func (m *mailbox[T]) put(v T) {
	m.mu.Lock()
	m.v, m.full = v, true
	m.mu.Unlock()
	select {
	case m.signal <- struct{}{}:
	default:
	}
}

func (m *mailbox[T]) take() (T, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.v, m.full
	var zero T
	m.v, m.full = zero, false
	return v, ok
}

func (m *mailbox[T]) ready() <-chan struct{} { return m.signal }

// routePush hands pushed data to the watcher of its service.
func (c *Client) routePush(snap *snapshot) bool {
	c.mu.Lock()
	w := c.watchers[snap.key]
	c.mu.Unlock()
	if w == nil {
		return false
	}
	w.pushes.put(snap)
	return true
}
