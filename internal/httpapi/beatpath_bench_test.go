package httpapi_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pulse-registry/pulse/internal/httpapi"
	"github.com/pulse-registry/pulse/internal/naming"
)

// nullWriter is the least a ResponseWriter can be, so that the benchmark
// measures the handler and not a recorder.
type nullWriter struct {
	h    http.Header
	code int
	n    int
}

func (w *nullWriter) Header() http.Header         { return w.h }
func (w *nullWriter) WriteHeader(code int)        { w.code = code }
func (w *nullWriter) Write(b []byte) (int, error) { w.n += len(b); return len(b), nil }

// rewindBody is a request body that can be read again.
type rewindBody struct{ strings.Reader }

func (*rewindBody) Close() error { return nil }

// BenchmarkBeatPath measures the API handler serving a nacos-sdk-go beat
// (full JSON body) for a known instance, without the network and net/http's
// connection handling, which the load tool's ceiling covers.
func BenchmarkBeatPath(b *testing.B) {
	reg := naming.New(naming.Config{})
	now := time.Now()
	for i := range 1000 {
		spec := naming.InstanceSpec{IP: "127.0.0." + strconv.Itoa(i%250), Port: 8000 + i, Weight: 1, Healthy: true, Enabled: true, Ephemeral: true}
		if err := reg.Register(naming.ServiceKey{Namespace: "public", Name: "DEFAULT_GROUP@@svc"}, spec, now); err != nil {
			b.Fatal(err)
		}
	}
	h := httpapi.New(httpapi.Config{Writer: reg, Reader: reg})
	form := `serviceName=DEFAULT_GROUP@@svc&beat={"cluster":"DEFAULT","ip":"127.0.0.7","metadata":{},"port":8007,"scheduled":false,"serviceName":"DEFAULT_GROUP@@svc","weight":1}`
	req, err := http.NewRequest("PUT", "http://127.0.0.1:8848/nacos/v1/ns/instance/beat", nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
	req.Header.Set("User-Agent", "Nacos-Go-Client:v1.1.4")
	body := &rewindBody{}
	req.Body = body
	req.ContentLength = int64(len(form))
	w := &nullWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		body.Reset(form)
		clear(w.h)
		h.ServeHTTP(w, req)
	}
	if w.code != 200 || w.n == 0 {
		b.Fatalf("got status %d, %d bytes", w.code, w.n)
	}
}
