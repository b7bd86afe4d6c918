package lint_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/analysistest"
	"golang.org/x/tools/go/analysis/checker"
	"golang.org/x/tools/go/packages"

	"sluice/internal/lint"
)

// TestRepository runs the lint over every package of the module. A failure
// lists each violation as file:line: message; fix the code, or see the
// package documentation for how to exempt a runtime part.
func TestRepository(t *testing.T) {
	root := moduleRoot(t)
	touchSources(t, root)
	cfg := &packages.Config{
		Mode: packages.NeedName | packages.NeedFiles | packages.NeedImports |
			packages.NeedTypes | packages.NeedTypesSizes | packages.NeedSyntax | packages.NeedTypesInfo,
		Dir: root,
		// Only production files are linted: tests may use real time and
		// goroutines.
		Tests: false,
	}
	pkgs, err := packages.Load(cfg, lint.Module+"/...")
	if err != nil {
		t.Fatalf("loading %s/...: %v", lint.Module, err)
	}
	var loadErrs []string
	packages.Visit(pkgs, nil, func(p *packages.Package) {
		for _, e := range p.Errors {
			loadErrs = append(loadErrs, fmt.Sprintf("%s: %v", p.PkgPath, e))
		}
	})
	if len(loadErrs) > 0 {
		t.Fatalf("cannot lint packages that do not type-check:\n%s", strings.Join(loadErrs, "\n"))
	}
	mustContain(t, pkgs, lint.Module+"/env", lint.Module+"/cmd/sluice", lint.Module+"/internal/lint")

	graph, err := checker.Analyze([]*analysis.Analyzer{lint.Analyzer}, pkgs, nil)
	if err != nil {
		t.Fatalf("analysis: %v", err)
	}
	var found []string
	for _, act := range graph.Roots {
		if act.Err != nil {
			t.Errorf("%s: %v", act.Package.PkgPath, act.Err)
		}
		fset := act.Package.Fset
		for _, d := range act.Diagnostics {
			pos := fset.Position(d.Pos)
			rel, err := filepath.Rel(root, pos.Filename)
			if err != nil {
				rel = pos.Filename
			}
			found = append(found, fmt.Sprintf("%s:%d: %s", rel, pos.Line, d.Message))
		}
	}
	slices.Sort(found)
	for _, f := range found {
		t.Error(f)
	}
	if len(found) > 0 {
		t.Logf("%d violations; the rules and how to exempt a runtime part are in internal/lint/doc.go", len(found))
	}
}

// touchSources reads every Go file of the module from this process. The
// packages are loaded by a `go list` subprocess, whose reads go test's cache
// cannot see; reading them here makes any change to a source file invalidate
// a cached pass of this test.
func touchSources(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") || d.Name() == "go.mod" {
			_, err = os.ReadFile(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func mustContain(t *testing.T, pkgs []*packages.Package, paths ...string) {
	t.Helper()
	for _, want := range paths {
		if !slices.ContainsFunc(pkgs, func(p *packages.Package) bool { return p.PkgPath == want }) {
			t.Fatalf("loading %s/... did not find %s: the lint would check nothing", lint.Module, want)
		}
	}
}

// moduleRoot finds the directory holding go.mod above the test's directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// TestRules proves each rule fires on a bad example and stays quiet on a
// good one: testdata/src/sluice mirrors the repository layout, and every
// expected report is a "// want" comment on the line it concerns. Lines
// without one must stay quiet, so exempt code (raftlog/writer, raftlog/vfs's
// os.go and sync_linux.go, transport's tcp.go and transport/tcp, node/runtime,
// env/realtime), test files, and non-core packages (sim, cmd) are covered too.
func TestRules(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), lint.Analyzer, "sluice/...")
}
