package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// serverProc is a parley server run as a subprocess: the real binary, real
// HTTP and SSE, and a real SQLite file in a temporary directory.
type serverProc struct {
	cmd       *exec.Cmd
	Pid       int
	URL       string
	MasterKey string
	PprofAddr string
	logPath   string
	exited    chan struct{}
	waitErr   error
}

// buildServer compiles cmd/parley into dir.
func buildServer(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "parley")
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/parley-im/parley/cmd/parley")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build parley: %w", err)
	}
	progress("built %s in %s", bin, time.Since(start).Round(time.Millisecond))
	return bin, nil
}

// startServer starts bin on a loopback port chosen by the kernel (-addr
// 127.0.0.1:0; the server prints the address it got) and waits for /readyz.
func startServer(ctx context.Context, bin, dbPath, logPath, masterKey string, pprof bool, extra []string) (*serverProc, error) {
	args := []string{"-addr", "127.0.0.1:0", "-db", dbPath, "-master-key", masterKey}
	s := &serverProc{MasterKey: masterKey, logPath: logPath, exited: make(chan struct{})}
	if pprof {
		addr, err := freeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		s.PprofAddr = addr
		args = append(args, "-pprof", addr)
	}
	args = append(args, extra...)
	logf, err := os.Create(s.logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child has its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Stderr = logf
	// Its own process group, so that a Ctrl-C reaches the load tool, which
	// then stops the server in order; Pdeathsig kills it should the tool
	// itself die without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start parley: %w", err)
	}
	s.cmd, s.Pid = cmd, cmd.Process.Pid
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			if rest, ok := strings.CutPrefix(line, "parley: listening on "); ok {
				addr, _, _ := strings.Cut(rest, " ")
				select {
				case addrc <- addr:
				default:
				}
			}
			if _, key, ok := strings.Cut(line, "generated master key"); ok {
				if i := strings.LastIndex(key, ": "); i >= 0 {
					s.MasterKey = strings.TrimSpace(key[i+2:])
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	fail := func(err error) (*serverProc, error) {
		s.Stop()
		return nil, fmt.Errorf("%w\n%s", err, s.logTail())
	}
	select {
	case addr := <-addrc:
		s.URL = "http://" + addr
	case <-s.exited:
		return fail(fmt.Errorf("parley exited before listening: %v", s.waitErr))
	case <-time.After(60 * time.Second):
		return fail(errors.New("parley did not print its address within 60s"))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	if err := waitReady(ctx, s.URL, s.exited); err != nil {
		return fail(err)
	}
	progress("parley pid %d ready at %s (database %s)", s.Pid, s.URL, dbPath)
	if s.PprofAddr != "" {
		progress("parley pprof at http://%s/debug/pprof/", s.PprofAddr)
	}
	return s, nil
}

func waitReady(ctx context.Context, base string, exited <-chan struct{}) error {
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s/readyz not ready within 60s (last: %v)", base, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return errors.New("parley exited while starting")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop sends SIGTERM and waits for a clean exit, killing the server (and
// anything in its group) if it takes longer than 30 s.
func (s *serverProc) Stop() error {
	if s == nil || s.cmd == nil {
		return nil
	}
	select {
	case <-s.exited:
		return nil
	default:
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		if s.waitErr != nil {
			return fmt.Errorf("parley exited: %v\n%s", s.waitErr, s.logTail())
		}
		return nil
	case <-time.After(30 * time.Second):
		syscall.Kill(-s.Pid, syscall.SIGKILL)
		<-s.exited
		return errors.New("parley did not stop within 30s of SIGTERM; killed")
	}
}

// Alive reports whether the server is still running.
func (s *serverProc) Alive() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

func (s *serverProc) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return "server log (last lines):\n  " + strings.Join(lines, "\n  ")
}

// rssKiB is the resident set of a process (VmRSS of /proc/PID/status).
func rssKiB(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				return strconv.ParseInt(f[0], 10, 64)
			}
		}
	}
	return 0, errors.New("no VmRSS in /proc status")
}

// cpuTime is the user+system CPU time a process has used so far.
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name may contain spaces: fields start after its ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, errors.New("short /proc stat")
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks, nil
}

// ioCalls is how many read and write system calls (read, write, pread,
// pwrite and their vector forms, sockets and files alike) a process has
// made so far (/proc/PID/io syscr, syscw).
func ioCalls(pid int) (reads, writes int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0, 0, err
	}
	found := 0
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "syscr: "); ok {
			reads, err = strconv.ParseInt(v, 10, 64)
			found++
		} else if v, ok := strings.CutPrefix(line, "syscw: "); ok {
			writes, err = strconv.ParseInt(v, 10, 64)
			found++
		}
		if err != nil {
			return 0, 0, err
		}
	}
	if found != 2 {
		return 0, 0, errors.New("no syscr/syscw in /proc io")
	}
	return reads, writes, nil
}

func freeLoopbackAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
