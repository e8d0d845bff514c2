package push

import "time"

// dueHeap is a binary min-heap of entries ordered by when they are due:
// resends, and the trailing rounds of merged changes.
type dueHeap[T any] []dueEntry[T]

type dueEntry[T any] struct {
	due time.Time
	v   T
}

func (h *dueHeap[T]) push(due time.Time, v T) {
	*h = append(*h, dueEntry[T]{due, v})
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

// dueBy reports whether the earliest entry is due at now.
func (h dueHeap[T]) dueBy(now time.Time) bool { return len(h) > 0 && !now.Before(h[0].due) }

// next returns the earliest due time, zero when empty.
func (h dueHeap[T]) next() time.Time {
	if len(h) == 0 {
		return time.Time{}
	}
	return h[0].due
}

func (h *dueHeap[T]) pop() dueEntry[T] {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a[n] = dueEntry[T]{}
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
