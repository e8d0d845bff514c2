// Package naming is the registry core of Pulse: namespaces, groups,
// services, clusters and instances, kept in memory.
//
// It does no I/O, starts no goroutines and takes the current time as an
// argument, so that the HTTP API, the health checker and (later) the raft
// state machine can all drive it and tests can control time. A *Registry is
// safe for concurrent use. Changes are announced through a [Notifier], called
// after the registry's lock is released; a Notifier must not block.
//
// Names follow Nacos 1.x: a blank namespace is "public", services are stored
// under their grouped name "group@@service", the default group is
// DEFAULT_GROUP and the default cluster DEFAULT.
package naming
