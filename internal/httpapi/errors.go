package httpapi

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/pulse-registry/pulse/internal/naming"
	"github.com/pulse-registry/pulse/internal/switches"
)

// statusError is an error with the HTTP status and the plain-text message a
// Nacos server would answer. Handlers wrap core errors in one when the
// endpoint has its own wording; everything else is mapped by errorReply.
type statusError struct {
	status int
	msg    string
	err    error
}

func (e *statusError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg
}

func (e *statusError) Unwrap() error { return e.err }

func badRequest(msg string) error { return &statusError{status: http.StatusBadRequest, msg: msg} }

func withStatus(status int, msg string, err error) error {
	return &statusError{status: status, msg: msg, err: err}
}

// errorReply is the one place where errors become HTTP answers.
func errorReply(err error) (int, string) {
	var se *statusError
	var ie *naming.InvalidError
	var swe *switches.Error
	switch {
	case errors.As(err, &se):
		return se.status, se.msg
	case errors.As(err, &ie):
		return http.StatusBadRequest, ie.Msg
	case errors.As(err, &swe):
		return http.StatusBadRequest, swe.Msg
	case errors.Is(err, naming.ErrServiceNotFound):
		return http.StatusNotFound, "service not found"
	case errors.Is(err, naming.ErrClusterNotFound):
		return http.StatusNotFound, "cluster not found"
	case errors.Is(err, naming.ErrInstanceNotFound):
		return http.StatusNotFound, "instance not found"
	case errors.Is(err, naming.ErrServiceExists):
		return http.StatusBadRequest, "service already exists"
	case errors.Is(err, naming.ErrFull):
		return http.StatusServiceUnavailable, "registry full: no more instances can be registered"
	}
	// Nacos renders unexpected exceptions as "caused: <msg>;". A Go error's
	// text already carries its whole chain.
	return http.StatusInternalServerError, "caused: " + err.Error() + ";"
}

func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := errorReply(err)
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelError
	}
	h.log.Log(r.Context(), level, "request failed", "method", r.Method, "path", r.URL.Path, "status", status, "err", err)
	writeText(w, status, msg)
}

func writeText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain;charset=UTF-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg))
}
