package main

import (
	"flag"
	"fmt"
	"reflect"
	"time"

	"sluice/checker"
	"sluice/reports"
	"sluice/sim"
)

// reportRun converts one simulated run of sc into the report's terms
// (reports never imports the simulator). The faults shown are those the
// run drew from: swarm mode changes the scenario's.
func reportRun(fs *flag.FlagSet, sc sim.Scenario, r sim.Result, problems []string, res checker.Result, wall time.Duration, replay string) *reports.Run {
	rr := &reports.Run{
		Seed:        r.Seed,
		Scenario:    reports.Scenario{Name: sc.Name, Doc: sc.Doc, Faults: r.Scenario.String()},
		Problems:    problems,
		Swarm:       r.Swarm,
		SwarmMode:   r.Config.Swarm,
		FaultsEndNs: r.Config.DurationMs * 1e6,
		VirtualNs:   r.VirtualMs * 1e6,
		Wall:        wall,
		TraceHash:   r.TraceHash,
		Replay:      replay,
		History:     toChecker(r.History),
		Check:       res,
		Config:      configSettings(r.Config),
		Stats:       structSettings(r.Stats),
	}
	fs.VisitAll(func(f *flag.Flag) {
		rr.Flags = append(rr.Flags, reports.Setting{Name: f.Name, Value: f.Value.String()})
	})
	for i := range r.Config.Nodes {
		rr.Brokers = append(rr.Brokers, uint64(i+1))
	}
	for _, s := range r.Timeline {
		rr.Faults = append(rr.Faults, reports.Span{Kind: s.Kind, Nodes: s.Nodes, StartNs: s.StartNs, EndNs: s.EndNs})
	}
	return rr
}

// configSettings lists the simulator's effective configuration: every
// field but the progress callback, the scenario by name.
func configSettings(c sim.Config) []reports.Setting {
	var out []reports.Setting
	for _, s := range structSettings(c) {
		switch s.Name {
		case "Progress":
		case "Scenario":
			out = append(out, reports.Setting{Name: s.Name, Value: c.Scenario.Name})
		default:
			out = append(out, s)
		}
	}
	return out
}

// structSettings lists a struct's exported fields and their values.
func structSettings(v any) []reports.Setting {
	rv := reflect.ValueOf(v)
	var out []reports.Setting
	for i := range rv.NumField() {
		f := rv.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		val := "(set)"
		if fv := rv.Field(i); fv.Kind() != reflect.Func {
			val = fmt.Sprint(fv.Interface())
		}
		out = append(out, reports.Setting{Name: f.Name, Value: val})
	}
	return out
}
