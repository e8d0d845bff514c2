package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/pulse-registry/pulse/internal/wire"
)

// maxDatagram is the receive buffer: the largest UDP payload, so that no
// push is ever truncated.
const maxDatagram = 64 << 10

// pushPort returns the port of the push socket, opening the socket and
// starting its receiver on first use.
func (c *Client) pushPort() (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, ErrClosed
	}
	if c.conn == nil {
		conn, err := net.ListenUDP("udp", &net.UDPAddr{Port: c.cfg.UDPPort})
		if err != nil {
			return 0, fmt.Errorf("client: open push socket: %w", err)
		}
		c.conn = conn
		c.wg.Go(func() { c.receive(conn) })
		c.log.Debug("push socket open", "addr", conn.LocalAddr().String())
	}
	return c.conn.LocalAddr().(*net.UDPAddr).Port, nil
}

// receive reads pushes until the socket closes. For each push of a service
// from an accepted source it sends the ack on the same socket to the
// datagram's source, then hands the data to the service's watcher without
// waiting for it.
func (c *Client) receive(conn *net.UDPConn) {
	if !c.cfg.PushFromAny {
		c.lookUpServers()
	}
	buf := make([]byte, maxDatagram)
	for {
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || c.ctx.Err() != nil {
				return
			}
			c.log.Warn("read push", "err", err)
			// A socket error that repeats must not spin the loop.
			select {
			case <-c.ctx.Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		if c.dropPushes.Load() {
			continue
		}
		if !c.pushAllowed(from.Addr()) {
			// No ack, no log line per datagram: a stranger gets nothing,
			// and a flood costs a counter.
			if c.pushFrom.rejected.Add(1) == 1 {
				c.log.Info("dropping pushes from an address that is no server; see Config.PushFromAny", "from", from.Addr().String())
			}
			continue
		}
		c.handlePush(conn, from, buf[:n])
	}
}

func (c *Client) handlePush(conn *net.UDPConn, from netip.AddrPort, datagram []byte) {
	pkt, err := wire.DecodePush(datagram)
	if err != nil {
		c.log.Warn("undecodable push", "from", from.String(), "err", err)
		return // no ack: the server sends it again or the poll catches up
	}
	// A "dump" gets the unknown-ack too: servers never ask for one, and the
	// cache is nobody else's business.
	var ack []byte
	switch pkt.Type {
	case wire.PushTypeDom, wire.PushTypeService:
		ack = wire.AppendAck(nil, pkt.LastRefTime)
	default:
		ack = unknownAck(pkt.LastRefTime)
	}
	if _, err := conn.WriteToUDPAddrPort(ack, from); err != nil {
		c.log.Warn("send push ack", "to", from.String(), "err", err)
	}
	if pkt.Type != wire.PushTypeDom && pkt.Type != wire.PushTypeService {
		return
	}
	snap, err := decodeList([]byte(pkt.Data))
	if err != nil {
		c.log.Warn("push with bad data", "from", from.String(), "err", err)
		return
	}
	if !c.routePush(snap) {
		c.log.Debug("push for a service not subscribed", "service", snap.key)
	}
}

func unknownAck(seq int64) []byte {
	b, _ := json.Marshal(struct {
		Type        string `json:"type"`
		LastRefTime string `json:"lastRefTime"`
		Data        string `json:"data"`
	}{"unknown-ack", strconv.FormatInt(seq, 10), ""})
	return b
}

// lookUpEvery bounds how often a datagram from an unknown address makes the
// client look the servers up again: a flood costs one lookup per period.
const lookUpEvery = 30 * time.Second

// pushSources are the addresses pushes are taken from. The receiver
// goroutine alone reads and writes them; the counters are for tests.
type pushSources struct {
	byHost   map[string][]netip.Addr // server host: its addresses, unmapped, no zone
	lookedUp time.Time               // zero before the first lookup
	lookups  atomic.Int32
	rejected atomic.Int64
}

// pushAllowed reports whether a datagram from addr may be read as a push.
func (c *Client) pushAllowed(addr netip.Addr) bool {
	if c.cfg.PushFromAny {
		return true
	}
	addr = addr.Unmap().WithZone("")
	if c.pushFrom.has(addr) {
		return true
	}
	if c.now().Sub(c.pushFrom.lookedUp) < lookUpEvery {
		return false
	}
	c.lookUpServers() // a server may have moved
	return c.pushFrom.has(addr)
}

func (p *pushSources) has(addr netip.Addr) bool {
	for _, as := range p.byHost {
		if slices.Contains(as, addr) {
			return true
		}
	}
	return false
}

// lookUpServers resolves every server's host, within the client's timeout.
// A host that fails to resolve keeps the addresses it had.
func (c *Client) lookUpServers() {
	p := &c.pushFrom
	p.lookups.Add(1)
	p.lookedUp = c.now()
	if p.byHost == nil {
		p.byHost = map[string][]netip.Addr{}
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.Timeout)
	defer cancel()
	for _, srv := range c.servers {
		if a, err := netip.ParseAddr(srv.host); err == nil {
			p.byHost[srv.host] = []netip.Addr{a.Unmap().WithZone("")}
			continue
		}
		as, err := net.DefaultResolver.LookupNetIP(ctx, "ip", srv.host)
		if err != nil {
			if c.ctx.Err() == nil {
				c.log.Warn("look up server for pushes", "host", srv.host, "err", err)
			}
			continue
		}
		for i, a := range as {
			as[i] = a.Unmap().WithZone("")
		}
		p.byHost[srv.host] = as
	}
}
