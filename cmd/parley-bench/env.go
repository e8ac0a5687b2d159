package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Env is what a scenario runs in: the parsed common flags, the server (own
// subprocess or -url), the client and the report being filled.
type Env struct {
	Ctx         context.Context
	Duration    time.Duration // the measured window
	Warmup      time.Duration // load before the window, not measured
	Concurrency int
	Rate        float64 // total sends per second; 0: flat out
	Report      *Report

	url        string
	parleyBin  string
	pid        int
	masterKey  string
	dbSync     string
	serverArgs []string
	cpuProfile string
	keep       bool

	tmp     string
	srv     *serverProc
	client  *Client
	profile sync.WaitGroup
}

// Own says whether the tool runs the server itself (no -url).
func (e *Env) Own() bool { return e.url == "" }

// TempDir is the run's temporary directory, removed at the end.
func (e *Env) TempDir() (string, error) {
	if e.tmp == "" {
		dir, err := os.MkdirTemp("", "parley-bench-")
		if err != nil {
			return "", err
		}
		e.tmp = dir
	}
	return e.tmp, nil
}

// DBPath is the database file the server will use; a scenario may fill it
// before calling StartServer.
func (e *Env) DBPath() (string, error) {
	if !e.Own() {
		return "", errors.New("this scenario prepares the database file itself: run it without -url")
	}
	dir, err := e.TempDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "data", "parley.db"), nil
}

// StartServer starts the server (or connects to -url) and returns a client.
func (e *Env) StartServer() (*Client, error) {
	if e.client != nil {
		return e.client, nil
	}
	if !e.Own() {
		if err := waitReady(e.Ctx, e.url, nil); err != nil {
			return nil, err
		}
		e.client = newClient(e.url, e.masterKey, e.Concurrency)
		return e.client, nil
	}
	dir, err := e.TempDir()
	if err != nil {
		return nil, err
	}
	bin, err := e.ParleyBin()
	if err != nil {
		return nil, err
	}
	db, _ := e.DBPath()
	if e.masterKey == "" {
		e.masterKey = randomKey()
	}
	args := append([]string{"-db-sync", e.dbSync}, e.serverArgs...)
	e.srv, err = startServer(e.Ctx, bin, db, filepath.Join(dir, "parley.log"), e.masterKey, e.cpuProfile != "", args)
	if err != nil {
		return nil, err
	}
	e.pid = e.srv.Pid
	e.client = newClient(e.srv.URL, e.srv.MasterKey, e.Concurrency)
	return e.client, nil
}

// ParleyBin is the parley binary: -parley, or this tree's cmd/parley built
// into the temporary directory (once).
func (e *Env) ParleyBin() (string, error) {
	if e.parleyBin != "" {
		return e.parleyBin, nil
	}
	dir, err := e.TempDir()
	if err != nil {
		return "", err
	}
	bin, err := buildServer(e.Ctx, dir)
	if err != nil {
		return "", err
	}
	e.parleyBin = bin
	return bin, nil
}

// ServerPid is the server's process id, 0 when unknown (-url without -pid).
func (e *Env) ServerPid() int { return e.pid }

// RSSKiB is the server's resident set, when its pid is known.
func (e *Env) RSSKiB() (int64, bool) {
	if e.pid == 0 {
		return 0, false
	}
	v, err := rssKiB(e.pid)
	return v, err == nil
}

// CPU measures CPU use over a span: call it at the start, and the function
// it returns at the end; that reports the server's and this tool's CPU time
// as percentages of one core (200% = both cores of a 2-core machine). The
// machine's total is measured too: what neither used was taken by other
// processes, which makes a run noisy.
func (e *Env) CPU() func() cpuUse {
	t0 := time.Now()
	s0, sok := time.Duration(0), false
	if e.pid != 0 {
		if v, err := cpuTime(e.pid); err == nil {
			s0, sok = v, true
		}
	}
	r0, w0, iok := int64(0), int64(0), false
	if e.pid != 0 {
		var err error
		r0, w0, err = ioCalls(e.pid)
		iok = err == nil
	}
	b0 := selfCPU()
	m0, mok := machineBusy()
	return func() cpuUse {
		wall := time.Since(t0).Seconds()
		u := cpuUse{Server: -1, Machine: -1, ServerReads: -1, ServerWrites: -1}
		if sok {
			if v, err := cpuTime(e.pid); err == nil {
				u.Server = 100 * (v - s0).Seconds() / wall
			}
		}
		if iok {
			if r1, w1, err := ioCalls(e.pid); err == nil {
				u.ServerReads, u.ServerWrites = r1-r0, w1-w0
			}
		}
		u.Bench = 100 * (selfCPU() - b0).Seconds() / wall
		if m1, ok := machineBusy(); ok && mok {
			u.Machine = 100 * (m1 - m0).Seconds() / wall
		}
		return u
	}
}

type cpuUse struct {
	Server, Bench, Machine float64
	// ServerReads, ServerWrites: the server's read and write system calls
	// over the span (ioCalls), -1 when unknown.
	ServerReads, ServerWrites int64
}

// CPUWindow measures CPU use over the window w, from a goroutine; the
// function it returns waits for the window to end.
func (e *Env) CPUWindow(w *window) func() cpuUse {
	ch := make(chan cpuUse, 1)
	go func() {
		time.Sleep(time.Until(w.Start()))
		done := e.CPU()
		time.Sleep(time.Until(w.End()))
		ch <- done()
	}()
	return func() cpuUse { return <-ch }
}

// ReportCPU records the CPU split measured by CPU or CPUWindow, and
// returns it.
func (e *Env) ReportCPU(done func() cpuUse) cpuUse {
	u := done()
	if u.Server >= 0 {
		e.Report.Metric("server_cpu_pct", "server CPU", u.Server, "% of a core")
	}
	e.Report.Metric("bench_cpu_pct", "load tool CPU", u.Bench, "% of a core")
	if u.Machine >= 0 {
		others := max(u.Machine-u.Bench-max(u.Server, 0), 0)
		e.Report.Metric("others_cpu_pct", "other processes' CPU (noise)", others, "% of a core")
		if others > 20 {
			e.Report.Note("other processes used %.0f%% of a core during the window: the figures are disturbed", others)
		}
	}
	return u
}

// machineBusy is the CPU time all processors spent neither idle nor waiting
// for I/O since boot (/proc/stat).
func machineBusy() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, false
	}
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 7 { // idle, iowait; steal, guest (guest is in user already)
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return time.Duration(busy) * time.Second / 100, true
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ProfileWindow takes a CPU profile of the server over [start, start+d]
// when -cpuprofile was given (own server only).
func (e *Env) ProfileWindow(start time.Time, d time.Duration) {
	if e.cpuProfile == "" || e.srv == nil || e.srv.PprofAddr == "" {
		return
	}
	secs := int(d.Round(time.Second) / time.Second)
	if secs < 1 {
		secs = 1
	}
	e.profile.Add(1)
	go func() {
		defer e.profile.Done()
		time.Sleep(time.Until(start))
		url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", e.srv.PprofAddr, secs)
		if err := fetchTo(e.Ctx, url, e.cpuProfile); err != nil {
			progress("cpu profile: %v", err)
			return
		}
		progress("cpu profile of the server written to %s (go tool pprof -top %s)", e.cpuProfile, e.cpuProfile)
	}()
}

// HeapProfile saves the server's heap profile next to -cpuprofile (as
// FILE.heap) when profiling is on.
func (e *Env) HeapProfile() {
	if e.cpuProfile == "" || e.srv == nil || e.srv.PprofAddr == "" {
		return
	}
	out := e.cpuProfile + ".heap"
	if err := fetchTo(e.Ctx, "http://"+e.srv.PprofAddr+"/debug/pprof/heap", out); err != nil {
		progress("heap profile: %v", err)
		return
	}
	progress("heap profile of the server written to %s", out)
}

// MemStats reads the server's runtime memory figures (the "# Name = value"
// lines of /debug/pprof/heap?debug=1) when profiling is on.
func (e *Env) MemStats() map[string]float64 {
	if e.srv == nil || e.srv.PprofAddr == "" {
		return nil
	}
	req, _ := http.NewRequestWithContext(e.Ctx, http.MethodGet, "http://"+e.srv.PprofAddr+"/debug/pprof/heap?debug=1", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]float64{}
	for _, line := range strings.Split(string(b), "\n") {
		name, val, ok := strings.Cut(strings.TrimPrefix(line, "# "), " = ")
		if !ok || !strings.HasPrefix(line, "# ") {
			continue
		}
		if v, err := strconv.ParseFloat(strings.Fields(val + " ")[0], 64); err == nil {
			out[name] = v
		}
	}
	return out
}

func fetchTo(ctx context.Context, url, path string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s: %s %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Close stops the server and removes the temporary directory.
func (e *Env) Close() error {
	e.profile.Wait()
	var err error
	if e.client != nil {
		e.client.Close()
	}
	if e.srv != nil {
		if err = e.srv.Stop(); err == nil {
			progress("parley stopped")
		}
	}
	if e.tmp != "" {
		if e.keep {
			progress("kept %s", e.tmp)
		} else {
			os.RemoveAll(e.tmp)
		}
	}
	return err
}

func randomKey() string {
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// progress tells what is going on, on stderr: stdout is the report.
func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "parley-bench: "+format+"\n", args...)
}
