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

// LeanCloud's own realtime JS SDKs, leancloud-realtime 4.3.1 (npm's latest)
// and 5.0.0-rc.8, are installed in integration/realtime (one package.json,
// versions pinned by its package-lock.json) and run there in node against a
// real server: issue 19's promise that the shipped SDKs work unchanged but
// for the server address.

// The app's identity as the SDK is given it.
const (
	sdkAppID     = "parley-sdk-test"
	sdkAppKey    = "sdk-app-key-0123456789"
	sdkMasterKey = "sdk-master-key-0123456789"
)

// nodeRunner runs node in integration/realtime with args, with env added to
// the environment, and returns what it printed.
type nodeRunner func(timeout time.Duration, env []string, args ...string) (string, error)

// realtimeNode installs the packages of integration/realtime (npm ci, once
// per test binary) and returns node's path and a runner there; without node
// or the packages the test is skipped, unless PARLEY_NODE_TESTS=required.
func realtimeNode(t *testing.T) (string, nodeRunner) {
	t.Helper()
	dir, _ := filepath.Abs("realtime")
	node, err := exec.LookPath("node")
	if err == nil {
		err = npmInstalled(dir, "leancloud-realtime-v5")
	}
	if err != nil {
		if os.Getenv("PARLEY_NODE_TESTS") == "required" {
			t.Fatalf("node and the packages of integration/realtime (npm ci there) are needed: %v", err)
		}
		t.Skipf("needs node and `npm ci` in integration/realtime (PARLEY_NODE_TESTS=required makes this fail): %v", err)
	}
	return node, func(timeout time.Duration, env []string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, node, args...)
		cmd.Dir = dir
		cmd.Env = append(append(os.Environ(), "NO_COLOR=1", "FORCE_COLOR=0"), env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		began := time.Now()
		err := cmd.Run()
		t.Logf("node %s took %v", strings.Join(args, " "), time.Since(began).Round(time.Millisecond))
		return out.String(), err
	}
}

// TestRealtimeSDK runs the SDKs — 4.3.1 with RTMServers and 5.0.0-rc.8 with
// server (GET /v1/route), each over binary frames and noBinary — through
// the scenario of integration/realtime/scenario.js (node --test): login,
// conversations, text and typed messages, history, unread counts after a
// reconnect, edit and recall, receipts, members, online status, and a
// conversation shared with an SSE client. The scenario fails when the SDK
// logs a protocol error (integration/realtime/protocol-watch.js says what
// counts).
func TestRealtimeSDK(t *testing.T) {
	node, run := realtimeNode(t)
	h := start(t, func(c *server.Config) {
		c.AppID, c.AppKey, c.MasterKey = sdkAppID, sdkAppKey, sdkMasterKey
	})
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
	args = append(args, "v4-binary.test.js", "v4-nobinary.test.js", "v5-binary.test.js", "v5-nobinary.test.js",
		"protocol-watch.test.js") // the watch's own exemptions, without a server
	out, err := run(4*time.Minute,
		[]string{"PARLEY_URL=" + h.base, "PARLEY_APP_ID=" + sdkAppID, "PARLEY_APP_KEY=" + sdkAppKey}, args...)
	if err != nil {
		t.Fatalf("the realtime SDK scenario failed (%v):\n%s", err, out)
	}
	t.Logf("node --test:\n%s", out)
}

// TestLeanCloudSDKConversations drives the conversation commands as an app
// calls them (integration/realtime/conv.js): create, query, save, mute,
// members, roles, muted and blocked members, chat rooms, temporary
// conversations, and LeanCloud's refusals.
func TestLeanCloudSDKConversations(t *testing.T) {
	_, run := realtimeNode(t)
	for _, tc := range []struct{ sdk, mode string }{
		{"v4", ""}, {"v5", ""}, {"v5", "noBinary"},
	} {
		t.Run(tc.sdk+tc.mode, func(t *testing.T) {
			h := start(t) // a fresh database: the script's clients start with nothing
			out, err := run(60*time.Second, nil,
				"conv.js", tc.sdk, "ws"+strings.TrimPrefix(h.base, "http")+"/rtm", tc.mode)
			if err != nil || strings.Contains(out, "FAIL") {
				t.Fatalf("conv.js with %s %s: %v\n%s", tc.sdk, tc.mode, err, out)
			}
		})
	}
}
