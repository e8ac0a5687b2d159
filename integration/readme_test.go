package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/parley-im/parley/server"
)

// readmeBlock is a fenced code block of README.md.
type readmeBlock struct {
	lang   string // after the fence: bash, sh, json, or none
	text   string // without the fence's indentation
	line   int    // of the opening fence
	skip   bool   // marked as not to be pasted (notPasted)
	sample string // the plain block right after it: its output as the README shows it
}

// notPasted marks, on the line before its fence, a shell block that is not
// pasted into the walkthrough's shell: one that starts a server, runs the
// tests or needs Docker.
const notPasted = "<!-- README test: not pasted"

func readmeBlocks(t *testing.T) []readmeBlock {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []readmeBlock
	lines := strings.Split(string(b), "\n")
	prose := ""   // the last non-empty line outside blocks
	sampled := -1 // the shell block a plain block right after it (in its section) shows the output of
	for i := 0; i < len(lines); i++ {
		trimmed := strings.TrimLeft(lines[i], " ")
		if !strings.HasPrefix(trimmed, "```") {
			if strings.HasPrefix(lines[i], "#") {
				sampled = -1 // a heading: a new section
			}
			if strings.TrimSpace(lines[i]) != "" {
				prose = lines[i]
			}
			continue
		}
		indent := len(lines[i]) - len(trimmed)
		blk := readmeBlock{lang: strings.TrimPrefix(trimmed, "```"), line: i + 1, skip: strings.Contains(prose, notPasted)}
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			l := lines[i]
			if len(l) >= indent && strings.TrimSpace(l[:indent]) == "" {
				l = l[indent:]
			}
			body = append(body, l)
		}
		blk.text = strings.Join(body, "\n") + "\n"
		if blk.lang == "" && sampled >= 0 {
			blocks[sampled].sample = blk.text
		}
		sampled = -1
		if blk.lang == "bash" || blk.lang == "sh" {
			sampled = len(blocks)
		}
		blocks = append(blocks, blk)
		prose = ""
	}
	return blocks
}

// Every shell block of the README, pasted in order into one bash shell
// against a running server (BASE, MASTER; SIGBASE a second server in
// signature mode with the same master key), runs without error and prints
// what the README says: no 5xx, exactly the problem codes the block's own
// text announces, the labelled lines and answer shapes of the sample output
// that follows it, and the very events of the walkthrough's stream.
func TestREADMEBlocksRunAsPasted(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "sed", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("PARLEY_README_TEST") == "required" {
				t.Fatalf("%s is needed to paste the README's blocks: %v", tool, err)
			}
			t.Skipf("%s is needed to paste the README's blocks (PARLEY_README_TEST=required makes this fail): %v", tool, err)
		}
	}
	const master = "readme-test-master-key-0123456789"
	// As `parley` runs by default, but for the master key.
	config := func(mode string) func(*server.Config) {
		return func(c *server.Config) {
			c.AppID, c.MasterKey, c.AuthMode, c.Heartbeat = "parley", master, mode, 15*time.Second
		}
	}
	open := start(t, config("open"))
	signed := start(t, config("signature"))

	var run []readmeBlock
	for _, b := range readmeBlocks(t) {
		if (b.lang == "bash" || b.lang == "sh") && !b.skip {
			run = append(run, b)
		}
	}
	if len(run) < 8 {
		t.Fatalf("only %d shell blocks to paste", len(run))
	}
	dir := t.TempDir()
	var script strings.Builder
	fmt.Fprintf(&script, "set -E -o pipefail\ntrap 'echo \"::README-ERR rc=$? at: $BASH_COMMAND\"' ERR\n")
	fmt.Fprintf(&script, "BASE=%s\nMASTER=%s\nSIGBASE=%s\n", open.base, master, signed.base)
	for i, b := range run {
		f := filepath.Join(dir, fmt.Sprintf("block%02d.sh", i))
		if err := os.WriteFile(f, []byte(b.text), 0o600); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&script, "echo '::README-BLOCK %d'\nsource %s\necho \"::README-END %d rc=$?\"\n", i, f, i)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// The blocks' background streams are in the shell's process group:
	// whatever a failing block left running ends with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	began := time.Now()
	err := cmd.Run()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	t.Logf("pasted %d blocks in %v", len(run), time.Since(began).Round(time.Millisecond))
	if err != nil {
		t.Fatalf("bash: %v\n%s", err, out.String())
	}

	codes := problemCodes(t)
	outputs := map[int]string{}
	for _, part := range strings.Split(out.String(), "::README-BLOCK ")[1:] {
		var i int
		fmt.Sscanf(part, "%d", &i)
		outputs[i] = part
	}
	for i, b := range run {
		where := fmt.Sprintf("README.md:%d", b.line)
		o, ok := outputs[i]
		if !ok {
			t.Errorf("%s: no output at all", where)
			continue
		}
		if !strings.Contains(o, fmt.Sprintf("::README-END %d rc=0", i)) {
			t.Errorf("%s: the block ended with an error:\n%s\n%s", where, b.text, o)
		}
		for _, line := range strings.Split(o, "\n") {
			if strings.HasPrefix(line, "::README-ERR") {
				t.Errorf("%s: a command failed: %s", where, line)
			}
		}
		if strings.Contains(o, `"status":5`) {
			t.Errorf("%s: a server error:\n%s", where, o)
		}
		// The problem codes it answers are the ones its text announces.
		var announced, answered []string
		for _, c := range codes {
			if strings.Contains(b.text, c) {
				announced = append(announced, c)
			}
			if strings.Contains(o, `"code":"`+c+`"`) {
				answered = append(answered, c)
			}
		}
		if !slices.Equal(announced, answered) {
			t.Errorf("%s: answered the problem codes %v where the block announces %v:\n%s", where, answered, announced, o)
		}
		if b.sample != "" {
			checkSample(t, where, b.sample, o)
		}
	}
	if t.Failed() {
		t.Logf("the whole output:\n%s", out.String())
	}
}

var (
	labelLine = regexp.MustCompile(`(?m)^([a-z][a-z ]*): (\S*)$`)
	eventLine = regexp.MustCompile(`(?m)^event: (\S+)$`)
	idLine    = regexp.MustCompile(`(?m)^id: \S+\.(\d+)$`)
)

// checkSample compares a block's output with the sample the README shows
// after it: the same labelled lines (conversation: <id>), answers of the
// same shape (the same keys, the same problem code), and the same events;
// a sample that starts a stream (retry:) shows all of the stream's events,
// with their numbers.
func checkSample(t *testing.T, where, sample, out string) {
	t.Helper()
	for _, m := range labelLine.FindAllStringSubmatch(sample, -1) {
		label, value := m[1], m[2]
		if label == "id" || label == "event" || label == "data" || label == "retry" {
			continue
		}
		got := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(label) + `: (\S*)$`).FindStringSubmatch(out)
		switch {
		case got == nil:
			t.Errorf("%s: the README shows %q, the output has no %q line", where, m[0], label)
		case got[1] == "":
			t.Errorf("%s: %q is empty", where, label)
		case strings.HasPrefix(value, "_tmp:") && !strings.HasPrefix(got[1], "_tmp:"):
			t.Errorf("%s: %q is %q, the README shows %q", where, label, got[1], value)
		}
	}
	for _, line := range strings.Split(sample, "\n") {
		var want map[string]any
		if !strings.HasPrefix(line, "{") || json.Unmarshal([]byte(line), &want) != nil {
			continue
		}
		found := false
		for _, l := range strings.Split(out, "\n") {
			var got map[string]any
			if strings.HasPrefix(l, "{") && json.Unmarshal([]byte(l), &got) == nil && sameKeys(want, got) && want["code"] == got["code"] {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s: the README shows the answer\n%s\nand the output has none of its shape", where, line)
		}
	}
	wantEvents := eventLine.FindAllStringSubmatch(sample, -1)
	gotEvents := eventLine.FindAllStringSubmatch(out, -1)
	names := func(ms [][]string) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m[1])
		}
		return out
	}
	if strings.HasPrefix(sample, "retry:") {
		if w, g := names(wantEvents), names(gotEvents); !slices.Equal(w, g) {
			t.Errorf("%s: the stream printed the events\n%v\nthe README shows\n%v", where, g, w)
		}
		if w, g := names(idLine.FindAllStringSubmatch(sample, -1)), names(idLine.FindAllStringSubmatch(out, -1)); !slices.Equal(w, g) {
			t.Errorf("%s: the stream's event numbers are %v, the README shows %v", where, g, w)
		}
		return
	}
	for _, e := range names(wantEvents) {
		if !slices.Contains(names(gotEvents), e) {
			t.Errorf("%s: the README shows the event %s, the stream printed %v", where, e, names(gotEvents))
		}
	}
}

func sameKeys(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}
