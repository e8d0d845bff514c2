package httpapi

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
)

// systemLoad reads the figures Nacos reports in /operator/metrics: cpu is
// the 1-minute load per core (capped at 1), load the 1-minute load average,
// mem the share of memory in use. Where /proc is missing they are 0.
func systemLoad() (cpu, load, mem float64) {
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := bytes.Fields(b); len(f) > 0 {
			load, _ = strconv.ParseFloat(string(f[0]), 64)
			cpu = min(1, load/float64(runtime.NumCPU()))
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var total, avail float64
		for _, line := range bytes.Split(b, []byte("\n")) {
			f := bytes.Fields(line)
			if len(f) < 2 {
				continue
			}
			v, _ := strconv.ParseFloat(string(f[1]), 64)
			switch string(f[0]) {
			case "MemTotal:":
				total = v
			case "MemAvailable:":
				avail = v
			}
		}
		if total > 0 {
			mem = (total - avail) / total
		}
	}
	return cpu, load, mem
}
