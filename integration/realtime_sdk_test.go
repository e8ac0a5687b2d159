package integration

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parley-im/parley/server"
)

// The app's identity as the SDK is given it.
const (
	sdkAppID     = "parley-sdk-test"
	sdkAppKey    = "sdk-app-key-0123456789"
	sdkMasterKey = "sdk-master-key-0123456789"
)

// TestRealtimeSDK runs LeanCloud's own realtime SDK — leancloud-realtime
// 4.3.1 with RTMServers and 5.0.0-rc.8 with server (GET /v1/route), each
// over binary frames and noBinary — through the scenario of
// integration/realtime (node --test, packages pinned by its
// package-lock.json) against a real server: login, conversations, text and
// typed messages, history, unread counts after a reconnect, edit and recall,
// receipts, members, online status, and a conversation shared with an SSE
// client. The scenario fails when the SDK logs a protocol error
// (integration/realtime/protocol-watch.js says what counts). Skipped
// without node, unless PARLEY_NODE_TESTS=required.
func TestRealtimeSDK(t *testing.T) {
	dir, _ := filepath.Abs("realtime")
	required := os.Getenv("PARLEY_NODE_TESTS") == "required"
	node, err := exec.LookPath("node")
	if err == nil {
		err = npmInstalled(dir, "leancloud-realtime-v5")
	}
	if err != nil {
		if required {
			t.Fatalf("node and the packages of integration/realtime (npm ci there) are needed: %v", err)
		}
		t.Skipf("needs node and `npm ci` in integration/realtime (PARLEY_NODE_TESTS=required makes this fail): %v", err)
	}
	h := start(t, func(c *server.Config) {
		c.AppID, c.AppKey, c.MasterKey = sdkAppID, sdkAppKey, sdkMasterKey
	})

	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// The four variants run side by side, one node process each (v5 allows
	// one Realtime per app id and process; the protocol watch hooks each
	// process's console).
	args := []string{"--test", "--test-reporter=spec"}
	// Newer nodes' flags, when this node has them (Debian 12's is 18).
	if help, err := exec.Command(node, "--help").Output(); err == nil {
		for _, flag := range []string{"--test-concurrency=4", "--test-force-exit"} {
			if name, _, _ := strings.Cut(flag, "="); bytes.Contains(help, []byte(name)) {
				args = append(args, flag)
			}
		}
	}
	args = append(args, "v4-binary.test.js", "v4-nobinary.test.js", "v5-binary.test.js", "v5-nobinary.test.js")
	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"PARLEY_URL="+h.base, "PARLEY_APP_ID="+sdkAppID, "PARLEY_APP_KEY="+sdkAppKey,
		"NO_COLOR=1", "FORCE_COLOR=0")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	began := time.Now()
	err = cmd.Run()
	t.Logf("node --test took %v", time.Since(began).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("the realtime SDK scenario failed (%v):\n%s", err, out.String())
	}
	t.Logf("node --test:\n%s", out.String())
}
