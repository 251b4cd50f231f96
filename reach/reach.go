// Package reach turns a topology's expect: section into pings to make, runs them through
// a Pinger in parallel, and prints the reachability table the tutorials print by hand:
// "OK from testns1 ping to 192.168.10.102". It knows nothing of the kernel: the pinger
// is reconcile's.
package reach

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/netlab-go/netlab/topology"
)

// Probe is one ping to make: from a node to an address.
type Probe struct {
	From string
	// Target is what the topology named: a node or an address.
	Target string
	Addr   netip.Addr
	// Want is true when the address must answer, false when it must not, and nil when
	// nothing is expected (the --all matrix).
	Want *bool
}

// Label names the target as the table prints it: the address, with the node it stands
// for when the topology named a node.
func (p Probe) Label() string {
	if p.Target == p.Addr.String() {
		return p.Target
	}
	return p.Target + " (" + p.Addr.String() + ")"
}

// Probes returns the pings that check the topology's expectations; with all, also one
// from every node to every lab address that no expectation covers. A node target stands
// for each of its addresses.
func Probes(t *topology.Topology, all bool) []Probe {
	var probes []Probe
	seen := map[[2]string]bool{}
	add := func(p Probe) {
		key := [2]string{p.From, p.Addr.String()}
		if !seen[key] {
			seen[key] = true
			probes = append(probes, p)
		}
	}
	expand := func(from string, tg topology.Target, want *bool) {
		if tg.Node == "" {
			add(Probe{From: from, Target: tg.Addr.String(), Addr: tg.Addr, Want: want})
			return
		}
		for _, a := range t.Node(tg.Node).Addresses() {
			add(Probe{From: from, Target: tg.Node, Addr: a, Want: want})
		}
	}
	yes, no := true, false
	for _, e := range t.Expect {
		for _, tg := range e.Reach {
			expand(e.From, tg, &yes)
		}
		for _, tg := range e.Unreachable {
			expand(e.From, tg, &no)
		}
	}
	if all {
		for _, from := range t.Nodes {
			for _, to := range t.Nodes {
				for _, a := range to.Addresses() {
					add(Probe{From: from.Name, Target: a.String(), Addr: a})
				}
			}
		}
	}
	return probes
}

// Pinger sends echo requests from a node to an address and reports whether one was
// answered.
type Pinger func(ctx context.Context, from string, addr netip.Addr) (bool, error)

// Result is a probe and what happened.
type Result struct {
	Probe
	Answered bool
}

// Holds reports whether the result is what was expected (always true when nothing was).
func (r Result) Holds() bool { return r.Want == nil || *r.Want == r.Answered }

// Run makes every probe, at most parallel at once, and returns the results in the
// probes' order, or the first probe's error when any pinger call failed.
func Run(ctx context.Context, probes []Probe, ping Pinger, parallel int) ([]Result, error) {
	results := make([]Result, len(probes))
	errs := make([]error, len(probes))
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	for i, p := range probes {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ok, err := ping(ctx, p.From, p.Addr)
			results[i], errs[i] = Result{Probe: p, Answered: ok}, err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("ping from %s to %s: %w", probes[i].From, probes[i].Addr, err)
		}
	}
	return results, nil
}

// WriteTable prints one line per result, grouped by the node pinging, as the tutorials
// do: "OK from testns1 ping to 192.168.20.101", then whether it was expected; and a
// closing line counting the expectations that hold. It returns how many do not.
func WriteTable(w io.Writer, results []Result) (failed int, err error) {
	sorted := sorted(results)
	width := 0
	for _, r := range sorted {
		width = max(width, len(line(r)))
	}
	var b strings.Builder
	expected := 0
	for _, r := range sorted {
		if r.Want == nil {
			b.WriteString(line(r) + "\n")
			continue
		}
		fmt.Fprintf(&b, "%-*s", width, line(r))
		expected++
		switch {
		case r.Holds():
			b.WriteString("  as expected")
		case *r.Want:
			failed++
			b.WriteString("  UNEXPECTED: should answer")
		default:
			failed++
			b.WriteString("  UNEXPECTED: should not answer")
		}
		b.WriteString("\n")
	}
	switch {
	case expected == 0:
		fmt.Fprintf(&b, "\n%d ping(s), no expectations.\n", len(sorted))
	case failed == 0:
		fmt.Fprintf(&b, "\nCheck passed: all %d expectation(s) hold.\n", expected)
	default:
		fmt.Fprintf(&b, "\nCheck failed: %d of %d expectation(s) do not hold.\n", failed, expected)
	}
	_, err = io.WriteString(w, b.String())
	return failed, err
}

func line(r Result) string {
	mark := "NG"
	if r.Answered {
		mark = "OK"
	}
	return fmt.Sprintf("%s from %s ping to %s", mark, r.From, r.Label())
}

// JSONReport is the JSON form of a check, as `netlab check -o json` prints it.
type JSONReport struct {
	FormatVersion string       `json:"format_version"`
	Lab           string       `json:"lab"`
	Passed        bool         `json:"passed"`
	Results       []JSONResult `json:"results"`
}

// JSONResult is one ping of a check.
type JSONResult struct {
	From     string `json:"from"`
	Target   string `json:"target"`
	Address  string `json:"address"`
	Answered bool   `json:"answered"`
	// Expected is "reach", "unreachable", or absent for a ping of --all alone.
	Expected string `json:"expected,omitempty"`
	// Holds is whether the expectation holds (absent without one).
	Holds *bool `json:"holds,omitempty"`
}

// ToJSON returns the JSON form of a check of lab.
func ToJSON(lab string, results []Result) JSONReport {
	rep := JSONReport{FormatVersion: "1", Lab: lab, Passed: true, Results: []JSONResult{}}
	for _, r := range sorted(results) {
		j := JSONResult{From: r.From, Target: r.Target, Address: r.Addr.String(), Answered: r.Answered}
		if r.Want != nil {
			holds := r.Holds()
			j.Holds, j.Expected = &holds, "unreachable"
			if *r.Want {
				j.Expected = "reach"
			}
			rep.Passed = rep.Passed && holds
		}
		rep.Results = append(rep.Results, j)
	}
	return rep
}

// WriteJSON writes the check as indented JSON (see JSONReport).
func WriteJSON(w io.Writer, lab string, results []Result) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(ToJSON(lab, results))
}

// sorted returns the results grouped by the node pinging, as the table lists them.
func sorted(results []Result) []Result {
	s := slices.Clone(results)
	slices.SortStableFunc(s, func(a, b Result) int { return strings.Compare(a.From, b.From) })
	return s
}

type junitSuites struct {
	XMLName xml.Name     `xml:"testsuites"`
	Suites  []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Failure   *junitFailure `xml:"failure,omitempty"`
}

type junitFailure struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit writes the check as JUnit XML, for CI systems: one test suite for the
// lab, one test case per expectation ("testns1 reaches testns2 (192.168.10.102)"),
// failed when it does not hold. Pings of --all alone are not test cases.
func WriteJUnit(w io.Writer, lab string, results []Result) error {
	suite := junitSuite{Name: "netlab check " + lab}
	for _, r := range sorted(results) {
		if r.Want == nil {
			continue
		}
		verb := "reaches"
		if !*r.Want {
			verb = "does not reach"
		}
		c := junitCase{Name: r.From + " " + verb + " " + r.Label(), Classname: "netlab." + lab + "." + r.From}
		if !r.Holds() {
			c.Failure = &junitFailure{Message: line(r)}
			suite.Failures++
		}
		suite.Tests++
		suite.Cases = append(suite.Cases, c)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(junitSuites{Suites: []junitSuite{suite}}); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
