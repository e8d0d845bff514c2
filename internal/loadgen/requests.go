package loadgen

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/pulse-registry/pulse/internal/wire"
)

// The requests below are written the way nacos-sdk-go v1.1.4 writes them
// (see the clients spec): its headers, a form-encoded register body, and the
// full beat JSON in an unencoded PUT body.

const goAgent = "Nacos-Go-Client:v1.1.4"

// instance is one generated instance. Addresses are in 127.0.0.0/8, so that
// whatever a server might do with them stays on this machine.
type instance struct {
	service string // grouped name
	ip      string
	port    int
}

func instanceOf(prefix string, i, perService int) instance {
	n := i + 1
	return instance{
		service: "DEFAULT_GROUP@@" + prefix + "-" + strconv.Itoa(i/perService),
		ip:      "127." + strconv.Itoa(n>>16&255) + "." + strconv.Itoa(n>>8&255) + "." + strconv.Itoa(n&255),
		port:    8000 + n>>24,
	}
}

const formType = "application/x-www-form-urlencoded;charset=utf-8"

func appendHeaders(b []byte, method, target, host string) []byte {
	return appendHeadersType(b, method, target, host, formType)
}

func appendHeadersType(b []byte, method, target, host, contentType string) []byte {
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, target...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, host...)
	b = append(b, "\r\nUser-Agent: "+goAgent+"\r\nClient-Version: "+goAgent+
		"\r\nRequest-Module: Naming\r\nConnection: Keep-Alive\r\nContent-Type: "...)
	b = append(b, contentType...)
	return append(b, "\r\n"...)
}

func appendGet(b []byte, host, target string) []byte {
	b = appendHeaders(b, "GET", target, host)
	return append(b, "\r\n"...)
}

func appendWithBody(b []byte, method, host, target string, body []byte) []byte {
	return appendWithBodyType(b, method, host, target, formType, body)
}

func appendWithBodyType(b []byte, method, host, target, contentType string, body []byte) []byte {
	b = appendHeadersType(b, method, target, host, contentType)
	b = append(b, "Content-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}

// requests builds the requests of one worker into reused buffers.
type requests struct {
	host, ctx string // address and context path
	body, req []byte
}

// beat is a nacos-sdk-go heartbeat: serviceName and the beat JSON, raw, in
// the body. light sends what a Java client sends once the server allows
// light beats: serviceName, ip, port and clusterName in the query.
func (r *requests) beat(in instance, light bool) []byte {
	if light {
		r.body = append(r.body[:0], r.ctx+"/v1/ns/instance/beat?serviceName="...)
		r.body = append(r.body, in.service...)
		r.body = append(r.body, "&ip="...)
		r.body = append(r.body, in.ip...)
		r.body = append(r.body, "&port="...)
		r.body = strconv.AppendInt(r.body, int64(in.port), 10)
		r.body = append(r.body, "&clusterName=DEFAULT"...)
		r.req = appendHeaders(r.req[:0], "PUT", string(r.body), r.host)
		r.req = append(r.req, "Content-Length: 0\r\n\r\n"...)
		return r.req
	}
	b := append(r.body[:0], "serviceName="...)
	b = append(b, in.service...)
	b = append(b, `&beat={"cluster":"DEFAULT","ip":"`...)
	b = append(b, in.ip...)
	b = append(b, `","metadata":{},"port":`...)
	b = strconv.AppendInt(b, int64(in.port), 10)
	b = append(b, `,"scheduled":false,"serviceName":"`...)
	b = append(b, in.service...)
	b = append(b, `","weight":1}`...)
	r.body = b
	r.req = appendWithBody(r.req[:0], "PUT", r.host, r.ctx+"/v1/ns/instance/beat", r.body)
	return r.req
}

// beatBatch is Pulse's batched beat (PUT /instance/beat/batch), as the
// Pulse Go client sends it once light beats are allowed: serviceName, ip,
// port and clusterName of each instance in one JSON body.
func (r *requests) beatBatch(ins func(k int) instance, n int) []byte {
	b := append(r.body[:0], `{"beats":[`...)
	for k := range n {
		in := ins(k)
		if k > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"serviceName":"`...)
		b = append(b, in.service...)
		b = append(b, `","clusterName":"DEFAULT","ip":"`...)
		b = append(b, in.ip...)
		b = append(b, `","port":`...)
		b = strconv.AppendInt(b, int64(in.port), 10)
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	r.body = b
	r.req = appendWithBodyType(r.req[:0], "PUT", r.host, r.ctx+"/v1/ns/instance/beat/batch", "application/json", r.body)
	return r.req
}

// register is a nacos-sdk-go registration: a percent-encoded form body with
// sorted keys. metadata is JSON object text.
func (r *requests) register(in instance, metadata string) []byte {
	b := append(r.body[:0], "app=&clusterName=DEFAULT&enable=true&ephemeral=true&groupName=DEFAULT_GROUP&healthy=true&ip="...)
	b = append(b, in.ip...)
	b = append(b, "&metadata="...)
	b = append(b, url.QueryEscape(metadata)...)
	b = append(b, "&namespaceId=&port="...)
	b = strconv.AppendInt(b, int64(in.port), 10)
	b = append(b, "&serviceName="...)
	b = append(b, url.QueryEscape(in.service)...)
	b = append(b, "&weight=1"...)
	r.body = b
	r.req = appendWithBody(r.req[:0], "POST", r.host, r.ctx+"/v1/ns/instance", r.body)
	return r.req
}

// deregister is a nacos-sdk-go deregistration: an unencoded query string.
func (r *requests) deregister(in instance) []byte {
	b := append(r.body[:0], r.ctx+"/v1/ns/instance?namespaceId=&serviceName="...)
	b = append(b, in.service...)
	b = append(b, "&clusterName=DEFAULT&ip="...)
	b = append(b, in.ip...)
	b = append(b, "&port="...)
	b = strconv.AppendInt(b, int64(in.port), 10)
	b = append(b, "&ephemeral=true"...)
	r.body = b
	r.req = appendHeaders(r.req[:0], "DELETE", string(b), r.host)
	r.req = append(r.req, "Content-Length: 0\r\n\r\n"...)
	return r.req
}

// list is a nacos-sdk-go instance list query; udpPort 0 subscribes nothing.
func (r *requests) list(service string, udpPort int) []byte {
	b := append(r.body[:0], r.ctx+"/v1/ns/instance/list?namespaceId=&serviceName="...)
	b = append(b, service...)
	b = append(b, "&app=&clusters=&udpPort="...)
	b = strconv.AppendInt(b, int64(udpPort), 10)
	b = append(b, "&healthyOnly=false&clientIP=127.0.0.1"...)
	r.body = b
	r.req = appendGet(r.req[:0], r.host, string(b))
	return r.req
}

// checkBeatReply checks that a beat was answered as one for a known
// instance.
// A substring test keeps the generator cheap; both Pulse and the ceiling
// write this exact text.
func checkBeatReply(body []byte) error {
	if !bytes.Contains(body, beatOK) {
		return fmt.Errorf("beat reply %.200q: want code %d (an instance unknown to the server answers %d)", body, wire.CodeOK, wire.CodeResourceNotFound)
	}
	return nil
}

var beatOK = []byte(`"code":` + strconv.Itoa(wire.CodeOK))

// metrics reads GET /v1/ns/operator/metrics.
func metrics(addr, ctx string) (wire.Metrics, error) {
	var m wire.Metrics
	c := newConn(addr, 10*time.Second)
	defer c.close()
	body, err := c.do(appendGet(nil, addr, ctx+"/v1/ns/operator/metrics"))
	if err != nil {
		return m, fmt.Errorf("read metrics: %w", err)
	}
	if err := json.Unmarshal(body, &m); err != nil {
		return m, fmt.Errorf("read metrics: %w", err)
	}
	return m, nil
}

// listed is the part of a list reply the tool checks.
type listed struct {
	Hosts []struct {
		IP      string `json:"ip"`
		Port    int    `json:"port"`
		Healthy bool   `json:"healthy"`
	} `json:"hosts"`
}
