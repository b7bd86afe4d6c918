package lint

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/tools/go/analysis"
)

// Module is the module path the rules are written against.
const Module = "sluice"

// productionRoots are the top-level folders of production packages
// (DESIGN.md "Layout"). Every package under them is a core unless exempted.
var productionRoots = []string{"env", "raftlog", "partition", "transport", "metadata", "node"}

// exemption lifts the determinism rules from a runtime part of a production
// package: a whole package (files == "") or the files of pkg whose base name
// matches the glob files. Import rules still apply to exempt code.
type exemption struct {
	pkg   string // package pattern, "sluice/x/..." matching x and below
	files string // filepath.Match glob on the base file name; "" for all
	why   string
}

// exemptions is DESIGN.md's list of code that starts goroutines or touches
// real I/O. Add a line here, with the reason, to exempt more.
var exemptions = []exemption{
	{pkg: "sluice/env/realtime/...", why: "the real clock and OS randomness the runtime hands to cores"},
	{pkg: "sluice/raftlog/writer/...", why: "the group-commit writer: goroutines that execute raftlog's writes"},
	{pkg: "sluice/raftlog/vfs", files: "os*.go", why: "the OS filesystem"},
	{pkg: "sluice/raftlog/vfs", files: "sync_*.go", why: "the OS filesystem's sync calls"},
	{pkg: "sluice/node/runtime/...", why: "the broker's event loop, connection, disk and ticker goroutines"},
	{pkg: "sluice/transport/tcp/...", why: "the TCP transport"},
	{pkg: "sluice/transport", files: "tcp*.go", why: "the TCP transport"},
}

// Pseudo-patterns usable in importRule.from and in allow and deny lists.
const (
	// production matches every package under productionRoots.
	production = "production"
	// core matches a file of a production package that no exemption covers.
	core = "core"
	// std matches a standard-library import path.
	std = "std"
	// thirdParty matches an import path outside the standard library and the
	// module.
	thirdParty = "third-party"
)

// importRule constrains what the non-test files of the packages matching from
// may import. If allow is non-empty, every import must match one of its
// patterns; no import may match a deny pattern.
type importRule struct {
	from  []string
	allow []string
	deny  []string
	why   string
}

var (
	implementation = []string{"sluice/env/...", "sluice/raftlog/...", "sluice/partition/...", "sluice/transport/...",
		"sluice/metadata/...", "sluice/node/...", "sluice/sim/...", "sluice/scenarios/..."}
	runtimeParts = []string{"sluice/env/realtime/...", "sluice/raftlog/writer/...", "sluice/node/runtime/...", "sluice/transport/tcp/..."}
)

// importRules is DESIGN.md "Layout", one rule a line.
var importRules = []importRule{
	{from: []string{production}, deny: []string{"sluice/sim/...", "sluice/checker/...", "sluice/scenarios/...", "sluice/reports/..."}, why: "production code never depends on the simulator, its checks or its reports"},
	{from: []string{production}, deny: []string{"sluice/bench/..."}, why: "bench (the benchmark driver; not a core, so free to start goroutines and do I/O) is never a dependency of production code"},
	{from: []string{core}, deny: runtimeParts, why: "a core must not know what drives it; runtime parts import cores, never the reverse"},
	{from: []string{"sluice/env/..."}, allow: []string{std, "sluice/env/..."}, why: "env imports std only"},
	{from: []string{"sluice/raftlog/vfs/..."}, allow: []string{std, "sluice/raftlog/vfs/..."}, why: "raftlog/vfs imports std only"},
	{from: []string{"sluice/sim/..."}, deny: []string{"sluice/checker/...", "sluice/reports/..."}, why: "the simulator records histories; only checker judges them"},
	{from: []string{"sluice/checker/..."}, deny: implementation, why: "checker never imports the implementation it checks"},
	{from: []string{"sluice/reports/..."}, allow: []string{std, thirdParty, "sluice/checker/...", "sluice/reports/..."}, why: "reports import checker, std and third-party libraries only"},
}

// forbidden lists package-level functions and variables a core must not use.
// With names empty, every package-level function and variable of path is
// forbidden except those in except.
type forbidden struct {
	path   string
	names  []string
	except []string
	why    string
}

var forbiddenObjects = []forbidden{
	{path: "time", names: []string{"Now", "Since", "Until", "After", "AfterFunc", "Sleep", "Tick", "NewTimer", "NewTicker"}, why: "reads or waits on the wall clock; use env.Clock and Tick inputs"},
	{path: "math/rand", except: []string{"New", "NewSource", "NewZipf"}, why: "uses the global random source; use env.Rand"},
	{path: "math/rand/v2", except: []string{"New", "NewPCG", "NewChaCha8", "NewZipf"}, why: "uses the global random source; use env.Rand"},
	{path: "crypto/rand", why: "reads operating-system randomness; use env.Rand (an io.Reader)"},
}

// MapOrderOK is the comment that allows one range over a map (or a
// maps.Keys/Values/All sequence) on its line or the line after it. A reason
// must follow it.
const MapOrderOK = "//lint:maporder-ok"

// Analyzer reports violations of the determinism rules and the import rules.
var Analyzer = &analysis.Analyzer{
	Name: "sluicelint",
	Doc:  "determinism and import rules of sluice's DESIGN.md (see package sluice/internal/lint)",
	Run:  run,
}

func run(pass *analysis.Pass) (any, error) {
	pkg := strings.TrimSuffix(pass.Pkg.Path(), "_test")
	for _, file := range pass.Files {
		name := pass.Fset.File(file.Pos()).Name()
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		isCore := isCoreFile(pkg, filepath.Base(name))
		checkImports(pass, pkg, isCore, file)
		if isCore {
			checkDeterminism(pass, pkg, file)
		}
	}
	return nil, nil
}

// matchPkg reports whether import path p matches pattern: an exact path, or
// "x/..." for x and every package below it.
func matchPkg(pattern, p string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "/..."); ok {
		return p == prefix || strings.HasPrefix(p, prefix+"/")
	}
	return pattern == p
}

func inModule(p string) bool { return matchPkg(Module+"/...", p) }

func isProduction(pkg string) bool {
	return slices.ContainsFunc(productionRoots, func(root string) bool {
		return matchPkg(Module+"/"+root+"/...", pkg)
	})
}

func isCoreFile(pkg, base string) bool {
	if !isProduction(pkg) {
		return false
	}
	for _, e := range exemptions {
		if !matchPkg(e.pkg, pkg) {
			continue
		}
		if e.files == "" {
			return false
		}
		if ok, _ := filepath.Match(e.files, base); ok {
			return false
		}
	}
	return true
}

// isStd reports whether p is a standard-library path: its first element has
// no dot, and it is not in the module.
func isStd(p string) bool {
	first, _, _ := strings.Cut(p, "/")
	return !strings.Contains(first, ".") && !inModule(p)
}

// matchImport reports whether import path p matches an allow or deny pattern.
func matchImport(pattern, p string) bool {
	switch pattern {
	case std:
		return isStd(p)
	case thirdParty:
		return !isStd(p) && !inModule(p)
	}
	return matchPkg(pattern, p)
}

// matchFrom reports whether a file of pkg (a core file or not) is governed by
// a rule's from pattern.
func matchFrom(pattern, pkg string, isCore bool) bool {
	switch pattern {
	case production:
		return isProduction(pkg)
	case core:
		return isCore
	}
	return matchPkg(pattern, pkg)
}

func checkImports(pass *analysis.Pass, pkg string, isCore bool, file *ast.File) {
	for _, spec := range file.Imports {
		imp, err := strconv.Unquote(spec.Path.Value)
		if err != nil || imp == "C" {
			continue
		}
		for _, rule := range importRules {
			if !slices.ContainsFunc(rule.from, func(p string) bool { return matchFrom(p, pkg, isCore) }) {
				continue
			}
			matches := func(p string) bool { return matchImport(p, imp) }
			if len(rule.allow) > 0 && !slices.ContainsFunc(rule.allow, matches) {
				pass.Reportf(spec.Pos(), "import rule: %s may import only %s, not %q (%s)",
					pkg, strings.Join(rule.allow, ", "), imp, rule.why)
			}
			if i := slices.IndexFunc(rule.deny, matches); i >= 0 {
				pass.Reportf(spec.Pos(), "import rule: %s must not import %q (matches %s: %s)",
					pkg, imp, rule.deny[i], rule.why)
			}
		}
	}
}

func checkDeterminism(pass *analysis.Pass, pkg string, file *ast.File) {
	okLines := mapOrderComments(pass, file)
	sortedArgs := sortedCallArgs(pass, file)
	ast.Inspect(file, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			pass.Reportf(n.Pos(), "determinism: go statement in core package %s; goroutines belong to the runtime (node/runtime, raftlog/writer), cores return work as outputs", pkg)
		case *ast.Ident:
			checkForbiddenUse(pass, pkg, n)
		case *ast.RangeStmt:
			if t := pass.TypesInfo.TypeOf(n.X); t != nil && isMap(t) {
				reportMapOrder(pass, okLines, n.Pos(), fmt.Sprintf("range over map %s", types.ExprString(n.X)), pkg)
			}
		case *ast.CallExpr:
			if name := mapsIterator(pass, n); name != "" && !sortedArgs[n] {
				reportMapOrder(pass, okLines, n.Pos(), name+" yields in random order", pkg)
			}
		}
		return true
	})
}

func checkForbiddenUse(pass *analysis.Pass, pkg string, id *ast.Ident) {
	obj := pass.TypesInfo.Uses[id]
	if obj == nil || obj.Pkg() == nil || obj.Pkg().Scope().Lookup(obj.Name()) != obj {
		return // not a package-level object: a method, field or local
	}
	switch obj.(type) {
	case *types.Func, *types.Var:
	default:
		return
	}
	for _, f := range forbiddenObjects {
		if obj.Pkg().Path() != f.path {
			continue
		}
		banned := slices.Contains(f.names, obj.Name()) ||
			(len(f.names) == 0 && !slices.Contains(f.except, obj.Name()))
		if banned {
			pass.Reportf(id.Pos(), "determinism: %s.%s in core package %s %s",
				f.path, obj.Name(), pkg, f.why)
		}
	}
}

// isMap reports whether ranging over a value of type t iterates a map,
// including a type parameter whose every type is a map.
func isMap(t types.Type) bool {
	if tp, ok := types.Unalias(t).(*types.TypeParam); ok {
		iface, ok := tp.Constraint().Underlying().(*types.Interface)
		if !ok || iface.NumEmbeddeds() == 0 {
			return false
		}
		for i := range iface.NumEmbeddeds() {
			if !embeddedIsMaps(iface.EmbeddedType(i)) {
				return false
			}
		}
		return true
	}
	_, ok := t.Underlying().(*types.Map)
	return ok
}

func embeddedIsMaps(t types.Type) bool {
	u, ok := t.(*types.Union)
	if !ok {
		return isMap(t)
	}
	for i := range u.Len() {
		if !isMap(u.Term(i).Type()) {
			return false
		}
	}
	return true
}

// mapsIterator returns "maps.Keys" (or Values, All) if call calls that
// function of package maps, and "" otherwise.
func mapsIterator(pass *analysis.Pass, call *ast.CallExpr) string {
	fn := calledFunc(pass, call)
	if fn == nil || fn.Pkg() == nil || fn.Pkg().Path() != "maps" {
		return ""
	}
	switch fn.Name() {
	case "Keys", "Values", "All":
		return "maps." + fn.Name()
	}
	return ""
}

func calledFunc(pass *analysis.Pass, call *ast.CallExpr) *types.Func {
	fun := ast.Unparen(call.Fun)
	if ix, ok := fun.(*ast.IndexExpr); ok { // explicit instantiation
		fun = ix.X
	}
	var id *ast.Ident
	switch f := fun.(type) {
	case *ast.Ident:
		id = f
	case *ast.SelectorExpr:
		id = f.Sel
	default:
		return nil
	}
	fn, _ := pass.TypesInfo.Uses[id].(*types.Func)
	return fn
}

// sortedCallArgs returns the calls that are the argument of slices.Sorted,
// SortedFunc or SortedStableFunc, whose result does not depend on map order.
func sortedCallArgs(pass *analysis.Pass, file *ast.File) map[*ast.CallExpr]bool {
	args := map[*ast.CallExpr]bool{}
	ast.Inspect(file, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) == 0 {
			return true
		}
		fn := calledFunc(pass, call)
		if fn == nil || fn.Pkg() == nil || fn.Pkg().Path() != "slices" || !strings.HasPrefix(fn.Name(), "Sorted") {
			return true
		}
		if arg, ok := ast.Unparen(call.Args[0]).(*ast.CallExpr); ok {
			args[arg] = true
		}
		return true
	})
	return args
}

// mapOrderComment is a MapOrderOK comment.
type mapOrderComment struct {
	hasReason bool
	// alone is true when nothing but space precedes the comment on its line:
	// only such a comment covers the line after it, so a trailing comment on
	// one loop cannot silently cover the loop nested below it.
	alone bool
}

// mapOrderComments returns the MapOrderOK comments of file by line.
func mapOrderComments(pass *analysis.Pass, file *ast.File) map[int]mapOrderComment {
	lines := map[int]mapOrderComment{}
	tf := pass.Fset.File(file.Pos())
	src, err := pass.ReadFile(tf.Name())
	if err != nil {
		src = nil // without the source no comment counts as alone: stricter
	}
	for _, group := range file.Comments {
		for _, c := range group.List {
			rest, ok := strings.CutPrefix(c.Text, MapOrderOK)
			if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '\t') {
				continue
			}
			line := tf.Line(c.Pos())
			start, end := tf.Offset(tf.LineStart(line)), tf.Offset(c.Pos())
			alone := src != nil && end <= len(src) && strings.TrimSpace(string(src[start:end])) == ""
			lines[line] = mapOrderComment{hasReason: strings.TrimSpace(rest) != "", alone: alone}
		}
	}
	return lines
}

func reportMapOrder(pass *analysis.Pass, comments map[int]mapOrderComment, pos token.Pos, what, pkg string) {
	line := pass.Fset.Position(pos).Line
	c, ok := comments[line]
	if above, found := comments[line-1]; !ok && found && above.alone {
		c, ok = above, true
	}
	switch {
	case ok && !c.hasReason:
		pass.Reportf(pos, "determinism: %s needs a reason after %s", what, MapOrderOK)
	case !ok:
		pass.Reportf(pos, "determinism: %s in core package %s: iteration order is random and can leak into outputs; sort the keys (slices.Sorted(maps.Keys(m))) or add %s <reason>", what, pkg, MapOrderOK)
	}
}
