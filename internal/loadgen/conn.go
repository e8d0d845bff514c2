package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"time"
)

// conn is a minimal HTTP/1.1 keep-alive client connection. The generator
// shares the machine's cores with the server it measures, so it writes
// ready-made request bytes and reads replies into reused buffers instead of
// going through net/http's client, which costs several times more per
// request. It handles what a Go net/http server sends: Content-Length or
// chunked bodies, and Connection: close.
type conn struct {
	addr string
	c    net.Conn
	br   *bufio.Reader
	body []byte
	// timeout bounds one request and its reply.
	timeout time.Duration
}

func newConn(addr string, timeout time.Duration) *conn {
	return &conn{addr: addr, timeout: timeout}
}

func (c *conn) close() {
	if c.c != nil {
		c.c.Close()
		c.c = nil
	}
}

// errStatus is returned with a reply whose status is not 200.
type errStatus struct {
	code int
	body string
}

func (e *errStatus) Error() string {
	return fmt.Sprintf("HTTP %d: %.200s", e.code, e.body)
}

// do sends req, a whole HTTP/1.1 request, and returns the reply's body,
// valid until the next call. A reply other than 200 is an *errStatus. A
// request that fails on a reused connection is tried once more on a fresh
// one, as net/http does for idempotent requests.
func (c *conn) do(req []byte) ([]byte, error) {
	reused := c.c != nil
	body, err := c.roundTrip(req)
	var st *errStatus
	if err != nil && !errors.As(err, &st) {
		c.close()
		if reused {
			body, err = c.roundTrip(req)
			if err != nil && !errors.As(err, &st) {
				c.close()
			}
		}
	}
	return body, err
}

func (c *conn) roundTrip(req []byte) ([]byte, error) {
	if c.c == nil {
		nc, err := net.DialTimeout("tcp", c.addr, c.timeout)
		if err != nil {
			return nil, fmt.Errorf("dial %s: %w", c.addr, err)
		}
		c.c = nc
		if c.br == nil {
			c.br = bufio.NewReaderSize(nc, 16<<10)
		} else {
			c.br.Reset(nc)
		}
	}
	if err := c.c.SetDeadline(time.Now().Add(c.timeout)); err != nil {
		return nil, fmt.Errorf("set deadline: %w", err)
	}
	if _, err := c.c.Write(req); err != nil {
		return nil, fmt.Errorf("write request: %w", err)
	}
	return c.readReply()
}

func (c *conn) readReply() ([]byte, error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return nil, fmt.Errorf("read status line: %w", err)
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return nil, fmt.Errorf("bad status line %q", line)
	}
	code, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return nil, fmt.Errorf("bad status line %q", line)
	}
	length, chunked, closing := -1, false, false
	for {
		h, err := c.br.ReadSlice('\n')
		if err != nil {
			return nil, fmt.Errorf("read header: %w", err)
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		k, v, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case asciiEqualFold(k, "Content-Length"):
			if length, err = strconv.Atoi(string(v)); err != nil || length < 0 {
				return nil, fmt.Errorf("bad Content-Length %q", v)
			}
		case asciiEqualFold(k, "Transfer-Encoding"):
			chunked = asciiEqualFold(v, "chunked")
		case asciiEqualFold(k, "Connection"):
			closing = asciiEqualFold(v, "close")
		}
	}
	c.body = c.body[:0]
	switch {
	case chunked:
		err = c.readChunked()
	case length >= 0:
		err = c.readN(length)
	default:
		_, err = c.br.Discard(c.br.Buffered()) // no framing: not from a Go server
		closing = true
	}
	if err != nil {
		return nil, err
	}
	if closing {
		c.close()
	}
	if code != 200 {
		return c.body, &errStatus{code: code, body: string(c.body)}
	}
	return c.body, nil
}

func (c *conn) readN(n int) error {
	if cap(c.body) < n {
		c.body = make([]byte, 0, n)
	}
	c.body = c.body[:n]
	if _, err := io.ReadFull(c.br, c.body); err != nil {
		return fmt.Errorf("read body: %w", err)
	}
	return nil
}

func (c *conn) readChunked() error {
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return fmt.Errorf("read chunk size: %w", err)
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseUint(string(line), 16, 31)
		if err != nil {
			return fmt.Errorf("bad chunk size %q", line)
		}
		if n == 0 {
			// Trailers, then the blank line.
			for {
				t, err := c.br.ReadSlice('\n')
				if err != nil {
					return fmt.Errorf("read trailer: %w", err)
				}
				if len(bytes.TrimRight(t, "\r\n")) == 0 {
					return nil
				}
			}
		}
		start := len(c.body)
		c.body = slices.Grow(c.body, int(n))[:start+int(n)]
		if _, err := io.ReadFull(c.br, c.body[start:]); err != nil {
			return fmt.Errorf("read chunk: %w", err)
		}
		if _, err := c.br.Discard(2); err != nil { // CRLF after the chunk
			return fmt.Errorf("read chunk end: %w", err)
		}
	}
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
