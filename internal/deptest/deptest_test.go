// Package deptest checks which of the module's packages may import which, in
// the spirit of tailscale's deptest: the layering the README describes (the
// root's domain types and seams; web and process over those seams; adapters
// implementing them; cmd wiring it all) holds because a test says so.
//
// Only production code is checked (a package's non-test files); tests may
// import what they need. A rule covers what a package links, not only what it
// imports itself, unless it says direct; each violation is reported once, as
// the import edge where the forbidden package comes in.
package deptest_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os/exec"
	"path"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/voicehook/voicehook"

// rule forbids the packages that match from to link (or, direct, to import)
// the packages for which forbid is true.
type rule struct {
	from   string                // the packages it governs, in words
	match  func(pkg string) bool // the packages it governs
	direct bool                  // only their own imports
	forbid func(from, dep string) bool
	why    string
}

var rules = []rule{
	{
		from: "the root", match: isRoot, forbid: not2(inModule, isRoot),
		why: "the root holds the domain types and the seams: every package builds on it, and it on no package of this module",
	},
	{
		from: "any package", match: inModule, forbid: dep(under("cmd")),
		why: "cmd/ is the top: wiring and commands, never a library",
	},
	{
		from: "web", match: under("web"), forbid: dep(storeSide),
		why: "web reaches jobs, events and audio only through the root's seams: no process, store, adapter, SQL driver or queue",
	},
	{
		from: "web", match: under("web"), direct: true, forbid: dep(is("database/sql")),
		why: "web holds no SQL",
	},
	{
		from: "process", match: under("process"), forbid: dep(storeSide),
		why: "process decides through plain data over the root's seams: no store, adapter, SQL driver or queue",
	},
	{
		from: "process", match: under("process"), direct: true, forbid: dep(is("database/sql")),
		why: "process holds no SQL",
	},
	{
		from: "an adapter", match: isAdapter, forbid: func(from, d string) bool { return isAdapter(d) && top(d) != top(from) },
		why: "adapters are independent of one another; cmd/voicehook wires them together",
	},
	{
		from: "an adapter", match: isAdapter,
		forbid: func(from, d string) bool {
			return inModule(d) && !isRoot(d) && !isAdapter(d) && !isHelper(d) && !(under("internal")(d) && !under("internal/bench")(d))
		},
		why: "an adapter implements the root's seams over its backend: of this module it uses only the root and internal/",
	},
	{
		from: "internal/", match: under("internal"), forbid: dep(anyOf(under("web", "process", "cmd"), isAdapter)),
		why: "internal/ packages sit below web, process and the adapters (the bench is handed its server by cmd/voicehook)",
	},
	{
		from: "production code", match: not1(anyOf(isHelper, under("cmd/voicehook", "internal/bench"))), forbid: dep(isHelper),
		why: "test helpers are for tests (and for cmd/voicehook's demo and internal/bench, which use internal/audiotest)",
	},
	{
		from: "production code", match: not1(isHelper), forbid: dep(is("testing")),
		why: "binaries carry no test code",
	},
	{
		from: "any package", match: not1(anyOf(under("sqlite", "postgres", "cmd", "web", "process", "internal/dbtest", "internal/bench"))),
		forbid: dep(sqlDriver),
		why:    "only the sqlite and postgres adapters link a SQL driver (and cmd, and the bench's and tests' fresh schemas)",
	},
}

// storeSide is what web and process must not link: the queue, the store and
// its drivers, and the adapters.
func storeSide(p string) bool {
	return under("process", "internal/sqlstore")(p) || isAdapter(p) || sqlDriver(p) || prefix("github.com/riverqueue/river")(p)
}

func sqlDriver(p string) bool {
	return prefix("modernc.org/sqlite", "github.com/jackc/pgx", "github.com/lib/pq")(p)
}

func TestImportRules(t *testing.T) {
	graph, ours := loadGraph(t)
	for _, line := range check(graph, ours) {
		t.Error(line)
	}
}

// TestRulesCatch shows the rules at work on a made-up graph: a violation
// deep down is reported once, as its edge, with who reaches it.
func TestRulesCatch(t *testing.T) {
	m := func(rel string) string { return path.Join(mod, rel) }
	graph := map[string][]string{
		mod:                     {"strings"},
		m("web"):                {mod, m("internal/metrics"), m("elevenlabs")},
		m("process"):            {mod, m("internal/metrics"), m("sqlite")},
		m("internal/metrics"):   {mod, "modernc.org/sqlite"},
		m("elevenlabs"):         {mod, m("internal/audiotest")},
		m("internal/audiotest"): {},
		m("sqlite"):             {mod, m("internal/sqlstore"), m("disk"), "modernc.org/sqlite"},
		m("internal/sqlstore"):  {mod},
		m("disk"):               {mod},
		"modernc.org/sqlite":    {"database/sql"},
	}
	var ours []string
	for p := range graph {
		if inModule(p) {
			ours = append(ours, p)
		}
	}
	got := strings.Join(check(graph, ours), "\n")
	t.Log("\n" + got)
	for _, want := range []string{
		"internal/metrics → modernc.org/sqlite (linked by web): web reaches",
		"internal/metrics → modernc.org/sqlite (linked by process): process decides",
		"internal/metrics → modernc.org/sqlite (linked by internal/metrics): only the sqlite and postgres",
		"process → sqlite (linked by process): process decides",
		"elevenlabs → internal/audiotest (linked by elevenlabs, web): test helpers",
		"sqlite → disk (linked by sqlite): adapters are independent",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no line %q in\n%s", want, got)
		}
	}
	if n := strings.Count(got, "\n") + 1; n != 6 {
		t.Errorf("%d lines, want the 6 above:\n%s", n, got)
	}
}

// check applies every rule to the packages ours of graph (package → its
// imports) and returns one line per violating edge.
func check(graph map[string][]string, ours []string) []string {
	type edge struct {
		rule     int
		from, to string
	}
	type found struct {
		path  []string
		froms []string
	}
	seen := map[edge]*found{}
	var order []edge
	for i, r := range rules {
		governs := 0
		for _, p := range ours {
			if !r.match(p) {
				continue
			}
			governs++
			for _, path := range reach(graph, p, r) {
				e := edge{i, path[len(path)-2], path[len(path)-1]}
				if seen[e] == nil {
					seen[e] = &found{path: path}
					order = append(order, e)
				}
				seen[e].froms = append(seen[e].froms, p)
			}
		}
		if governs == 0 {
			order = append(order, edge{i, "", ""})
		}
	}
	var lines []string
	for _, e := range order {
		r := rules[e.rule]
		if e.from == "" {
			lines = append(lines, fmt.Sprintf("rule for %s governs no package: renamed? (%s)", r.from, r.why))
			continue
		}
		f := seen[e]
		names := make([]string, len(f.froms))
		for i, p := range f.froms {
			names[i] = short(p)
		}
		slices.Sort(names)
		line := fmt.Sprintf("%s → %s (linked by %s): %s", short(e.from), short(e.to), strings.Join(names, ", "), r.why)
		if len(f.path) > 2 {
			line += "; path: " + strings.Join(mapShort(f.path), " → ")
		}
		lines = append(lines, line)
	}
	slices.Sort(lines)
	return lines
}

// reach walks p's imports breadth first (only the first step for a direct
// rule) and returns the path to every package r forbids p, not walking on
// past one.
func reach(graph map[string][]string, p string, r rule) [][]string {
	parent := map[string]string{p: ""}
	queue := []string{p}
	var out [][]string
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, d := range graph[n] {
			if _, ok := parent[d]; ok {
				continue
			}
			parent[d] = n
			if r.forbid(p, d) {
				var path []string
				for x := d; x != ""; x = parent[x] {
					path = append(path, x)
				}
				slices.Reverse(path)
				out = append(out, path)
				continue
			}
			if !r.direct {
				queue = append(queue, d)
			}
		}
	}
	return out
}

// loadGraph lists the module's packages and everything they link with their
// imports (non-test files only, for this machine's GOOS and GOARCH).
func loadGraph(t *testing.T) (graph map[string][]string, ours []string) {
	t.Helper()
	cmd := exec.Command("go", "list", "-e", "-deps", "-json=ImportPath,Imports,DepOnly,Error", mod+"/...")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	graph = map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Imports    []string
			DepOnly    bool
			Error      *struct{ Err string }
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("reading go list: %v", err)
		}
		if p.Error != nil && inModule(p.ImportPath) {
			t.Errorf("go list %s: %s", p.ImportPath, p.Error.Err)
		}
		graph[p.ImportPath] = p.Imports
		if !p.DepOnly && inModule(p.ImportPath) {
			ours = append(ours, p.ImportPath)
		}
	}
	if len(ours) < 10 {
		t.Fatalf("go list found only %d packages of %s", len(ours), mod)
	}
	return graph, ours
}

// ------------------------------------------------------------- matchers

func inModule(p string) bool { return p == mod || strings.HasPrefix(p, mod+"/") }

func isRoot(p string) bool { return p == mod }

// rel is p's path inside the module ("" for the root).
func rel(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, mod), "/") }

// top is the first element of p's path inside the module.
func top(p string) string { return strings.SplitN(rel(p), "/", 2)[0] }

// under matches the module's packages in the folders dirs, and below them.
func under(dirs ...string) func(string) bool {
	return func(p string) bool {
		if !inModule(p) || isRoot(p) {
			return false
		}
		r := rel(p)
		for _, d := range dirs {
			if r == d || strings.HasPrefix(r, d+"/") {
				return true
			}
		}
		return false
	}
}

// prefix matches the packages pfxs and those below them.
func prefix(pfxs ...string) func(string) bool {
	return func(p string) bool {
		for _, x := range pfxs {
			if p == x || strings.HasPrefix(p, x+"/") {
				return true
			}
		}
		return false
	}
}

func is(name string) func(string) bool { return func(p string) bool { return p == name } }

// isHelper: the module's test helpers, whose name ends in "test"
// (voicehooktest, elevenlabstest, airtabletest, ncatest, audiotest, dbtest…).
func isHelper(p string) bool {
	return inModule(p) && !isRoot(p) && strings.HasSuffix(path.Base(p), "test")
}

// isAdapter: the backends behind the root's seams, and their sub-packages
// other than test helpers.
func isAdapter(p string) bool {
	return under("sqlite", "postgres", "airtable", "disk", "s3", "nca")(p) && !isHelper(p)
}

func anyOf(fs ...func(string) bool) func(string) bool {
	return func(p string) bool { return slices.ContainsFunc(fs, func(f func(string) bool) bool { return f(p) }) }
}

func not1(f func(string) bool) func(string) bool { return func(p string) bool { return !f(p) } }

// not2 is a forbid of what matches yes and not no.
func not2(yes, no func(string) bool) func(string, string) bool {
	return func(_, d string) bool { return yes(d) && !no(d) }
}

// dep makes a forbid of a matcher on the dependency.
func dep(f func(string) bool) func(string, string) bool {
	return func(_, d string) bool { return f(d) }
}

func short(p string) string {
	if isRoot(p) {
		return "voicehook (root)"
	}
	if inModule(p) {
		return rel(p)
	}
	return p
}

func mapShort(ps []string) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = short(p)
	}
	return out
}
