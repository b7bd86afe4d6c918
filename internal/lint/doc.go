// Package lint holds the repository's determinism lint and import rules, as
// a golang.org/x/tools/go/analysis Analyzer, and the test (lint_test.go) that
// runs it over every package of the module on each "go test ./...".
//
// It enforces DESIGN.md "Layout" and "The deterministic core":
//
//   - In a core — every production package (env, raftlog, partition,
//     transport, metadata, node and their subpackages) except the parts
//     listed in the exemptions table — no wall clock (time.Now, Since,
//     Until, After, AfterFunc, Sleep, Tick, NewTimer, NewTicker), no
//     package-level math/rand, math/rand/v2 or crypto/rand functions (building
//     a seeded generator with rand.New, NewPCG, NewChaCha8 is fine), no go
//     statements, and no range over a map or over maps.Keys/Values/All
//     unless the line, or the line before it, carries
//     "//lint:maporder-ok <reason>" (slices.Sorted(maps.Keys(m)) needs none).
//   - The import rules of the Layout table, one line each in importRules:
//     production packages never import sim, checker, scenarios or reports;
//     a core never imports a runtime part (env/realtime, raftlog/writer,
//     node/runtime, transport/tcp); env and raftlog/vfs import std only;
//     sim never imports checker or reports; checker never imports the
//     implementation; reports imports checker, std and third-party only.
//
// Only non-test files are checked: tests may use real time and goroutines.
//
// To exempt a package or a group of files that legitimately does I/O or
// starts goroutines (a runtime part), add one line to exemptions in lint.go
// saying why. To add an import rule, add one line to importRules. Single
// statements are never exempted except map ranges, with a reason on the line.
//
// lint must never be imported by production code; it is a test-time tool.
package lint
