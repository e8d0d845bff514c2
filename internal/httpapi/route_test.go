package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/pulse-registry/pulse/internal/httpapi"
	"github.com/pulse-registry/pulse/internal/naming"
)

func TestHandler_Routing(t *testing.T) {
	reg := naming.New(naming.Config{})
	h := httpapi.New(httpapi.Config{Writer: reg, Reader: reg})
	serve := func(method, target string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(method, target, nil))
		return w
	}
	t.Run("fixed paths reach their handler", func(t *testing.T) {
		w := serve("PUT", "/nacos/v1/ns/instance/beat?serviceName=a&ip=1.2.3.4&port=80")
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"code":20404`) {
			t.Errorf("got %d %q, want 200 with code 20404", w.Code, w.Body.String())
		}
		if w := serve("POST", "/nacos/v1/ns/instance/beat"); w.Code != http.StatusNotImplemented {
			t.Errorf("POST beat: got %d, want 501", w.Code)
		}
	})
	t.Run("unclean paths go through the mux", func(t *testing.T) {
		if w := serve("PUT", "/nacos//v1/ns/instance/beat"); w.Code/100 != 3 {
			t.Errorf("got %d, want the mux's redirect", w.Code)
		}
	})
}
