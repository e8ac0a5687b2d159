// Command parley-bench is Parley's load tool (issue 3). It starts a fresh
// parley server as a subprocess — the real binary on a loopback port with a
// temporary SQLite database — or uses -url, runs one scenario, and prints a
// readable table followed by one JSON line with the figures:
//
//	go run ./cmd/parley-bench -scenario send -duration 10s -concurrency 64
//	go run ./cmd/parley-bench -scenario send -rate 2000
//	go run ./cmd/parley-bench -scenario group -members 500 -rate 600
//	go run ./cmd/parley-bench -scenario idle -streams 2000
//	go run ./cmd/parley-bench -scenario history -messages 1000000
//	go run ./cmd/parley-bench -scenario room -streams 5000 -rate 60
//	go run ./cmd/parley-bench -scenario query -query-convs 100000 -duration 44s
//	go run ./cmd/parley-bench -scenario login -conversations 1000
//	go run ./cmd/parley-bench -scenario busy -concurrency 64
//	go run ./cmd/parley-bench -scenario import -import-convs 10000 -import-messages 1000000
//
// Send, busy, group, idle and history also run baseline — the same send load
// against a minimal in-process net/http handler — for half the duration,
// and report their figure as a ratio to it (room, query and login measure
// latencies at a fixed load and skip it; so does import, which times
// `parley import leancloud` on a generated LeanCloud export). Scenarios live
// one per file (scenario_*.go) and register themselves from init().
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

func main() { os.Exit(run()) }

func run() int {
	var (
		name        = flag.String("scenario", "", "scenario to run (listed above)")
		duration    = flag.Duration("duration", 10*time.Second, "measured duration")
		warmup      = flag.Duration("warmup", time.Second, "load before the measured window (not counted)")
		concurrency = flag.Int("concurrency", 0, "concurrent senders or readers (default: the scenario's)")
		rate        = flag.Float64("rate", 0, "total sends per second (0: flat out)")
		url         = flag.String("url", "", "use a running server instead of starting one")
		pid         = flag.Int("pid", 0, "with -url: the server's pid, for RSS and CPU figures")
		masterKey   = flag.String("master-key", "", "with -url: the server's master key (default: a random one for the own server)")
		parley      = flag.String("parley", "", "prebuilt parley binary, built from this tree (history seeds the database with this tree's store package; default: go build ./cmd/parley into the temp dir)")
		dbSync      = flag.String("db-sync", "full", "the own server's -db-sync: full (durable) or normal")
		serverArgs  = flag.String("server-args", "", "extra flags for the own server, space-separated")
		baseline    = flag.Bool("baseline", true, "also run baseline (the same send load against a minimal handler) and report the ratio to it")
		baselineDur = flag.Duration("baseline-duration", 0, "duration of the companion baseline run (0: half of -duration)")
		cpuProfile  = flag.String("cpuprofile", "", "write a CPU profile of the own server over the measured window to this file")
		selfProfile = flag.String("selfprofile", "", "write a CPU profile of this load tool (whole run) to this file")
		keep        = flag.Bool("keep", false, "keep the temporary directory (binary, database, server log)")
	)
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: parley-bench -scenario NAME [flags]\n\nscenarios:\n%s\nflags:\n", scenarioHelp())
		flag.PrintDefaults()
	}
	flag.Parse()
	sc := scenarios[*name]
	if sc == nil || flag.NArg() > 0 {
		if *name != "" {
			fmt.Fprintf(os.Stderr, "parley-bench: unknown scenario %q\n", *name)
		}
		flag.Usage()
		return 2
	}
	if *concurrency <= 0 {
		*concurrency = max(sc.Concurrency, 1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		stop() // a second Ctrl-C ends the tool at once; the server dies with it (Pdeathsig)
	}()

	env := &Env{
		Ctx: ctx, Duration: *duration, Warmup: *warmup, Concurrency: *concurrency, Rate: *rate,
		Report: &Report{Scenario: sc.Name},
		url:    *url, parleyBin: *parley, pid: *pid, masterKey: *masterKey, dbSync: *dbSync,
		serverArgs: strings.Fields(*serverArgs), cpuProfile: *cpuProfile, keep: *keep,
	}
	rep := env.Report
	rep.Param("duration", duration.String())
	rep.Param("warmup", warmup.String())
	rep.Param("concurrency", *concurrency)
	if *rate > 0 {
		rep.Param("rate", *rate)
	}
	if env.Own() {
		rep.Param("server", "own subprocess, db-sync "+*dbSync)
	} else {
		rep.Param("server", *url)
	}
	rep.Param("cpus", runtime.NumCPU())

	if *selfProfile != "" {
		f, err := os.Create(*selfProfile)
		if err != nil {
			progress("%v", err)
			return 1
		}
		pprof.StartCPUProfile(f)
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	if !*baseline {
		*baselineDur = -1
	}
	err := runScenario(env, sc, *baselineDur)
	if cerr := env.Close(); cerr != nil {
		progress("%v", cerr)
		if err == nil {
			err = cerr
		}
	}
	if err != nil {
		progress("%s: %v", sc.Name, err)
		if ctx.Err() != nil {
			return 130
		}
		return 1
	}
	rep.WriteTable(os.Stdout)
	os.Stdout.Write(append(rep.JSON(), '\n'))
	return 0
}

func runScenario(env *Env, sc *Scenario, baselineDur time.Duration) error {
	if baselineDur == 0 {
		baselineDur = env.Duration / 2
	}
	var base float64
	if !sc.NoBaseline && baselineDur > 0 {
		progress("baseline: %d senders against a minimal in-process handler for %s", env.Concurrency, baselineDur)
		res, err := runBaseline(env, baselineDur)
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		base = res.PerSec()
		progress("baseline: %.0f requests/s", base)
	}
	if err := sc.Run(env); err != nil {
		return err
	}
	if base > 0 {
		env.Report.Metric("baseline_ops_per_sec", "baseline (same load, minimal handler)", base, "req/s")
		// At a fixed rate the throughput is the rate: no ratio to a ceiling.
		if ops, ok := env.Report.Lookup("ops_per_sec"); ok && env.Rate == 0 {
			env.Report.Metric("ratio_to_baseline", "ratio to baseline", ops/base, "")
		}
	}
	return nil
}
