package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// lintDir holds the pinned linter: package.json and package-lock.json with
// @redocly/cli, and redocly.yaml, which selects its recommended ruleset.
const lintDir = "lint"

// redoclyEnv keeps the linter off the network: no usage data
// (REDOCLY_TELEMETRY, also telemetry: off in redocly.yaml), no check for a
// newer version and no announcements.
var redoclyEnv = []string{
	"REDOCLY_TELEMETRY=off",
	"REDOCLY_SUPPRESS_UPDATE_NOTICE=true",
	"REDOCLY_SUPPRESS_NOTIFICATIONS=true",
}

// TestDocumentsPassRedoclyLint runs Redocly CLI (the version pinned in
// lint/package-lock.json) with its recommended ruleset on the committed 3.1
// documents, as people who generate SDKs from them do, and fails on any error
// or warning. Fix the generator (package api) and run go generate ./...
// It installs lint/'s packages with `npm ci` when they are missing, and is
// skipped without node and npm unless PARLEY_NODE_TESTS=required.
func TestDocumentsPassRedoclyLint(t *testing.T) {
	required := os.Getenv("PARLEY_NODE_TESTS") == "required"
	node, err := exec.LookPath("node")
	if err == nil {
		err = lintPackages()
	}
	if err != nil {
		if required {
			t.Fatalf("node and lint/'s packages (npm ci in openapi/lint) are needed: %v", err)
		}
		t.Skipf("needs node and `npm ci` in openapi/lint (PARLEY_NODE_TESTS=required makes this fail): %v", err)
	}
	docs := []string{"openapi.yaml", "openapi.json"}
	// Read the inputs here too, so that go test's cache knows them: a change
	// to any of them runs this test again.
	for _, p := range append([]string{filepath.Join(lintDir, "package-lock.json"), filepath.Join(lintDir, "redocly.yaml")}, docs...) {
		if _, err := os.ReadFile(p); err != nil {
			t.Fatal(err)
		}
	}
	args := append([]string{filepath.Join(lintDir, "node_modules", "@redocly", "cli", "bin", "cli.js"),
		"lint", "--config", filepath.Join(lintDir, "redocly.yaml"), "--format=json"}, docs...)
	cmd := exec.Command(node, args...)
	cmd.Env = append(os.Environ(), redoclyEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run() // exits 1 when it found errors: the report says which

	// One JSON report per document, one after the other.
	type problem struct {
		RuleID   string `json:"ruleId"`
		Severity string `json:"severity"`
		Message  string `json:"message"`
		Location []struct {
			Pointer string `json:"pointer"`
			Source  struct {
				Ref string `json:"ref"`
			} `json:"source"`
		} `json:"location"`
	}
	type report struct {
		Totals *struct {
			Errors   int `json:"errors"`
			Warnings int `json:"warnings"`
		} `json:"totals"`
		Problems []problem `json:"problems"`
	}
	var reports []report
	dec := json.NewDecoder(&stdout)
	for {
		var r report
		if err := dec.Decode(&r); errors.Is(err, io.EOF) {
			break
		} else if err != nil || r.Totals == nil {
			t.Fatalf("redocly lint: %v (exit: %v)\n%s", err, runErr, stderr.String())
		}
		reports = append(reports, r)
	}
	if len(reports) != len(docs) {
		t.Fatalf("redocly lint: %d reports for %d documents (exit: %v)\n%s", len(reports), len(docs), runErr, stderr.String())
	}
	for _, r := range reports {
		for _, p := range r.Problems {
			where := ""
			if len(p.Location) > 0 {
				where = p.Location[0].Source.Ref + " " + p.Location[0].Pointer
			}
			t.Errorf("%s %s: %s: %s", p.Severity, p.RuleID, where, p.Message)
		}
		if n := r.Totals.Errors + r.Totals.Warnings; n > 0 && len(r.Problems) == 0 {
			t.Errorf("redocly lint counts %d errors and %d warnings", r.Totals.Errors, r.Totals.Warnings)
		}
	}
	if runErr != nil && !t.Failed() {
		t.Errorf("redocly lint: %v\n%s", runErr, stderr.String())
	}
	if t.Failed() {
		t.Log("fix the generator (package api) and run go generate ./...; the linter's own report: " +
			"cd openapi && REDOCLY_TELEMETRY=off lint/node_modules/.bin/redocly lint --config lint/redocly.yaml openapi.yaml")
	}
}

// lintPackages runs `npm ci` in lint/ unless the pinned @redocly/cli is
// installed there.
func lintPackages() error {
	var want struct {
		DevDependencies map[string]string `json:"devDependencies"`
	}
	var got struct {
		Version string `json:"version"`
	}
	b, err := os.ReadFile(filepath.Join(lintDir, "package.json"))
	if err == nil {
		err = json.Unmarshal(b, &want)
	}
	if err != nil {
		return err
	}
	if b, err := os.ReadFile(filepath.Join(lintDir, "node_modules", "@redocly", "cli", "package.json")); err == nil {
		if json.Unmarshal(b, &got) == nil && got.Version == want.DevDependencies["@redocly/cli"] {
			return nil
		}
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return err
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = lintDir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in openapi/%s: %v\n%s", lintDir, err, strings.TrimSpace(string(out)))
	}
	return nil
}
