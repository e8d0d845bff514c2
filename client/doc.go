// Package client is the Go client of Pulse, and of any Nacos 1.x naming
// server: it registers instances and keeps them alive with heartbeats, reads
// and selects instances, and subscribes to changes, which the server pushes
// over UDP and the client also polls for.
//
// # Registering
//
// RegisterInstance registers an instance. An ephemeral instance (the
// default) then gets a heartbeat loop that runs until DeregisterInstance or
// Close: the first beat goes out at once, each later one after the interval
// the server asked for (clientBeatInterval). Once the server allows light
// beats, beats carry only ip, port and cluster; when the server answers
// that it does not know the instance (code 20404, after a restart for
// example), the client registers it again. A beat that fails is logged and
// the next one follows on schedule; there is never more than one beat in
// flight per instance.
//
// # Reading and subscribing
//
// Instances, HealthyInstances and SelectOne ask the server, or answer from
// memory when a subscription keeps the same service up to date. Subscribe
// calls a function with the new instance list and what changed, only when
// something did change. Each subscription has its own delivery goroutine
// that keeps only the latest state, so a slow callback delays nobody else.
//
// Subscriptions open one UDP socket per client and announce its port on
// their list queries; the server pushes changes to it and the client
// acknowledges each push. It takes pushes only from the addresses its
// servers resolve to, unless Config.PushFromAny is set. Because UDP may be
// lost, subscriptions also poll the server every cacheMillis, the period
// the server's answer names.
//
// # Servers, failover and cache
//
// With several servers, a request that fails on one (no connection, a
// timeout or a 5xx answer) is tried on the next, and the client stays with
// the server that answered. With a CacheDir, each subscribed service's last
// answer is kept on disk, and a subscription that starts while no server
// answers begins with it.
//
// # Lifetime
//
// A Client is safe for concurrent use. It starts goroutines for heartbeats,
// subscriptions and the UDP socket, and Close stops them all and waits for
// them. Close does not deregister: instances that stop beating expire on
// the server.
package client
