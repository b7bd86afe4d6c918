//go:build plantbugs

package main

import (
	"path/filepath"
	"strings"
	"testing"

	"sluice/partition"
	"sluice/reports"
)

// TestPlantedBugReport: a seed that catches a planted bug fails the run
// (status 1), its banner is the output's last lines and names the report
// page, and the page and the index show the failure.
//
//	go test -tags plantbugs -run PlantedBugReport ./cmd/sluice/
func TestPlantedBugReport(t *testing.T) {
	partition.PlantedBug = "fetch-above-hw" // caught at the first seed
	defer func() { partition.PlantedBug = "" }()
	dir := t.TempDir()
	status, out, errOut := runArgs("sim", "-seed", "1", "-duration", "3s", "-report", dir)
	if status != 1 {
		t.Fatalf("status %d, want 1\n%s\n%s", status, out, errOut)
	}
	assertEndsWithBanner(t, out)
	page := filepath.Join(dir, reports.RunDir("kitchen-sink", 1), "index.html")
	for _, want := range []string{"VIOLATION  scenario kitchen-sink  seed 1", "read-above-hw in partition", "see:      " + page,
		"replay:   go run ./cmd/sluice sim -scenario kitchen-sink -seed 1 -duration 3s -members 3 -faults=true"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	html := readFile(t, page)
	for _, want := range []string{"FAIL", "<td>read-above-hw</td>", "read-above-hw in partition"} {
		if !strings.Contains(html, want) {
			t.Errorf("report page lacks %q", want)
		}
	}
	if index := readFile(t, filepath.Join(dir, "index.html")); !strings.Contains(index, "<h2>Failed</h2>") || !strings.Contains(index, "1 failed") {
		t.Errorf("the index does not list the failure:\n%s", index)
	}
}
