package naming

import "strings"

// Defaults shared with every Nacos 1.x client.
const (
	DefaultNamespace = "public"
	DefaultGroup     = "DEFAULT_GROUP"
	DefaultCluster   = "DEFAULT"
	GroupSeparator   = "@@"
)

// ServiceKey identifies a service: its namespace and its grouped name
// ("group@@service").
type ServiceKey struct {
	Namespace string
	Name      string
}

func (k ServiceKey) String() string { return k.Namespace + "##" + k.Name }

// Group returns the group part of the grouped name.
func (k ServiceKey) Group() string { g, _ := SplitGrouped(k.Name); return g }

// Bare returns the service name without its group.
func (k ServiceKey) Bare() string { _, b := SplitGrouped(k.Name); return b }

// Namespace returns ns, or DefaultNamespace when ns is blank.
func Namespace(ns string) string {
	if strings.TrimSpace(ns) == "" {
		return DefaultNamespace
	}
	return ns
}

// Grouped returns name prefixed with group (DefaultGroup when blank), unless
// name already carries a group.
func Grouped(group, name string) string {
	if strings.Contains(name, GroupSeparator) {
		return name
	}
	if strings.TrimSpace(group) == "" {
		group = DefaultGroup
	}
	return group + GroupSeparator + name
}

// SplitGrouped splits a grouped name at its first separator. A name without
// one belongs to DefaultGroup.
func SplitGrouped(grouped string) (group, name string) {
	g, n, ok := strings.Cut(grouped, GroupSeparator)
	if !ok {
		return DefaultGroup, grouped
	}
	return g, n
}

// CheckServiceName applies the Nacos format rule to a grouped name: it must
// split on "@@" into at least two parts (trailing empty parts dropped, as
// Java's String.split does) and the group must not be empty. It runs on
// every request, so it scans instead of splitting.
func CheckServiceName(grouped string) error {
	group, rest, ok := strings.Cut(grouped, GroupSeparator)
	if !ok || !hasNonSeparator(rest) {
		// One part, or only empty parts after the first: what is left
		// after Java drops trailing empty parts is at most the group.
		return invalid("serviceName", "Param 'serviceName' is illegal, it should be format as 'groupName@@serviceName'")
	}
	if group == "" {
		return invalid("serviceName", "Param 'serviceName' is illegal, groupName can't be empty")
	}
	return nil
}

// hasNonSeparator reports whether s, split on "@@" from the left, has a
// non-empty part.
func hasNonSeparator(s string) bool {
	for s != "" {
		if !strings.HasPrefix(s, GroupSeparator) {
			return true
		}
		s = s[len(GroupSeparator):]
	}
	return false
}

// validateServiceChars is the rule Nacos applies when it creates a service.
func validateServiceChars(grouped string) error {
	if grouped == "" || !allChars(grouped, func(c byte) bool {
		return isAlnum(c) || c == '@' || c == '.' || c == ':' || c == '_' || c == '-'
	}) {
		return invalid("serviceName", "dom name can only have these characters: 0-9a-zA-Z-._:, current: "+grouped)
	}
	return nil
}

// ValidateCluster checks a cluster name: letters, digits and '-' only.
func ValidateCluster(name string) error {
	if name == "" || !allChars(name, func(c byte) bool { return isAlnum(c) || c == '-' }) {
		return invalid("clusterName", "cluster name can only have these characters: 0-9a-zA-Z-, current: "+name)
	}
	return nil
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func allChars(s string, ok func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			return false
		}
	}
	return true
}
