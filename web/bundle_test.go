package web

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// The bundle (static/app.js) and the generated API types (src/api.d.ts) are
// committed, so that `go run ./cmd/parley` needs no Node. This test rebuilds
// both from web/src and ../openapi/openapi.json into a temporary directory and
// fails when the committed files differ: run `npm run build` in web/ (after
// `go generate ./...` when the API changed) and commit the result. It installs
// web/package-lock.json's packages with `npm ci` when web/node_modules is
// missing, and is skipped without node and npm unless PARLEY_NODE_TESTS=required.
func TestBundleIsFresh(t *testing.T) {
	required := os.Getenv("PARLEY_NODE_TESTS") == "required"
	node, err := exec.LookPath("node")
	if err == nil {
		err = webPackages()
	}
	if err != nil {
		if required {
			t.Fatalf("node and web/'s packages (npm ci in web/) are needed: %v", err)
		}
		t.Skipf("needs node and `npm ci` in web/ (PARLEY_NODE_TESTS=required makes this fail): %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command(node, "build.mjs", "--out", dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node build.mjs: %v\n%s", err, out)
	}
	for built, committed := range map[string]string{"app.js": "static/app.js", "api.d.ts": "src/api.d.ts"} {
		want, err := os.ReadFile(filepath.Join(dir, built))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(committed)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("web/%s is stale: run `npm run build` in web/ and commit it", committed)
		}
	}
}

// webPackages runs `npm ci` in web/ when its packages are not installed.
func webPackages() error {
	if _, err := os.Stat(filepath.Join("node_modules", "esbuild", "package.json")); err == nil {
		if _, err := os.Stat(filepath.Join("node_modules", "openapi-typescript", "package.json")); err == nil {
			return nil
		}
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return err
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci: %v\n%s", err, out)
	}
	return nil
}
