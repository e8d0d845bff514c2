package wire

import "encoding/json"

// InstanceDetail is the answer of GET /instance.
type InstanceDetail struct {
	Service     string          `json:"service"`
	IP          string          `json:"ip"`
	Port        int             `json:"port"`
	ClusterName string          `json:"clusterName"`
	Weight      float64         `json:"weight"`
	Healthy     bool            `json:"healthy"`
	Enabled     bool            `json:"enabled"`
	Ephemeral   bool            `json:"ephemeral"`
	InstanceID  string          `json:"instanceId"`
	Metadata    json.RawMessage `json:"metadata"`
	LastBeat    int64           `json:"lastBeat"` // ms epoch
}

// Service is the answer of GET /service.
type Service struct {
	Name             string          `json:"name"` // bare
	GroupName        string          `json:"groupName"`
	NamespaceID      string          `json:"namespaceId"`
	ProtectThreshold float64         `json:"protectThreshold"`
	Metadata         json.RawMessage `json:"metadata"`
	Selector         json.RawMessage `json:"selector"`
	Clusters         []Cluster       `json:"clusters"`
}

// Cluster is one cluster inside Service.
type Cluster struct {
	Name          string          `json:"name"`
	HealthChecker json.RawMessage `json:"healthChecker"`
	Metadata      json.RawMessage `json:"metadata"`
}

// ServiceNames is the answer of GET /service/list.
type ServiceNames struct {
	Count int      `json:"count"`
	Doms  []string `json:"doms"`
}

// MetadataBatchReply is the answer of PUT|DELETE /instance/metadata/batch.
type MetadataBatchReply struct {
	Updated []string `json:"updated"`
}

// InstanceRef is one element of the "instances" parameter of the metadata
// batch endpoints.
type InstanceRef struct {
	IP          string      `json:"ip"`
	Port        *flexNumber `json:"port"`
	Ephemeral   *bool       `json:"ephemeral"`
	ClusterName string      `json:"clusterName"`
}

// PortValue returns the port, 0 when absent.
func (r InstanceRef) PortValue() int {
	if r.Port == nil {
		return 0
	}
	return int(*r.Port)
}

// Metrics is the answer of GET /operator/metrics.
type Metrics struct {
	Status                   string  `json:"status"`
	ServiceCount             int     `json:"serviceCount"`
	InstanceCount            int     `json:"instanceCount"`
	SubscribeCount           int     `json:"subscribeCount"`
	RaftNotifyTaskCount      int     `json:"raftNotifyTaskCount"`
	ResponsibleServiceCount  int     `json:"responsibleServiceCount"`
	ResponsibleInstanceCount int     `json:"responsibleInstanceCount"`
	CPU                      float64 `json:"cpu"`
	Load                     float64 `json:"load"`
	Mem                      float64 `json:"mem"`

	// Pulse additions, named like the Nacos monitor gauges where one exists.
	TotalPush       int64 `json:"totalPush"`
	FailedPush      int64 `json:"failedPush"`
	PushRetries     int64 `json:"pushRetries"`
	AvgPushCost     int64 `json:"avgPushCost"`
	MaxPushCost     int64 `json:"maxPushCost"`
	BeatCount       int64 `json:"beatCount"`
	UnhealthyCount  int64 `json:"unhealthyCount"`
	ExpiredCount    int64 `json:"expiredCount"`
	ExpiryLateMaxMs int64 `json:"expiryLateMaxMs"`
	ExpiryLateP99Ms int64 `json:"expiryLateP99Ms"`
	ExpiryLateP50Ms int64 `json:"expiryLateP50Ms"`
	// ExpiryLate holds the lateness histograms themselves, so that a tool
	// reading the metrics before and after a test can take the quantiles of
	// the difference without a reset.
	ExpiryLate       *LateHistograms `json:"expiryLate,omitempty"`
	RegisterCount    int64           `json:"registerCount"`
	DeregisterCount  int64           `json:"deregisterCount"`
	HealthCheckState bool            `json:"healthCheckEnabled"`
}

// LateHistograms are the counts of expiry transitions by lateness:
// Unhealthy[i] and Expired[i] count those at most BoundsMs[i] late (and more
// than the bound before); the last count is for those later than every bound.
type LateHistograms struct {
	BoundsMs       []float64 `json:"boundsMs"`
	Unhealthy      []int64   `json:"unhealthy"`
	Expired        []int64   `json:"expired"`
	UnhealthyMaxMs float64   `json:"unhealthyMaxMs"`
	ExpiredMaxMs   float64   `json:"expiredMaxMs"`
}

// Servers is the answer of GET /operator/servers.
type Servers struct {
	Servers []Member `json:"servers"`
}

// Member is one server of the cluster.
type Member struct {
	IP            string         `json:"ip"`
	Port          int            `json:"port"`
	State         string         `json:"state"`
	ExtendInfo    map[string]any `json:"extendInfo"`
	Address       string         `json:"address"`
	FailAccessCnt int            `json:"failAccessCnt"`
}

// ServerState is the answer of GET /v1/console/server/state.
type ServerState struct {
	Version        string `json:"version"`
	StandaloneMode string `json:"standalone_mode"`
	FunctionMode   string `json:"function_mode"`
	AuthEnabled    bool   `json:"auth_enabled"`
}

// Subscribers is the answer of GET /service/subscribers.
type Subscribers struct {
	Count       int          `json:"count"`
	Subscribers []Subscriber `json:"subscribers"`
}

// Subscriber is one push target.
type Subscriber struct {
	AddrStr     string `json:"addrStr"`
	Agent       string `json:"agent"`
	App         string `json:"app"`
	IP          string `json:"ip"`
	Port        int    `json:"port"`
	NamespaceID string `json:"namespaceId"`
	ServiceName string `json:"serviceName"`
	Cluster     string `json:"cluster"`
	// Pulse additions.
	HealthyOnly bool  `json:"healthyOnly"`
	Subscribed  int64 `json:"subscribedTime"` // ms epoch
	Refreshed   int64 `json:"lastRefTime"`    // ms epoch of the last list query
	Pending     bool  `json:"pendingAck"`
}

// PushState is the answer of GET /operator/push/state: Nacos' keys first,
// then Pulse's counters.
type PushState struct {
	Succeed int64    `json:"succeed"`
	Total   int64    `json:"total"`
	Ratio   float64  `json:"ratio"`
	Reset   bool     `json:"reset"`
	Data    []string `json:"data,omitempty"`

	Targets      int   `json:"targets"`
	Services     int   `json:"services"`
	Acks         int64 `json:"acks"`
	Retries      int64 `json:"retries"`
	Failed       int64 `json:"failed"`
	TooLarge     int64 `json:"tooLarge"`
	Superseded   int64 `json:"superseded"`
	RateLimited  int64 `json:"rateLimited"`
	Refused      int64 `json:"refused"`
	BadAcks      int64 `json:"badAcks"`
	WaitingAck   int   `json:"waitingAck"`
	LatencyCount int64 `json:"latencyCount"`
	LatencyP50Ms int64 `json:"latencyP50Ms"`
	LatencyP99Ms int64 `json:"latencyP99Ms"`
	LatencyMaxMs int64 `json:"latencyMaxMs"`
	LatencyAvgMs int64 `json:"latencyAvgMs"`
}

// Login is the answer of POST /v1/auth/users/login (and /v1/auth/login).
// AccessToken is left out when the server grants no token: nacos-sdk-go and
// the Java client then go on without one.
type Login struct {
	AccessToken string `json:"accessToken,omitempty"`
	TokenTTL    int64  `json:"tokenTtl"` // seconds; nacos-sdk-go panics if not a number
	GlobalAdmin bool   `json:"globalAdmin"`
	Username    string `json:"username"`
}
