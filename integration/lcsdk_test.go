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
)

// LeanCloud's own realtime JS SDKs, 4.3.1 (npm's latest) and 5.0.0-rc.8,
// drive Parley's gateway through the conversation commands as an app calls
// them (integration/lcsdk/conv.js): issue 19's promise that the shipped
// SDKs work unchanged but for the server address. Skipped without node and
// the packages of integration/lcsdk, unless PARLEY_NODE_TESTS=required.
func TestLeanCloudSDKConversations(t *testing.T) {
	dir, _ := filepath.Abs("lcsdk")
	node, err := exec.LookPath("node")
	if err == nil {
		err = npmInstalled(dir, "leancloud-realtime-v5")
	}
	if err != nil {
		if os.Getenv("PARLEY_NODE_TESTS") == "required" {
			t.Fatalf("node and the packages of integration/lcsdk (npm ci there) are needed: %v", err)
		}
		t.Skipf("needs node and `npm ci` in integration/lcsdk (PARLEY_NODE_TESTS=required makes this fail): %v", err)
	}
	for _, tc := range []struct{ sdk, mode string }{
		{"leancloud-realtime-v4", ""}, {"leancloud-realtime-v5", ""}, {"leancloud-realtime-v5", "noBinary"},
	} {
		t.Run(tc.sdk+tc.mode, func(t *testing.T) {
			h := start(t) // a fresh database: the script's clients start with nothing
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, node, "conv.js", tc.sdk, "ws"+strings.TrimPrefix(h.base, "http")+"/rtm", tc.mode)
			cmd.Dir = dir
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Run(); err != nil || strings.Contains(out.String(), "FAIL") {
				t.Fatalf("conv.js with %s %s: %v\n%s", tc.sdk, tc.mode, err, out.String())
			}
		})
	}
}
