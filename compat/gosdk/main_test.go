package gosdk

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/nacos-group/nacos-sdk-go/common/constant"
	"github.com/nacos-group/nacos-sdk-go/util"
)

var (
	// root holds the SDK cache directories, the shared SDK log and, when
	// needed, the pulse binary. Removed when TestMain ends.
	root string
	// sdkLogDir is the LogDir of every in-process SDK client.
	sdkLogDir string

	// servers is cancelled when TestMain ends; in-process servers run until
	// then because the SDK clients that talk to them cannot be stopped.
	servers     context.Context
	stopServers context.CancelFunc
	serversWG   sync.WaitGroup
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(childEnv); spec != "" {
		os.Exit(runChild(spec))
	}
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	root, err = os.MkdirTemp("", "pulse-compat-gosdk-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "compat: temp dir:", err)
		return 1
	}
	defer os.RemoveAll(root)
	sdkLogDir = filepath.Join(root, "sdk-log")
	// Create the log file before any client: the SDK's log writer truncates
	// a file it creates, and clients created in parallel would race on that.
	if err := os.MkdirAll(sdkLogDir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		return 1
	}
	if err := os.WriteFile(sdkLogPath(sdkLogDir), nil, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "compat:", err)
		return 1
	}
	servers, stopServers = context.WithCancel(context.Background())
	// The SDK finds its clientIP lazily and stores it in a global without
	// synchronisation: clients that query at the same time race on it. One
	// call before any client exists leaves only reads.
	util.LocalIP()

	code := m.Run()

	// The clients are still running: scan before the servers go away.
	lines, err := sdkErrors(sdkLogPath(sdkLogDir), 0, nil)
	switch {
	case err != nil:
		fmt.Fprintln(os.Stderr, "compat: read the SDK log:", err)
		code = 1
	case len(lines) > 0:
		fmt.Fprintf(os.Stderr, "compat: nacos-sdk-go logged %d error lines during the run:\n%s\n",
			len(lines), strings.Join(lines, "\n"))
		code = 1
	}
	stopServers()
	serversWG.Wait()
	return code
}

func sdkLogPath(dir string) string { return filepath.Join(dir, constant.LOG_FILE_NAME) }
