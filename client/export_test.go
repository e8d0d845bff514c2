package client

import (
	"net"
	"net/netip"
	"time"
)

// Test hooks, visible to the external tests of this package only.

// PushAddr returns the loopback address of the push socket, opening it.
func (c *Client) PushAddr() netip.AddrPort {
	if _, err := c.pushPort(); err != nil {
		panic(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	port := c.conn.LocalAddr().(*net.UDPAddr).Port
	return netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))
}

// DropPushes makes the push receiver discard every datagram, as if UDP lost
// them, or stops doing so.
func (c *Client) DropPushes(drop bool) { c.dropPushes.Store(drop) }

// HaltBeats stops every heartbeat loop without deregistering, as if the
// process had died, and waits for the loops to end.
func (c *Client) HaltBeats() {
	c.mu.Lock()
	var bs []*beat
	for k, b := range c.beats {
		bs = append(bs, b)
		delete(c.beats, k)
	}
	c.mu.Unlock()
	for _, b := range bs {
		b.stop()
		<-b.done
	}
}

// BeatLoops returns the number of beat goroutines running.
func (c *Client) BeatLoops() int { return int(c.beatLoops.Load()) }

// WatchLoops returns the number of watcher goroutines running: each polls
// one service.
func (c *Client) WatchLoops() int { return int(c.watchLoops.Load()) }

// SetNow replaces the clock the client reads for token lifetimes and for
// the age of its lookup of push sources. Call it before the first request.
func (c *Client) SetNow(now func() time.Time) { c.now = now }

// PushesRejected returns the number of datagrams dropped because they came
// from an address that is no server's.
func (c *Client) PushesRejected() int64 { return c.pushFrom.rejected.Load() }

// PushSourceLookups returns the number of times the receiver looked up the
// servers' addresses.
func (c *Client) PushSourceLookups() int { return int(c.pushFrom.lookups.Load()) }
