// Package gosdk runs the real nacos-sdk-go v1.1.4 naming client against
// Pulse servers started from this repository. It lives in its own module so
// that the main module never depends on the SDK; everything is in its tests.
//
// Two properties of the SDK shape the harness:
//   - A naming client has no Close: its beat, poll and push goroutines run
//     until the process exits. So the servers the clients talk to stay up
//     until TestMain ends, and the SDK's cache directories live under one
//     temporary root removed at the very end.
//   - Its logger is a process-wide global that every new client replaces.
//     So all in-process clients log to one shared directory; each test scans
//     the lines written while it ran, and TestMain scans the whole file
//     before exiting. Child processes (crash and restart tests) have their
//     own log directories.
package gosdk
