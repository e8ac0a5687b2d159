package api

import (
	"os"
	"path/filepath"
	"testing"
)

// The document's licence is the project's: none while the repository has
// no licence file (see documentLicense), the one its file grants once it has.
func TestLicenseMatchesRepository(t *testing.T) {
	if _, err := os.Stat(filepath.Join("..", "go.mod")); err != nil {
		t.Fatalf("not at the repository's api/: %v", err)
	}
	var files []string
	for _, pattern := range []string{"LICENSE*", "LICENCE*", "COPYING*", "UNLICENSE*"} {
		m, _ := filepath.Glob(filepath.Join("..", pattern))
		files = append(files, m...)
	}
	got := New(Options{}).OpenAPI().Info.License
	if got == nil || got.Name == "" || got.Identifier == "" {
		t.Fatalf("info.license %+v: want a name and an SPDX identifier", got)
	}
	proprietary := got.Identifier == "LicenseRef-Proprietary"
	switch {
	case len(files) == 0 && !proprietary:
		t.Errorf("info.license says %s, but the repository has no licence file (LICENSE at its root)", got.Identifier)
	case len(files) > 0 && proprietary:
		t.Errorf("the repository has %v now: name its licence in documentLicense (api/spec.go)", files)
	}
}
