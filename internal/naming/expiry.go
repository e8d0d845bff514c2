package naming

import (
	"time"
)

// Expiry of ephemeral instances works on exact deadlines instead of Nacos'
// sweep every 5 s. Each ephemeral instance has one entry in a min-heap, keyed
// by the earliest moment it could need a transition. A beat only stores the
// new beat time; it does not touch the heap. When an entry surfaces, its
// instance's real deadline is recomputed from its last beat: if that is still
// ahead the entry goes back in, otherwise the transition is applied. So a beat
// costs O(1), and each instance costs O(log n) heap work at most once per
// timeout period.

// TransitionKind says what expiry did to an instance.
type TransitionKind uint8

const (
	// BecameUnhealthy: no beat for the heartbeat timeout.
	BecameUnhealthy TransitionKind = iota + 1
	// Expired: no beat for the delete timeout; the instance was removed.
	Expired
)

func (k TransitionKind) String() string {
	switch k {
	case BecameUnhealthy:
		return "unhealthy"
	case Expired:
		return "expired"
	}
	return "unknown"
}

// Transition is one change made by expiry.
type Transition struct {
	Key      ServiceKey
	Cluster  string
	IP       string
	Port     int
	Kind     TransitionKind
	Deadline time.Time // when the transition was due
}

// expireBatch bounds the work done under one hold of the write lock, so that
// a mass expiry does not stall beats and queries.
const expireBatch = 2048

type entry struct {
	when int64     // unix ns
	in   *instance // in the expiry heap
	svc  *service  // in the cleanup heap
}

// deadlineHeap is a binary min-heap on when.
type deadlineHeap []entry

func (h *deadlineHeap) push(e entry) {
	*h = append(*h, e)
	a := *h
	i := len(a) - 1
	for i > 0 {
		p := (i - 1) / 2
		if a[p].when <= a[i].when {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *deadlineHeap) pop() entry {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a[n] = entry{}
	a = a[:n]
	i := 0
	for {
		l := 2*i + 1
		if l >= n {
			break
		}
		m := l
		if r := l + 1; r < n && a[r].when < a[l].when {
			m = r
		}
		if a[i].when <= a[m].when {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}

// Wake returns a channel that receives a value when an earlier deadline than
// the previous earliest one was scheduled, so that the health checker can
// re-arm its timer. It has capacity 1 and is never closed.
func (r *Registry) Wake() <-chan struct{} { return r.wake }

// pushLocked adds e to h and wakes the checker if e is now h's earliest.
func (r *Registry) pushLocked(h *deadlineHeap, e entry) {
	h.push(e)
	if (*h)[0].when == e.when {
		r.signal()
	}
}

func (r *Registry) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// scheduleLocked makes sure in has a heap entry no later than its next
// deadline. A later deadline needs nothing: the early entry will surface,
// find the instance beaten and go back in.
func (r *Registry) scheduleLocked(in *instance) {
	if in.removed || in.marked {
		return
	}
	d := in.deadline()
	if in.due != 0 && in.due <= d {
		return
	}
	in.due = d
	r.pushLocked(&r.expiry, entry{when: d, in: in})
}

// deadline is the moment in needs its next transition.
func (in *instance) deadline() int64 {
	t := in.timing.Value()
	lb := in.lastBeat.Load()
	del := lb + int64(t.DeleteTimeout)
	if in.healthy {
		return min(lb+int64(t.BeatTimeout), del)
	}
	return del
}

// NextDeadline returns the earliest scheduled deadline, zero if none.
func (r *Registry) NextDeadline() time.Time {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if len(r.expiry) == 0 {
		return time.Time{}
	}
	return time.Unix(0, r.expiry[0].when)
}

// ExpireDue applies every transition due at now: instances without a beat
// for their heartbeat timeout turn unhealthy, and those without one for
// their delete timeout are removed. It appends the transitions to out and
// returns it with the next deadline (zero when nothing is scheduled).
func (r *Registry) ExpireDue(now time.Time, out []Transition) ([]Transition, time.Time) {
	nowNS := now.UnixNano()
	for {
		var ch changes
		r.mu.Lock()
		n := 0
		for len(r.expiry) > 0 && r.expiry[0].when <= nowNS && n < expireBatch {
			e := r.expiry.pop()
			n++
			out = r.expireLocked(e, nowNS, now, &ch, out)
		}
		more := len(r.expiry) > 0 && r.expiry[0].when <= nowNS
		var next time.Time
		if len(r.expiry) > 0 {
			next = time.Unix(0, r.expiry[0].when)
		}
		r.mu.Unlock()
		r.notify(ch)
		if !more {
			return out, next
		}
	}
}

func (r *Registry) expireLocked(e entry, nowNS int64, now time.Time, ch *changes, out []Transition) []Transition {
	in := e.in
	if in.due != e.when {
		return out // stale: a newer entry exists
	}
	in.due = 0
	if in.removed || in.marked || !in.ephemeral {
		return out
	}
	t := in.timing.Value()
	lb := in.lastBeat.Load()
	svc := in.cluster.svc
	tr := Transition{Key: svc.key, Cluster: in.cluster.name, IP: in.ip, Port: int(in.port)}
	switch {
	case lb+int64(t.DeleteTimeout) <= nowNS:
		tr.Kind, tr.Deadline = Expired, time.Unix(0, lb+int64(t.DeleteTimeout))
		r.removeLocked(in, now, ch)
		return append(out, tr)
	case in.healthy && lb+int64(t.BeatTimeout) <= nowNS:
		in.healthy = false
		bumpLocked(svc, now, ch)
		tr.Kind, tr.Deadline = BecameUnhealthy, time.Unix(0, lb+int64(t.BeatTimeout))
		out = append(out, tr)
	}
	r.scheduleLocked(in)
	return out
}

// Housekeep drops implicit services that have stayed empty for their TTL
// and forgets deregistration graces that are over. Unlike ExpireDue it runs
// whether or not health checking is on. It returns when it next has work,
// zero when it has none.
func (r *Registry) Housekeep(now time.Time) time.Time {
	nowNS := now.UnixNano()
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.cleanup) > 0 && r.cleanup[0].when <= nowNS {
		s := r.cleanup.pop().svc
		s.queued = false
		if s.removed || s.explicit || s.count > 0 {
			continue
		}
		// Emptied again since it was queued: its TTL counts from then.
		if due := s.emptySince + int64(r.emptyTTL); due > nowNS {
			s.queued = true
			r.cleanup.push(entry{when: due, svc: s})
			continue
		}
		r.deleteServiceLocked(s)
	}
	if len(r.tombs) > 0 && nowNS >= r.tombSweep {
		for k, until := range r.tombs {
			if nowNS >= until {
				delete(r.tombs, k)
			}
		}
		r.tombSweep = nowNS + int64(r.grace)
	}
	var next int64
	if len(r.cleanup) > 0 {
		next = r.cleanup[0].when
	}
	if len(r.tombs) > 0 && (next == 0 || r.tombSweep < next) {
		next = r.tombSweep
	}
	if next == 0 {
		return time.Time{}
	}
	return time.Unix(0, next)
}
