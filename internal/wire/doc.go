// Package wire holds the Nacos 1.x wire formats Pulse speaks: the JSON
// shapes of the naming API (the instance list, the beat body and reply, the
// service and operator documents), the UDP push packet and its ack, and the
// client-agent strings. It has no behaviour beyond encoding and decoding.
//
// The instance list is encoded by hand, appending to a byte slice, because it
// is on the hot path of every poll and every push; everything else uses
// encoding/json with the struct tags below.
package wire
