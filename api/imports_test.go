package api

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"testing"
)

// The HTTP surface reaches the database only through the rules (handlers):
// no file of api, tests included, imports store.
func TestAPIDoesNotImportStore(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if path, _ := strconv.Unquote(imp.Path.Value); path == "github.com/parley-im/parley/store" {
				t.Errorf("%s imports %s: go through handlers.Service", name, path)
			}
		}
	}
}
