package main

import (
	"fmt"
	"sort"
	"strings"
)

// Scenario is one load shape. Each lives in its own file (scenario_*.go) and
// registers itself from init(); flags only it uses are declared in that file
// too, so a new scenario is one new file.
type Scenario struct {
	Name string
	Help string
	// Concurrency is the default of -concurrency for this scenario.
	Concurrency int
	// NoBaseline skips the companion baseline run (the baseline scenario
	// itself).
	NoBaseline bool
	// Run drives the load and fills env.Report. It calls env.StartServer
	// when it wants the server (after preparing its database, if it does).
	Run func(env *Env) error
}

var scenarios = map[string]*Scenario{}

func register(s *Scenario) {
	if _, dup := scenarios[s.Name]; dup {
		panic("parley-bench: scenario registered twice: " + s.Name)
	}
	scenarios[s.Name] = s
}

func scenarioNames() []string {
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func scenarioHelp() string {
	var b strings.Builder
	for _, n := range scenarioNames() {
		fmt.Fprintf(&b, "  %-10s %s\n", n, scenarios[n].Help)
	}
	return b.String()
}
