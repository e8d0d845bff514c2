package wire

import (
	"strconv"
	"strings"
)

// AgentKind is the family of a client, as Nacos recognises it from its
// User-Agent.
type AgentKind uint8

// Agent kinds, by their User-Agent prefix.
const (
	AgentUnknown AgentKind = iota
	AgentJava              // Nacos-Java-Client (also what nacos-naming for Node sends)
	AgentGo                // Nacos-Go-Client
	AgentCSharp            // Nacos-CSharp-Client
	AgentC                 // Nacos-C-Client, vip-client4cpp
	AgentDNS               // Nacos-DNS
	AgentJavaSDK           // Nacos-SDK-Java
	AgentServer            // Nacos-Server (a peer)
	AgentTengine           // unit-nginx
	AgentPulse             // Pulse-Go-Client, our own SDK
)

var agentPrefixes = []struct {
	prefix string
	kind   AgentKind
}{
	{"Nacos-Java-Client", AgentJava},
	{"Nacos-Go-Client", AgentGo},
	{"Nacos-CSharp-Client", AgentCSharp},
	{"Nacos-C-Client", AgentC},
	{"vip-client4cpp", AgentC},
	{"Nacos-DNS", AgentDNS},
	{"Nacos-SDK-Java", AgentJavaSDK},
	{"Nacos-Server", AgentServer},
	{"unit-nginx", AgentTengine},
	{"Pulse-Go-Client", AgentPulse},
}

// Agent is a parsed client agent string such as "Nacos-Go-Client:v1.1.4".
type Agent struct {
	Raw     string
	Kind    AgentKind
	Version string // what follows ":v", e.g. "1.1.4"
}

// ParseAgent parses a User-Agent value.
func ParseAgent(s string) Agent {
	a := Agent{Raw: s}
	for _, p := range agentPrefixes {
		if strings.HasPrefix(s, p.prefix) {
			a.Kind = p.kind
			break
		}
	}
	if _, v, ok := strings.Cut(s, ":v"); ok {
		a.Version = v
	}
	return a
}

// RequestAgent picks the agent of a request from its User-Agent header,
// falling back to Client-Version when the User-Agent is not a Nacos client
// (Go programs such as nacos-coredns-plugin keep Go's default User-Agent).
func RequestAgent(userAgent, clientVersion string) Agent {
	a := ParseAgent(userAgent)
	if a.Kind == AgentUnknown && clientVersion != "" {
		if b := ParseAgent(clientVersion); b.Kind != AgentUnknown || userAgent == "" {
			return b
		}
	}
	return a
}

// PushCapable reports whether Nacos would push to this agent over UDP: its
// kind must be one Nacos pushes to, and its version at least the minimum the
// switches name for that kind (pushJavaVersion and so on; DNS agents use
// pushPythonVersion, as in Nacos). Pulse's own client always gets pushes.
func (a Agent) PushCapable(sw *Switches) bool {
	var min string
	switch a.Kind {
	case AgentJava:
		min = sw.PushJavaVersion
	case AgentGo:
		min = sw.PushGoVersion
	case AgentCSharp:
		min = sw.PushCSharpVersion
	case AgentC:
		min = sw.PushCVersion
	case AgentDNS:
		min = sw.PushPythonVersion
	case AgentPulse:
		return true
	default:
		return false
	}
	return CompareVersions(a.Version, min) >= 0
}

// GroupedNames reports whether list data for this agent carries grouped
// names in "dom" and "hosts[].serviceName": Nacos does it only for Java
// clients from 1.0.0 on (which includes the Node client).
func (a Agent) GroupedNames() bool {
	return a.Kind == AgentJava && CompareVersions(a.Version, "1.0.0") >= 0 || a.Kind == AgentPulse
}

// UpdateOnly reports whether PUT /instance is a strict update for this agent
// (Java from 1.0.0, and Node) rather than an upsert.
func (a Agent) UpdateOnly() bool {
	return a.Kind == AgentJava && CompareVersions(a.Version, "1.0.0") >= 0
}

// CompareVersions compares dotted numeric versions; non-numeric parts count
// as 0 and a missing version is the lowest.
func CompareVersions(a, b string) int {
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	case b == "":
		return 1
	}
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		x, y := versionPart(as, i), versionPart(bs, i)
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func versionPart(parts []string, i int) int {
	if i >= len(parts) {
		return 0
	}
	p := parts[i]
	end := 0
	for end < len(p) && p[end] >= '0' && p[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(p[:end])
	return n
}
