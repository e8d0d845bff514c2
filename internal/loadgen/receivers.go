package loadgen

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pulse-registry/pulse/internal/wire"
)

// Receivers are loopback UDP subscribers that ack every push at once, as
// clients do, and note when each first saw the current round. The push
// scenario and the push package's fan-out benchmark both measure with them.
//
// One goroutine drives the rounds: Next, then the change, then Wait.
type Receivers struct {
	conns []*net.UDPConn
	addrs []netip.AddrPort
	round atomic.Int64
	seen  []atomic.Int64 // round each receiver last saw
	at    []atomic.Int64 // unix ns of that receipt
	done  atomic.Int64
	bad   atomic.Int64
	want  int64 // receipts that complete the current round
	wg    sync.WaitGroup

	// mu guards the field below.
	mu   sync.Mutex
	last []byte // the last datagram receiver 0 got
}

// NewReceivers opens n sockets on 127.0.0.1 and serves each in its own
// goroutine until Close.
func NewReceivers(n int) (*Receivers, error) {
	r := &Receivers{seen: make([]atomic.Int64, n), at: make([]atomic.Int64, n)}
	for i := range n {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("open UDP socket %d of %d (raise ulimit -n?): %w", i+1, n, err)
		}
		r.conns = append(r.conns, c)
		r.addrs = append(r.addrs, c.LocalAddr().(*net.UDPAddr).AddrPort())
		r.wg.Go(func() { r.serve(i, c) })
	}
	return r, nil
}

// Close closes the sockets and waits for their goroutines.
func (r *Receivers) Close() {
	for _, c := range r.conns {
		c.Close()
	}
	r.wg.Wait()
}

// Len is the number of receivers.
func (r *Receivers) Len() int { return len(r.conns) }

// Port is receiver i's UDP port, the udpPort of its subscription.
func (r *Receivers) Port(i int) int { return int(r.addrs[i].Port()) }

// Dropped counts the datagrams that were not a push.
func (r *Receivers) Dropped() int64 { return r.bad.Load() }

// Last returns a copy of the last datagram the first receiver got, nil
// before any: a baseline can send the very bytes of the last push.
func (r *Receivers) Last() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return bytes.Clone(r.last)
}

// Next starts a round: from now on each receiver's first datagram counts
// for it. Call it before making the change.
func (r *Receivers) Next() {
	r.want = r.round.Add(1) * int64(len(r.conns))
}

// Wait blocks until every receiver saw the round started by Next, or limit
// passes, and returns each receiver's delay since start, sorted.
func (r *Receivers) Wait(ctx context.Context, start time.Time, limit time.Duration) ([]time.Duration, error) {
	deadline := time.Now().Add(limit)
	for r.done.Load() < r.want {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return nil, fmt.Errorf("only %d of %d subscribers got it within %v", int64(len(r.at))-(r.want-r.done.Load()), len(r.at), limit)
		}
		time.Sleep(200 * time.Microsecond)
	}
	d := make([]time.Duration, len(r.at))
	for i := range r.at {
		d[i] = time.Duration(r.at[i].Load() - start.UnixNano())
	}
	slices.Sort(d)
	return d, nil
}

var seqKey = []byte(`"lastRefTime":`)

func (r *Receivers) serve(i int, c *net.UDPConn) {
	buf := make([]byte, 64<<10)
	var ack, plain []byte
	var zr *gzip.Reader
	var br bytes.Reader
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		now := time.Now().UnixNano()
		if i == 0 {
			r.mu.Lock()
			r.last = append(r.last[:0], buf[:n]...)
			r.mu.Unlock()
		}
		// Gunzip the packet and read the sequence number at its end, as a
		// client does before acking; the generator shares the cores with
		// the server, so it reuses its buffers and skips decoding the rest.
		pkt := buf[:n]
		if n > 2 && pkt[0] == 0x1f && pkt[1] == 0x8b {
			br.Reset(pkt)
			if zr == nil {
				zr, err = gzip.NewReader(&br)
			} else {
				err = zr.Reset(&br)
			}
			if err == nil {
				plain, err = readInto(plain[:0], zr, 1<<20)
			}
			pkt = plain
		}
		k := bytes.LastIndex(pkt, seqKey)
		var seq int64
		if err == nil && k >= 0 {
			seq, err = strconv.ParseInt(string(bytes.TrimRight(pkt[k+len(seqKey):], "}")), 10, 64)
		}
		if err != nil || k < 0 {
			r.bad.Add(1)
			continue
		}
		ack = wire.AppendAck(ack[:0], seq)
		_, _ = c.WriteToUDPAddrPort(ack, from)
		if cur := r.round.Load(); r.seen[i].Swap(cur) != cur {
			r.at[i].Store(now)
			r.done.Add(1)
		}
	}
}

// readInto appends what r yields to dst, up to limit bytes.
func readInto(dst []byte, r io.Reader, limit int) ([]byte, error) {
	for {
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, 4096)
		}
		n, err := r.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		switch {
		case err == io.EOF:
			return dst, nil
		case err != nil:
			return dst, err
		case len(dst) > limit:
			return dst, fmt.Errorf("packet inflates to more than %d bytes", limit)
		}
	}
}

// RawSender is the baseline of a push fan-out: a plain socket that sends
// one ready-made datagram to every receiver and reads their acks, as the
// server's push socket does, but with nothing else to do.
type RawSender struct {
	conn *net.UDPConn
	wg   sync.WaitGroup
}

// NewRawSender opens the socket and starts draining the acks until Close.
func NewRawSender() (*RawSender, error) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("baseline socket: %w", err)
	}
	_ = conn.SetReadBuffer(4 << 20)
	s := &RawSender{conn: conn}
	s.wg.Go(func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := conn.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	})
	return s, nil
}

// Close closes the socket and waits for the ack reader.
func (s *RawSender) Close() {
	s.conn.Close()
	s.wg.Wait()
}

// Round sends pkt to every receiver of r as one round and returns the
// receipt delays, sorted, as Wait does.
func (s *RawSender) Round(ctx context.Context, pkt []byte, r *Receivers, limit time.Duration) ([]time.Duration, error) {
	r.Next()
	start := time.Now()
	for _, a := range r.addrs {
		_, _ = s.conn.WriteToUDPAddrPort(pkt, a)
	}
	d, err := r.Wait(ctx, start, limit)
	if err != nil {
		return nil, fmt.Errorf("baseline: %w", err)
	}
	return d, nil
}
