package wire

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
)

// UDP push limits.
const (
	// GzipThreshold: payloads of this many bytes or more are gzipped, as
	// Nacos does.
	GzipThreshold = 1024
	// MaxDatagram is the largest datagram Pulse sends: nacos-sdk-go v1.x
	// reads pushes into a 4024-byte buffer and loses anything longer.
	MaxDatagram = 4024
	// MaxSeq bounds push sequence numbers: the Node client parses them as
	// JavaScript numbers, exact only below 2^53.
	MaxSeq = 1<<53 - 1
)

// Push types.
const (
	PushTypeDom     = "dom"
	PushTypeService = "service"
	PushTypeAck     = "push-ack"
)

// gzipPool reuses compressors: each holds about a megabyte of state.
var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed) // a valid level never fails
	return w
}}

// ErrPushTooLarge is returned by EncodePush when even the gzipped packet is
// larger than MaxDatagram.
var ErrPushTooLarge = errors.New("wire: push packet larger than one datagram")

// EncodePush builds the datagram of a push: {"type":"dom","data":<list JSON
// as a string>,"lastRefTime":seq}, gzipped when it is GzipThreshold bytes or
// more. It fails with ErrPushTooLarge when the result would not fit in
// MaxDatagram.
func EncodePush(seq int64, list []byte) ([]byte, error) {
	b := make([]byte, 0, len(list)+len(list)/8+64)
	b = append(b, `{"type":"dom","data":`...)
	b = AppendString(b, string(list))
	b = append(b, `,"lastRefTime":`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, '}')
	if len(b) < GzipThreshold {
		return b, nil
	}
	var z bytes.Buffer
	z.Grow(len(b) / 4)
	zw := gzipPool.Get().(*gzip.Writer)
	zw.Reset(&z)
	_, _ = zw.Write(b)
	_ = zw.Close()
	gzipPool.Put(zw)
	if z.Len() > MaxDatagram {
		return nil, fmt.Errorf("encode push of %d bytes (%d gzipped): %w", len(b), z.Len(), ErrPushTooLarge)
	}
	return z.Bytes(), nil
}

// PushPacket is a decoded push.
type PushPacket struct {
	Type        string `json:"type"`
	Data        string `json:"data"`
	LastRefTime int64  `json:"lastRefTime"`
}

// maxInflated bounds the size of a gunzipped push, against zip bombs.
const maxInflated = 16 << 20

// DecodePush decodes a push datagram, gzipped or not (told by the gzip magic
// bytes 1f 8b).
func DecodePush(datagram []byte) (PushPacket, error) {
	raw, err := Gunzip(datagram)
	if err != nil {
		return PushPacket{}, err
	}
	var p PushPacket
	if err := json.Unmarshal(raw, &p); err != nil {
		return PushPacket{}, fmt.Errorf("decode push: %w", err)
	}
	return p, nil
}

// Gunzip returns b inflated when it starts with the gzip magic bytes, and b
// itself otherwise.
func Gunzip(b []byte) ([]byte, error) {
	if len(b) < 2 || b[0] != 0x1f || b[1] != 0x8b {
		return b, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("gunzip push: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxInflated+1))
	if err != nil {
		return nil, fmt.Errorf("gunzip push: %w", err)
	}
	if len(out) > maxInflated {
		return nil, fmt.Errorf("gunzip push: more than %d bytes", maxInflated)
	}
	return out, nil
}

// Ack is a client's acknowledgement of a push.
type Ack struct {
	Type        string
	LastRefTime int64
}

// DecodeAck decodes an ack datagram. Clients disagree on the type of
// lastRefTime: Java and Go send a string, C# and Node a number. Both are
// accepted.
func DecodeAck(b []byte) (Ack, error) {
	if a, ok := decodeAckFast(string(b)); ok {
		return a, nil
	}
	return decodeAckGeneral(b)
}

// decodeAckFast decodes the acks clients send — a flat object of ASCII
// strings and numbers with an integer lastRefTime, as a string or a number —
// without encoding/json: a change fanned out to thousands of clients brings
// their acks back at once, and the reader must keep up with the socket. It
// reports false for anything else, which decodeAckGeneral then decides.
func decodeAckFast(s string) (Ack, bool) {
	p := scanner{s: s}
	if !p.byte('{') {
		return Ack{}, false
	}
	var a Ack
	var seenType, seenSeq bool
	for first := true; ; first = false {
		if p.byte('}') {
			break
		}
		if !first && !p.byte(',') {
			return Ack{}, false
		}
		key, ok := p.str()
		if !ok || !p.byte(':') {
			return Ack{}, false
		}
		switch key {
		case "type":
			if seenType {
				return Ack{}, false
			}
			seenType = true
			if a.Type, ok = p.str(); !ok {
				return Ack{}, false
			}
		case "lastRefTime":
			if seenSeq {
				return Ack{}, false
			}
			seenSeq = true
			var v string
			if p.space(); p.i < len(p.s) && p.s[p.i] == '"' {
				v, ok = p.str()
			} else {
				v, ok = p.number()
			}
			var err error
			if !ok {
				return Ack{}, false
			}
			if a.LastRefTime, err = strconv.ParseInt(v, 10, 64); err != nil {
				return Ack{}, false
			}
		default:
			if strings.EqualFold(key, "type") || strings.EqualFold(key, "lastRefTime") || !p.scalar() {
				return Ack{}, false
			}
		}
	}
	p.space()
	return a, seenSeq && p.i == len(p.s)
}

// decodeAckGeneral decodes any ack with encoding/json.
func decodeAckGeneral(b []byte) (Ack, error) {
	var j struct {
		Type        string          `json:"type"`
		LastRefTime json.RawMessage `json:"lastRefTime"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return Ack{}, fmt.Errorf("decode ack: %w", err)
	}
	s := strings.TrimSpace(string(j.LastRefTime))
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(j.LastRefTime, &s); err != nil {
			return Ack{}, fmt.Errorf("decode ack: %w", err)
		}
		s = strings.TrimSpace(s)
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		// Node echoes a number, which may be written in float form.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != float64(int64(f)) {
			return Ack{}, fmt.Errorf("decode ack: lastRefTime %q is not an integer", s)
		}
		n = int64(f)
	}
	return Ack{Type: j.Type, LastRefTime: n}, nil
}

// AppendAck appends the ack a client sends for a push, in the Go and Java
// clients' form (lastRefTime as a string).
func AppendAck(b []byte, seq int64) []byte {
	b = append(b, `{"type":"push-ack","lastRefTime":"`...)
	b = strconv.AppendInt(b, seq, 10)
	return append(b, `","data":""}`...)
}
