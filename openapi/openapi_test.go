package openapi

import (
	"bytes"
	"os"
	"testing"

	"github.com/parley-im/parley/api"
)

// TestCommittedDocumentsAreCurrent fails when the committed documents differ
// from what the code generates: run `go generate ./...` and commit.
func TestCommittedDocumentsAreCurrent(t *testing.T) {
	for name, want := range api.New(api.Options{}).SpecFiles() {
		got, err := os.ReadFile(name)
		if err != nil {
			t.Fatalf("%s: %v (run go generate ./...)", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run go generate ./... and commit the result", name)
		}
	}
}
