package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
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
// it sends the ack on the same socket to the datagram's source, then hands
// the data to the service's watcher without waiting for it.
func (c *Client) receive(conn *net.UDPConn) {
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
		c.handlePush(conn, from, buf[:n])
	}
}

func (c *Client) handlePush(conn *net.UDPConn, from netip.AddrPort, datagram []byte) {
	pkt, err := wire.DecodePush(datagram)
	if err != nil {
		c.log.Warn("undecodable push", "from", from.String(), "err", err)
		return // no ack: the server sends it again or the poll catches up
	}
	var ack []byte
	switch pkt.Type {
	case wire.PushTypeDom, wire.PushTypeService:
		ack = wire.AppendAck(nil, pkt.LastRefTime)
	case "dump":
		ack = c.dumpAck(pkt.LastRefTime)
	default:
		ack = otherAck("unknown-ack", pkt.LastRefTime, "")
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

func otherAck(typ string, seq int64, data string) []byte {
	b, _ := json.Marshal(struct {
		Type        string `json:"type"`
		LastRefTime string `json:"lastRefTime"`
		Data        string `json:"data"`
	}{typ, strconv.FormatInt(seq, 10), data})
	return b
}

// dumpAck answers a dump request with the client's cache: a JSON object
// from cache key to the service's last answer.
func (c *Client) dumpAck(seq int64) []byte {
	c.mu.Lock()
	ws := make([]*watcher, 0, len(c.watchers))
	for _, w := range c.watchers {
		ws = append(ws, w)
	}
	c.mu.Unlock()
	dump := map[string]json.RawMessage{}
	for _, w := range ws {
		if snap := w.latest(); snap != nil && json.Valid(snap.raw) {
			dump[w.key] = snap.raw
		}
	}
	b, _ := json.Marshal(dump)
	return otherAck("dump-ack", seq, string(b))
}
