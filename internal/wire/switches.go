package wire

// Switches is the Nacos SwitchDomain document of GET /operator/switches,
// with the Nacos defaults from DefaultSwitches.
type Switches struct {
	Name                                     string         `json:"name"`
	Masters                                  []string       `json:"masters"`
	AdWeightMap                              map[string]int `json:"adWeightMap"`
	DefaultPushCacheMillis                   int64          `json:"defaultPushCacheMillis"`
	ClientBeatInterval                       int64          `json:"clientBeatInterval"`
	DefaultCacheMillis                       int64          `json:"defaultCacheMillis"`
	DistroThreshold                          float64        `json:"distroThreshold"`
	HealthCheckEnabled                       bool           `json:"healthCheckEnabled"`
	AutoChangeHealthCheckEnabled             bool           `json:"autoChangeHealthCheckEnabled"`
	DistroEnabled                            bool           `json:"distroEnabled"`
	EnableStandalone                         bool           `json:"enableStandalone"`
	PushEnabled                              bool           `json:"pushEnabled"`
	CheckTimes                               int            `json:"checkTimes"`
	HTTPHealthParams                         HealthParams   `json:"httpHealthParams"`
	TCPHealthParams                          HealthParams   `json:"tcpHealthParams"`
	MysqlHealthParams                        HealthParams   `json:"mysqlHealthParams"`
	IncrementalList                          []string       `json:"incrementalList"`
	ServerStatusSynchronizationPeriodMillis  int64          `json:"serverStatusSynchronizationPeriodMillis"`
	ServiceStatusSynchronizationPeriodMillis int64          `json:"serviceStatusSynchronizationPeriodMillis"`
	DisableAddIP                             bool           `json:"disableAddIP"`
	SendBeatOnly                             bool           `json:"sendBeatOnly"`
	LightBeatEnabled                         bool           `json:"lightBeatEnabled"`
	LimitedURLMap                            map[string]int `json:"limitedUrlMap"`
	DistroServerExpiredMillis                int64          `json:"distroServerExpiredMillis"`
	PushGoVersion                            string         `json:"pushGoVersion"`
	PushJavaVersion                          string         `json:"pushJavaVersion"`
	PushPythonVersion                        string         `json:"pushPythonVersion"`
	PushCVersion                             string         `json:"pushCVersion"`
	PushCSharpVersion                        string         `json:"pushCSharpVersion"`
	EnableAuthentication                     bool           `json:"enableAuthentication"`
	OverriddenServerStatus                   *string        `json:"overriddenServerStatus"`
	DefaultInstanceEphemeral                 bool           `json:"defaultInstanceEphemeral"`
	HealthCheckWhiteList                     []string       `json:"healthCheckWhiteList"`
	Checksum                                 *string        `json:"checksum"`
}

// HealthParams tunes one kind of active health check.
type HealthParams struct {
	Max    int     `json:"max"`
	Min    int     `json:"min"`
	Factor float64 `json:"factor"`
}

// DefaultSwitches returns the Nacos 1.4 defaults.
func DefaultSwitches() Switches {
	return Switches{
		Name:                                     "00-00---000-NACOS_SWITCH_DOMAIN-000---00-00",
		AdWeightMap:                              map[string]int{},
		DefaultPushCacheMillis:                   10000,
		ClientBeatInterval:                       5000,
		DefaultCacheMillis:                       3000,
		DistroThreshold:                          0.7,
		HealthCheckEnabled:                       true,
		AutoChangeHealthCheckEnabled:             true,
		DistroEnabled:                            true,
		EnableStandalone:                         true,
		PushEnabled:                              true,
		CheckTimes:                               3,
		HTTPHealthParams:                         HealthParams{Max: 5000, Min: 500, Factor: 0.85},
		TCPHealthParams:                          HealthParams{Max: 5000, Min: 1000, Factor: 0.75},
		MysqlHealthParams:                        HealthParams{Max: 3000, Min: 2000, Factor: 0.65},
		IncrementalList:                          []string{},
		ServerStatusSynchronizationPeriodMillis:  2000,
		ServiceStatusSynchronizationPeriodMillis: 5000,
		LightBeatEnabled:                         true,
		LimitedURLMap:                            map[string]int{},
		DistroServerExpiredMillis:                10000,
		PushGoVersion:                            "0.1.0",
		PushJavaVersion:                          "0.1.0",
		PushPythonVersion:                        "0.4.3",
		PushCVersion:                             "1.0.12",
		PushCSharpVersion:                        "0.9.0",
		DefaultInstanceEphemeral:                 true,
		HealthCheckWhiteList:                     []string{},
	}
}
