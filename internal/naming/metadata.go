package naming

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unique"
)

// Preserved metadata keys that change how Pulse treats an instance.
const (
	MetaBeatInterval  = "preserved.heart.beat.interval"
	MetaBeatTimeout   = "preserved.heart.beat.timeout"
	MetaDeleteTimeout = "preserved.ip.delete.timeout"
	MetaIDGenerator   = "preserved.instance.id.generator"
)

// Nacos defaults for ephemeral instances.
const (
	DefaultBeatInterval  = 5 * time.Second
	DefaultBeatTimeout   = 15 * time.Second
	DefaultDeleteTimeout = 30 * time.Second
)

// MaxMetadataBytes bounds the metadata of one instance, service or cluster
// (keys and values together): a registry of a million instances cannot keep
// megabytes for each.
const MaxMetadataBytes = 64 << 10

func checkMetadata(m map[string]string) error {
	n := 0
	for k, v := range m {
		n += len(k) + len(v)
	}
	if n > MaxMetadataBytes {
		return invalid("metadata", fmt.Sprintf("metadata too large: %d bytes of keys and values, at most %d", n, MaxMetadataBytes))
	}
	return nil
}

// Metadata is an immutable string map. It is stored as its canonical JSON
// text (keys sorted) and interned, so that the many instances that carry the
// same metadata share one copy and comparing two values is a pointer
// comparison. The zero value is the empty map.
type Metadata struct {
	h unique.Handle[string]
}

// MetadataOf returns the Metadata holding m's entries.
func MetadataOf(m map[string]string) Metadata {
	if len(m) == 0 {
		return Metadata{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(m) // a map[string]string always encodes; keys come out sorted
	return Metadata{unique.Make(string(bytes.TrimRight(buf.Bytes(), "\n")))}
}

// JSON returns the canonical JSON object text, "{}" when empty.
func (m Metadata) JSON() string {
	if m.IsEmpty() {
		return "{}"
	}
	return m.h.Value()
}

// IsEmpty reports whether m has no entries.
func (m Metadata) IsEmpty() bool { return m.h == unique.Handle[string]{} }

// Map returns a fresh copy of the entries.
func (m Metadata) Map() map[string]string {
	out := map[string]string{}
	if !m.IsEmpty() {
		_ = json.Unmarshal([]byte(m.h.Value()), &out)
	}
	return out
}

// Timing is an instance's heartbeat timing, read from its preserved metadata.
type Timing struct {
	// BeatInterval is the beat period the instance asked for; zero means it
	// did not, and the server's switch applies.
	BeatInterval  time.Duration
	BeatTimeout   time.Duration
	DeleteTimeout time.Duration
}

// TimingOf reads the preserved timing keys of m; timeouts that are absent or
// not plain decimal numbers of milliseconds take the Nacos defaults.
func TimingOf(m map[string]string) Timing {
	return Timing{
		// Zero would make clients beat in a tight loop: treat it as unset.
		BeatInterval:  millisOr(m[MetaBeatInterval], 0),
		BeatTimeout:   millisOr(m[MetaBeatTimeout], DefaultBeatTimeout),
		DeleteTimeout: millisOr(m[MetaDeleteTimeout], DefaultDeleteTimeout),
	}
}

func millisOr(s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return def
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n > int64(365*24*time.Hour/time.Millisecond) {
		return def
	}
	return time.Duration(n) * time.Millisecond
}
