package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

// npmInstalls remembers, per directory, the outcome of npmInstalled.
var npmInstalls struct {
	sync.Mutex
	done map[string]error
}

// npmInstalled installs the packages of the package-lock.json in dir with
// `npm ci` when node_modules/<probe> is not there, once per directory and
// test binary: `go test ./...` runs the node-driven tests on any machine
// that has node and npm, as CI does.
func npmInstalled(dir, probe string) error {
	npmInstalls.Lock()
	defer npmInstalls.Unlock()
	if err, ok := npmInstalls.done[dir]; ok {
		return err
	}
	if npmInstalls.done == nil {
		npmInstalls.done = map[string]error{}
	}
	err := npmCI(dir, probe)
	npmInstalls.done[dir] = err
	return err
}

func npmCI(dir, probe string) error {
	if _, err := os.Stat(filepath.Join(dir, "node_modules", probe)); err == nil {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "package-lock.json")); err != nil {
		return err
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return err
	}
	cmd := exec.Command(npm, "ci", "--no-audit", "--no-fund")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("npm ci in %s: %v\n%s", dir, err, out)
	}
	return nil
}
