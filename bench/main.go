// Command bench measures netlab against the kernel's floor and against the ways people
// build labs by hand, inside a throwaway sandbox: make bench.
//
// For each N it builds and tears down the star lab (see bench/labgen) with netlab, with
// the raw-netlink floor (bench/floor), with the naive shell script of a tutorial (one ip
// process per command) and with iproute2 batch mode, and the chain lab with netlab.
// Every figure is a median over -runs runs; the ratios are taken within one run of
// this command, on one machine, because that is what holds on noisy machines.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/netlab-go/netlab/bench/labgen"
	"github.com/netlab-go/netlab/internal/sandbox"
	"github.com/vishvananda/netlink"
)

func main() {
	sizes := flag.String("n", "10,100,1000", "lab sizes, comma-separated")
	runs := flag.Int("runs", 3, "runs per measurement; the table shows medians")
	readme := flag.String("readme", "", "rewrite the table between the bench markers of this file")
	output := flag.Bool("output", false, "measure the size of plans and their memory, and /etc/netns, instead of speed")
	large := flag.Bool("large", false, "the large run (make bench-large): no naive shell (an ip process per command takes minutes there), its own table in the README")
	flag.Parse()
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fatal(fmt.Errorf("bad size %q", s))
		}
		ns = append(ns, n)
	}
	if !sandbox.Inside() {
		if os.Geteuid() != 0 {
			fatal(fmt.Errorf("the benchmark needs root: it builds labs in a sandbox of its own"))
		}
		dir, err := os.MkdirTemp("", "netlab-bench-")
		if err != nil {
			fatal(err)
		}
		env, err := buildTools(dir)
		if err != nil {
			os.RemoveAll(dir)
			fatal(err)
		}
		code := sandbox.Reexec(env)
		os.RemoveAll(dir)
		os.Exit(code)
	}
	if err := sandbox.Enter(); err != nil {
		fatal(err)
	}
	b := &bench{netlab: os.Getenv("BENCH_NETLAB"), floor: os.Getenv("BENCH_FLOOR"), dir: os.Getenv("BENCH_DIR"), noShell: *large}
	if *output {
		var rows []outputRow
		for _, n := range ns {
			r, err := b.measureOutput(n)
			if err != nil {
				fatal(fmt.Errorf("lab size %d: %w", n, err))
			}
			rows = append(rows, r)
		}
		table := renderOutput(rows)
		fmt.Print(table)
		if *readme != "" {
			if err := rewriteReadme(*readme, table, outputBegin, outputEnd); err != nil {
				fatal(err)
			}
		}
		return
	}
	var rows []row
	for _, n := range ns {
		r, err := b.measure(n, *runs)
		if err != nil {
			fatal(fmt.Errorf("lab size %d: %w", n, err))
		}
		rows = append(rows, r)
		fmt.Fprintf(os.Stderr, "N=%d done\n", n)
	}
	table := render(rows, *runs, *large)
	fmt.Print(table)
	begin, end := beginMark, endMark
	if *large {
		begin, end = largeBegin, largeEnd
	}
	if *readme != "" {
		if err := rewriteReadme(*readme, table, begin, end); err != nil {
			fatal(err)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

// buildTools builds netlab and the floor into dir, before entering the sandbox (which
// has no network for the module proxy).
func buildTools(dir string) ([]string, error) {
	for _, pkg := range []string{"./cmd/netlab", "./bench/floor"} {
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, filepath.Base(pkg)), pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("build %s: %w", pkg, err)
		}
	}
	return []string{"BENCH_NETLAB=" + filepath.Join(dir, "netlab"), "BENCH_FLOOR=" + filepath.Join(dir, "floor"), "BENCH_DIR=" + dir}, nil
}

type bench struct {
	netlab, floor, dir string
	// noShell leaves the naive shell script out (make bench-large).
	noShell bool
}

// sample is one timed command: wall time and the peak RSS of the process it ran.
type sample struct {
	wall      time.Duration
	rss       int64         // KiB
	user, sys time.Duration // the process's CPU time (a script's with its children's)
}

// timed runs a command and measures it; a failure is an error with its output.
func timed(name string, args ...string) (sample, error) {
	cmd := exec.Command(name, args...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	wall := time.Since(start)
	if err != nil {
		return sample{}, fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(out))
	}
	var rss int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = ru.Maxrss
	}
	return sample{wall: wall, rss: rss, user: cmd.ProcessState.UserTime(), sys: cmd.ProcessState.SystemTime()}, nil
}

func tail(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-10):], "\n")
}

// waitClean waits until the kernel has let go of every veth in the sandbox and no
// namespace is left under /run/netns: how a teardown's end is measured.
func waitClean() error {
	deadline := time.Now().Add(2 * time.Minute)
	for {
		links, err := netlink.LinkList()
		veths := 0
		for _, l := range links {
			if l.Type() == "veth" {
				veths++
			}
		}
		entries, _ := os.ReadDir("/run/netns")
		if err == nil && veths == 0 && len(entries) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not clean after 2 minutes: %d veths, %d namespaces", veths, len(entries))
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// waitIdle waits until the machine's CPUs have been idle for a quarter of a second
// (under 5% busy), at most a minute: the kernel frees a deleted namespace's objects in
// the background for seconds after its veths are gone, and whichever step came next
// (netlab's or the floor's) would pay for it. Every step starts from an idle kernel.
func waitIdle() {
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		before := readCPUStat()
		time.Sleep(250 * time.Millisecond)
		after := readCPUStat()
		if after.total <= before.total || float64(after.used-before.used)/float64(after.total-before.total) < 0.05 {
			return
		}
	}
}

// cpuStat is the machine's CPU time so far, in USER_HZ ticks (1/100 s), from the cpu
// line of /proc/stat: used (neither idle nor waiting), all of it, and stolen by the
// hypervisor.
type cpuStat struct{ used, total, steal uint64 }

// readCPUStat reads the machine's CPU time so far; zero when /proc/stat cannot be read.
func readCPUStat() cpuStat {
	var st cpuStat
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return st
	}
	line, _, _ := strings.Cut(string(data), "\n")
	for i, f := range strings.Fields(line)[1:] {
		v, _ := strconv.ParseUint(f, 10, 64)
		st.total += v
		if i != 3 && i != 4 { // idle and iowait
			st.used += v
		}
		if i == 7 {
			st.steal = v
		}
	}
	return st
}

// stolenSince is the CPU time the hypervisor took since before was read.
func stolenSince(before cpuStat) time.Duration {
	now := readCPUStat()
	if now.steal < before.steal { // /proc/stat not read, one time or the other
		return 0
	}
	return time.Duration(now.steal-before.steal) * 10 * time.Millisecond
}

// stealShare is the CPU time the hypervisor took during the measured steps, as a share
// of the CPUs' time over them: what a run's figures lose to other machines on the same
// host, which moves them between runs of the same code.
type stealShare struct {
	stolen, capacity time.Duration
	worst            float64 // the largest share in one step
}

func (s *stealShare) add(stolen, wall time.Duration) {
	capacity := wall * time.Duration(runtime.NumCPU())
	s.stolen += stolen
	s.capacity += capacity
	if capacity > 0 {
		s.worst = max(s.worst, float64(stolen)/float64(capacity))
	}
}

func (s stealShare) String() string {
	share := 0.0
	if s.capacity > 0 {
		share = float64(s.stolen) / float64(s.capacity)
	}
	return fmt.Sprintf("%.1f%% (%.1f%% in the worst step)", 100*share, 100*s.worst)
}

// row holds the medians for one N.
type row struct {
	n                                                 int
	apply, plan, noop, change, destroy                sample
	floorBuild, floorDump, floorTeardown              sample
	floorLabBuild                                     sample // floor build-lab: with the star's aliases and hosts files
	floorBatchedBuild                                 sample // floor build-batched: each namespace's requests in two batches
	shellBuild, shellTeardown, batchBuild, batchTeard sample
	chainApply, chainPlan, chainDestroy               sample
	// phases are netlab's own times of its phases (netlab --timings) in one more
	// apply, plan and destroy, after the measured runs.
	phases map[string][]phaseTime
	steal  stealShare // over every measured step
}

// phaseTime is one line of netlab --timings.
type phaseTime struct {
	name string
	ms   float64
}

// timings runs netlab with --timings and returns its phases.
func (b *bench) timings(args ...string) ([]phaseTime, error) {
	cmd := exec.Command(b.netlab, append([]string{"--timings"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
			return nil, fmt.Errorf("netlab %s: %v\n%s", strings.Join(args, " "), err, tail([]byte(stderr.String())))
		}
	}
	var ps []phaseTime
	for _, line := range strings.Split(stderr.String(), "\n") {
		rest, ok := strings.CutPrefix(line, "phase ")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) < 3 {
			continue
		}
		ms, err := strconv.ParseFloat(f[len(f)-2], 64)
		if err != nil {
			continue
		}
		ps = append(ps, phaseTime{name: strings.Join(f[:len(f)-2], " "), ms: ms})
	}
	return ps, nil
}

func (b *bench) measure(n, runs int) (row, error) {
	star := filepath.Join(b.dir, fmt.Sprintf("star%d.yaml", n))
	chain := filepath.Join(b.dir, fmt.Sprintf("chain%d.yaml", n))
	changed := filepath.Join(b.dir, fmt.Sprintf("star%d-changed.yaml", n))
	shellB, shellT := labgen.StarShell(n)
	batchB, batchT := labgen.StarBatch(n)
	files := map[string]string{star: labgen.StarYAML(n), changed: labgen.StarChangedYAML(n), chain: labgen.ChainYAML(n),
		b.dir + "/shell-build.sh": shellB, b.dir + "/shell-teardown.sh": shellT,
		b.dir + "/batch-build.sh": batchB, b.dir + "/batch-teardown.sh": batchT}
	for path, content := range files {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return row{}, err
		}
	}
	samples := map[string][]sample{}
	add := func(key string, s sample, err error) error {
		samples[key] = append(samples[key], s)
		return err
	}
	// teardown runs a teardown command and counts the time until the kernel is clean.
	teardown := func(key, name string, args ...string) error {
		start := time.Now()
		s, err := timed(name, args...)
		if err != nil {
			return err
		}
		if err := waitClean(); err != nil {
			return err
		}
		s.wall = time.Since(start)
		return add(key, s, nil)
	}
	nl := func(args ...string) (sample, error) { return timed(b.netlab, args...) }
	var steal stealShare
	for range runs {
		steps := []func() error{
			func() error { s, err := nl("apply", star); return add("apply", s, err) },
			func() error { s, err := nl("plan", "--detailed-exitcode", star); return add("plan", s, err) },
			func() error { s, err := nl("apply", star); return add("noop", s, err) },
			// The changed star is another file of the same lab: --take-over makes it the
			// lab's (netlab refuses a second file of one lab without it), and the lab is
			// destroyed by it.
			func() error { s, err := nl("apply", "--take-over", changed); return add("change", s, err) },
			func() error { return teardown("destroy", b.netlab, "destroy", changed) },
			func() error { s, err := timed(b.floor, "build", strconv.Itoa(n)); return add("floorBuild", s, err) },
			func() error { s, err := timed(b.floor, "dump", strconv.Itoa(n)); return add("floorDump", s, err) },
			func() error { return teardown("floorTeardown", b.floor, "teardown", strconv.Itoa(n)) },
			func() error {
				s, err := timed(b.floor, "build-lab", strconv.Itoa(n))
				return add("floorLabBuild", s, err)
			},
			func() error { return teardown("floorLabTeardown", b.floor, "teardown", strconv.Itoa(n)) },
			func() error {
				s, err := timed(b.floor, "build-batched", strconv.Itoa(n))
				return add("floorBatchedBuild", s, err)
			},
			func() error { return teardown("floorBatchedTeardown", b.floor, "teardown", strconv.Itoa(n)) },
			func() error { s, err := timed("bash", b.dir+"/batch-build.sh"); return add("batchBuild", s, err) },
			func() error { return teardown("batchTeard", "bash", b.dir+"/batch-teardown.sh") },
			func() error {
				if b.noShell {
					return nil
				}
				s, err := timed("bash", b.dir+"/shell-build.sh")
				return add("shellBuild", s, err)
			},
			func() error {
				if b.noShell {
					return nil
				}
				return teardown("shellTeardown", "bash", b.dir+"/shell-teardown.sh")
			},
			func() error { s, err := nl("apply", chain); return add("chainApply", s, err) },
			func() error { s, err := nl("plan", "--detailed-exitcode", chain); return add("chainPlan", s, err) },
			func() error { return teardown("chainDestroy", b.netlab, "destroy", chain) },
		}
		for _, step := range steps {
			waitIdle()
			before, start := readCPUStat(), time.Now()
			if err := step(); err != nil {
				return row{}, err
			}
			steal.add(stolenSince(before), time.Since(start))
		}
	}
	phases := map[string][]phaseTime{}
	for _, step := range []struct{ name, verb string }{{"apply", "apply"}, {"plan", "plan"}, {"destroy", "destroy"}} {
		waitIdle()
		ps, err := b.timings(step.verb, star)
		if err != nil {
			return row{}, err
		}
		phases[step.name] = ps
		if step.verb == "destroy" {
			if err := waitClean(); err != nil {
				return row{}, err
			}
		}
	}
	m := func(key string) sample { return median(samples[key]) }
	return row{n: n, phases: phases, apply: m("apply"), plan: m("plan"), noop: m("noop"), change: m("change"), destroy: m("destroy"),
		floorBuild: m("floorBuild"), floorDump: m("floorDump"), floorTeardown: m("floorTeardown"), floorLabBuild: m("floorLabBuild"),
		floorBatchedBuild: m("floorBatchedBuild"), shellBuild: m("shellBuild"), shellTeardown: m("shellTeardown"),
		batchBuild: m("batchBuild"), batchTeard: m("batchTeard"),
		chainApply: m("chainApply"), chainPlan: m("chainPlan"), chainDestroy: m("chainDestroy"), steal: steal}, nil
}

// median returns the median wall time and the largest peak RSS of the samples.
func median(ss []sample) sample {
	if len(ss) == 0 {
		return sample{} // not measured (the naive shell of make bench-large)
	}
	var walls, users, syss []time.Duration
	var rss int64
	for _, s := range ss {
		walls, users, syss = append(walls, s.wall), append(users, s.user), append(syss, s.sys)
		rss = max(rss, s.rss)
	}
	mid := func(ds []time.Duration) time.Duration {
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	return sample{wall: mid(walls), rss: rss, user: mid(users), sys: mid(syss)}
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) }

// cpuTime is a sample's CPU time, user + system.
func cpuTime(s sample) string { return fmt.Sprintf("%.2f + %.2f s", s.user.Seconds(), s.sys.Seconds()) }

func ratio(a, b time.Duration) string { return fmt.Sprintf("%.2fx", a.Seconds()/b.Seconds()) }

func render(rows []row, runs int, large bool) string {
	var b strings.Builder
	kernel, _ := exec.Command("uname", "-r").Output()
	target := "make bench"
	if large {
		target = "make bench-large"
	}
	fmt.Fprintf(&b, "Measured by `%s` on %d CPUs (%s), Linux %s, %s; medians of %d runs.\n\n",
		target, runtime.NumCPU(), cpuModel(), strings.TrimSpace(string(kernel)), time.Now().UTC().Format("2006-01-02"), runs)
	b.WriteString("Star lab (host + N namespaces, one veth pair, a /30, a default route each; forwarding and one MASQUERADE rule):\n\n")
	b.WriteString("| N | netlab apply | floor build | apply / floor | naive shell | shell / netlab | ip -batch | netlab plan (no changes) | floor dump | plan / dump | apply again | netlab destroy | floor teardown | destroy / floor | peak RSS |\n")
	b.WriteString("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		rss := max(r.apply.rss, r.plan.rss, r.noop.rss, r.change.rss, r.destroy.rss)
		shell, shellRatio := secs(r.shellBuild.wall), ratio(r.shellBuild.wall, r.apply.wall)
		if large {
			shell, shellRatio = "not run", ""
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.1f MiB |\n", r.n,
			secs(r.apply.wall), secs(r.floorBuild.wall), ratio(r.apply.wall, r.floorBuild.wall),
			shell, shellRatio, secs(r.batchBuild.wall),
			secs(r.plan.wall), secs(r.floorDump.wall), ratio(r.plan.wall, r.floorDump.wall),
			secs(r.noop.wall), secs(r.destroy.wall), secs(r.floorTeardown.wall), ratio(r.destroy.wall, r.floorTeardown.wall),
			float64(rss)/1024)
	}
	b.WriteString("\nTeardowns are timed until the kernel has let go of every veth (namespace deletion is asynchronous). ")
	b.WriteString("Naive shell and ip -batch teardowns: ")
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		shell := secs(r.shellTeardown.wall)
		if large {
			shell = "not run"
		}
		fmt.Fprintf(&b, "N=%d %s and %s", r.n, shell, secs(r.batchTeard.wall))
	}
	b.WriteString(". The floor's build with what the star lab has beyond its netlink calls, an alias on each veth end and each node's hosts file (`floor build-lab`), against netlab's apply: ")
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "N=%d %s (apply / it %s)", r.n, secs(r.floorLabBuild.wall), ratio(r.apply.wall, r.floorLabBuild.wall))
	}
	b.WriteString(". The floor's build with each namespace's requests written in two batches before their answers are read, the interfaces' indexes given in the requests (`floor build-batched`), against the floor's build: ")
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "N=%d %s (floor build / it %s)", r.n, secs(r.floorBatchedBuild.wall), ratio(r.floorBuild.wall, r.floorBatchedBuild.wall))
	}
	b.WriteString(". CPU time the hypervisor took during the measured steps (steal in /proc/stat), of the CPUs' time over them: ")
	for i, r := range rows {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "N=%d %s", r.n, r.steal)
	}
	b.WriteString(". CPU time of the processes, user + system (medians): ")
	for i, r := range rows {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "N=%d netlab apply %s, floor build %s, netlab plan %s, floor dump %s", r.n,
			cpuTime(r.apply), cpuTime(r.floorBuild), cpuTime(r.plan), cpuTime(r.floorDump))
	}
	b.WriteString(".\n\nCost per namespace, one change to the applied star (a route more in one namespace), and the chain lab (n1 - n2 - ... - nN, each a router to the next: namespace-to-namespace links):\n\n")
	b.WriteString("| N | apply per namespace | destroy per namespace | apply one change | chain apply | chain plan | chain destroy |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %d | %.2f ms | %.2f ms | %s | %s | %s | %s |\n", r.n,
			float64(r.apply.wall.Microseconds())/1000/float64(r.n), float64(r.destroy.wall.Microseconds())/1000/float64(r.n),
			secs(r.change.wall), secs(r.chainApply.wall), secs(r.chainPlan.wall), secs(r.chainDestroy.wall))
	}
	last := rows[len(rows)-1]
	fmt.Fprintf(&b, "\nWhere netlab's time goes at N=%d (`netlab --timings`, one more run of each; observe's own steps indented):\n\n", last.n)
	b.WriteString("| phase | apply | plan (no changes) | destroy |\n|---|---:|---:|---:|\n")
	var names []string
	for _, step := range []string{"apply", "plan", "destroy"} {
		for _, p := range last.phases[step] {
			if !slices.Contains(names, p.name) {
				names = append(names, p.name)
			}
		}
	}
	for _, name := range names {
		label := name
		if strings.HasPrefix(name, "observe ") {
			label = "&nbsp;&nbsp;" + name
		}
		fmt.Fprintf(&b, "| %s |", label)
		for _, step := range []string{"apply", "plan", "destroy"} {
			cell := ""
			for _, p := range last.phases[step] {
				if p.name == name {
					cell = fmt.Sprintf("%.0f ms", p.ms)
				}
			}
			fmt.Fprintf(&b, " %s |", cell)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// The markers around the tables of make bench and make bench-output in the README.
const (
	beginMark, endMark     = "<!-- bench:begin (make bench rewrites this) -->", "<!-- bench:end -->"
	outputBegin, outputEnd = "<!-- bench-output:begin (make bench-output rewrites this) -->", "<!-- bench-output:end -->"
	largeBegin, largeEnd   = "<!-- bench-large:begin (make bench-large rewrites this) -->", "<!-- bench-large:end -->"
)

// rewriteReadme replaces the text between the markers begin and end of the file.
func rewriteReadme(path, table, beginMark, endMark string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	s := string(data)
	i, j := strings.Index(s, beginMark), strings.Index(s, endMark)
	if i < 0 || j < i {
		return fmt.Errorf("%s has no bench markers", path)
	}
	s = s[:i+len(beginMark)] + "\n" + table + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
