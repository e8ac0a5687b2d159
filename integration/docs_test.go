package integration

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
)

// problemCodes are the codes of the contract (the OpenAPI document's).
func problemCodes(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../openapi/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]struct {
					Enum []string `json:"enum"`
				} `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	codes := doc.Components.Schemas["Problem"].Properties["code"].Enum
	if len(codes) < 10 {
		t.Fatalf("the Problem schema lists %d codes", len(codes))
	}
	return codes
}

// The README's error list names every code of the contract.
func TestREADMEListsEveryErrorCode(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(b), "\n## Errors\n")
	section, _, _ = strings.Cut(section, "\n## ")
	for _, code := range problemCodes(t) {
		if !strings.Contains(section, "`"+code+"`") {
			t.Errorf("the README's Errors section does not list %s", code)
		}
	}
}

// The Dockerfile builds with the Go version go.mod asks for.
func TestDockerfileGoVersionIsGoMods(t *testing.T) {
	mod, err := os.ReadFile("../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	docker, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	want := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
	got := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)$`).FindSubmatch(docker)
	if want == nil || got == nil {
		t.Fatalf("go.mod's go line %q, Dockerfile's GO_VERSION %q", want, got)
	}
	if string(got[1]) != string(want[1]) {
		t.Errorf("the Dockerfile builds with Go %s; go.mod says go %s", got[1], want[1])
	}
}
