package loadgen

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// CeilingReply is the fixed answer of the ceiling server: what Pulse answers
// to the beat of a known instance.
const CeilingReply = `{"clientBeatInterval":5000,"code":10200,"lightBeatEnabled":true}`

// CeilingHandler is the baseline for the beat path: the least a Go net/http
// server can do to answer a beat.
func CeilingHandler() http.Handler {
	reply := []byte(CeilingReply)
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json;charset=UTF-8")
		_, _ = w.Write(reply)
	})
}

// ServeCeiling serves CeilingHandler on addr (loopback only) until ctx is
// done, with the timeouts Pulse's server uses. ready, when set, is called
// with the bound address.
func ServeCeiling(ctx context.Context, addr string, ready func(net.Addr)) error {
	if err := CheckLoopback(addr); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("ceiling: %w", err)
	}
	srv := &http.Server{
		Handler:           CeilingHandler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	if ready != nil {
		ready(ln.Addr())
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("ceiling: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
