package naming

import "errors"

// Sentinel errors returned by the registry. Callers test them with errors.Is.
var (
	ErrServiceNotFound  = errors.New("naming: service not found")
	ErrServiceExists    = errors.New("naming: service already exists")
	ErrInstanceNotFound = errors.New("naming: instance not found")
	ErrClusterNotFound  = errors.New("naming: cluster not found")
	// ErrFull: the registry holds Config.MaxInstances instances.
	ErrFull = errors.New("naming: registry full")
)

// InvalidError reports input that breaks a naming rule. Msg is the text a
// Nacos server would answer, so the HTTP layer can send it as is.
type InvalidError struct {
	Param string // the request parameter at fault, e.g. "serviceName"
	Msg   string
}

func (e *InvalidError) Error() string { return e.Msg }

func invalid(param, msg string) error { return &InvalidError{Param: param, Msg: msg} }
