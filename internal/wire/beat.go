package wire

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Beat is the body of a full heartbeat (the "beat" parameter): the client's
// BeatInfo, from which Nacos re-creates an instance it no longer knows.
type Beat struct {
	IP          string
	Port        int
	Weight      float64
	ServiceName string
	Cluster     string
	Metadata    map[string]string
	Ephemeral   bool
}

// beatJSON mirrors the keys that clients send; unknown keys (scheduled,
// period, stopped, load, ...) are ignored as Nacos does.
type beatJSON struct {
	IP          *string        `json:"ip"`
	Port        *flexNumber    `json:"port"`
	Weight      *flexNumber    `json:"weight"`
	ServiceName string         `json:"serviceName"`
	Cluster     string         `json:"cluster"`
	Metadata    map[string]any `json:"metadata"`
	Ephemeral   *bool          `json:"ephemeral"`
}

// flexNumber accepts a JSON number or a string holding one, as Jackson does.
type flexNumber float64

func (n *flexNumber) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		s = strings.TrimSpace(s)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return fmt.Errorf("not a number: %s", b)
	}
	*n = flexNumber(f)
	return nil
}

// DecodeBeat decodes a beat body. Weight defaults to 1 and ephemeral to true
// when absent; metadata values that are numbers or booleans are kept as their
// text, and null values are dropped.
func DecodeBeat(data string) (Beat, error) {
	if b, ok := decodeBeatFast(data, false); ok {
		return b, nil
	}
	return decodeBeatGeneral(data)
}

// DecodeBeatRef decodes what identifies the instance a beat body is for (ip,
// port, cluster) without building its metadata, which only matters when the
// instance must be re-created: then call DecodeBeat. Metadata may be nil
// even when the body has some.
func DecodeBeatRef(data string) (Beat, error) {
	if b, ok := decodeBeatFast(data, true); ok {
		return b, nil
	}
	return decodeBeatGeneral(data)
}

// decodeBeatGeneral decodes any beat body with encoding/json.
func decodeBeatGeneral(data string) (Beat, error) {
	var j beatJSON
	dec := json.NewDecoder(strings.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&j); err != nil {
		return Beat{}, fmt.Errorf("decode beat: %w", err)
	}
	if dec.More() {
		return Beat{}, errors.New("decode beat: trailing data after the JSON object")
	}
	b := Beat{ServiceName: j.ServiceName, Cluster: j.Cluster, Weight: 1, Ephemeral: true}
	if j.IP != nil {
		b.IP = *j.IP
	}
	if j.Port != nil {
		p := float64(*j.Port)
		if p != math.Trunc(p) || p < math.MinInt32 || p > math.MaxInt32 {
			return Beat{}, fmt.Errorf("decode beat: port %v is not an integer", p)
		}
		b.Port = int(p)
	}
	if j.Weight != nil {
		b.Weight = float64(*j.Weight)
	}
	if j.Ephemeral != nil {
		b.Ephemeral = *j.Ephemeral
	}
	if len(j.Metadata) > 0 {
		b.Metadata = make(map[string]string, len(j.Metadata))
		for k, v := range j.Metadata {
			switch v := v.(type) {
			case nil:
			case string:
				b.Metadata[k] = v
			case json.Number:
				b.Metadata[k] = v.String()
			case bool:
				b.Metadata[k] = strconv.FormatBool(v)
			default:
				return Beat{}, fmt.Errorf("decode beat: metadata %q is not a string", k)
			}
		}
	}
	return b, nil
}

// AppendBeatReply appends the JSON answer to a beat. lightBeat is written
// only on success (code 10200), as in Nacos.
func AppendBeatReply(b []byte, intervalMillis int64, code int, lightBeat bool) []byte {
	b = append(b, `{"clientBeatInterval":`...)
	b = strconv.AppendInt(b, intervalMillis, 10)
	b = append(b, `,"code":`...)
	b = strconv.AppendInt(b, int64(code), 10)
	if code == CodeOK {
		b = append(b, `,"lightBeatEnabled":`...)
		b = appendBool(b, lightBeat)
	}
	return append(b, '}')
}

// Nacos response codes carried in JSON bodies.
const (
	CodeOK               = 10200
	CodeResourceNotFound = 20404
)

// DecodeMetadata parses a metadata parameter: a JSON object of strings, or
// else "k1=v1,k2=v2" pairs. Blank means no metadata.
func DecodeMetadata(s string) (map[string]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if s[0] == '{' {
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		if err := dec.Decode(&m); err == nil && !dec.More() {
			out := make(map[string]string, len(m))
			for k, v := range m {
				switch v := v.(type) {
				case nil:
				case string:
					out[k] = v
				case json.Number:
					out[k] = v.String()
				case bool:
					out[k] = strconv.FormatBool(v)
				default:
					return nil, errors.New("metadata format incorrect:" + s)
				}
			}
			return out, nil
		}
	}
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, errors.New("metadata format incorrect:" + s)
		}
		out[k] = v
	}
	return out, nil
}

// BeatBatch is the body of PUT /instance/beat/batch, Pulse's opt-in way for
// a client to send the beats of all its instances in one request.
type BeatBatch struct {
	Beats []BatchBeat `json:"beats"`
}

// BatchBeat is one beat of a batch: the parameters of a light beat, and
// optionally the full beat body that lets the server re-create the instance.
type BatchBeat struct {
	NamespaceID string          `json:"namespaceId,omitempty"`
	ServiceName string          `json:"serviceName"`
	GroupName   string          `json:"groupName,omitempty"`
	ClusterName string          `json:"clusterName,omitempty"`
	IP          string          `json:"ip"`
	Port        int             `json:"port"`
	Beat        json.RawMessage `json:"beat,omitempty"`
}

// BeatBatchReply answers a batch: one result per beat, in order.
type BeatBatchReply struct {
	LightBeatEnabled bool              `json:"lightBeatEnabled"`
	Results          []BatchBeatResult `json:"results"`
}

// BatchBeatResult is the outcome of one beat of a batch. Code is 10200 or
// 20404 as for a single beat, or 400 with Message for a beat that could not
// be taken.
type BatchBeatResult struct {
	Code               int    `json:"code"`
	ClientBeatInterval int64  `json:"clientBeatInterval"`
	Message            string `json:"message,omitempty"`
}
