package tests

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func readExample(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../examples/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func runCmdShell(t *testing.T, script string) result {
	t.Helper()
	return runCmd(t, exec.Command("bash", "-c", script))
}

// TestBadInputChangesNothing: a topology with errors gets exit 1 with positioned
// messages, from every command, and nothing changes.
func TestBadInputChangesNothing(t *testing.T) {
	cleanSandbox(t)
	file := writeFile(t, "bad.yaml", "name: bad\nnodes:\n  host:\n    interfaces:\n      m1: {addresses: [10.0.0.300/24]}\n  ns1:\n    interfaces: {e0: {}}\nlinks:\n  - [host:m1, ns1:e0]\n")
	before := snapshot(t)
	for _, cmd := range []string{"validate", "plan", "apply", "destroy"} {
		r := netlab(t, cmd, file)
		if r.code != 1 || !strings.Contains(r.stderr, "bad.yaml:5:24: bad address \"10.0.0.300/24\"") {
			t.Errorf("%s: want exit 1 with a positioned error: %s", cmd, r)
		}
	}
	if after := snapshot(t); after != before {
		t.Error("bad input changed the sandbox")
	}
}

// TestUnknownSysctl: a sysctl the node's kernel does not have is an error at plan time,
// naming the node and the sysctl, before any change; one of an interface the lab
// creates is judged by the kernel's default interface.
func TestUnknownSysctl(t *testing.T) {
	cleanSandbox(t)
	for _, ns := range []string{"ns1", "host"} {
		file := writeFile(t, "sysctl.yaml", "name: sc\nnodes:\n  "+ns+":\n    sysctls: {net.ipv4.conf.e0.rp_filter: 1, net.ipv4.no_such_thing: 1}\n    interfaces: {e0: {}}\n  ns2:\n    interfaces: {e1: {}}\nlinks: [["+ns+":e0, ns2:e1]]\n")
		before := snapshot(t)
		r := netlab(t, "apply", file)
		if r.code != 1 || !strings.Contains(r.stderr, "node "+ns+": sysctl net.ipv4.no_such_thing does not exist") || strings.Contains(r.stderr, "rp_filter") {
			t.Errorf("%s: want exit 1 naming the unknown sysctl only: %s", ns, r)
		}
		if after := snapshot(t); after != before {
			t.Errorf("%s: the refused apply changed the sandbox:\n%s", ns, lineDiff(before, after))
		}
	}
}

// TestCLI: what a person meets at the prompt: a version, the usage line with every
// argument or flag error, readable help, a saved plan named as one where a topology is
// expected, and destroy --dry-run, which changes nothing.
func TestCLI(t *testing.T) {
	cleanSandbox(t)
	for _, args := range [][]string{{"version"}, {"--version"}} {
		if r := netlab(t, args...); r.code != 0 || !strings.HasPrefix(r.stdout, "netlab ") || !strings.Contains(r.stdout, "go1.") {
			t.Errorf("netlab %v: %s", args, r)
		}
	}
	for _, c := range []struct{ args, usage string }{
		{"validate", "Usage: netlab validate FILE"},
		{"plan a b", "Usage: netlab plan FILE"},
		{"destroy --no-such-flag", "Usage: netlab destroy [FILE]"},
	} {
		if r := netlab(t, strings.Fields(c.args)...); r.code != 1 || !strings.Contains(r.stderr, c.usage) {
			t.Errorf("netlab %s: want exit 1 and %q: %s", c.args, c.usage, r)
		}
	}
	if r := netlab(t, "plan", "--help"); !strings.Contains(r.stdout, "--out string") {
		t.Errorf("plan --help: the --out flag reads wrong:\n%s", r.stdout)
	}
	file := "../examples/veth-host.yaml"
	saved := writeFile(t, "lab.plan", "")
	mustNetlab(t, "plan", file, "--out", saved)
	for _, cmd := range []string{"validate", "plan", "destroy", "graph"} {
		if r := netlab(t, cmd, saved); r.code != 1 || !strings.Contains(r.stderr, "is a saved plan, not a topology: carry it out with netlab apply") {
			t.Errorf("%s of a saved plan: %s", cmd, r)
		}
	}
	// validate -o json: the diagnostics as data, exit 1 when there are any.
	bad := writeFile(t, "bad.yaml", "name: bad\nnodes:\n  ns1: {interfaces: {e0: {addresses: [10.0.0.300/24]}}}\n")
	if r := netlab(t, "validate", "-o", "json", bad); r.code != 1 || !strings.Contains(r.stdout, `"valid": false`) ||
		!strings.Contains(r.stdout, `"line": 3`) || !strings.Contains(r.stdout, `"format_version": "1"`) {
		t.Errorf("validate -o json: %s", r)
	}
	// - is standard input, for apply too.
	if r := runCmdShell(t, netlabBin()+" apply - < "+file); r.code != 0 || !strings.Contains(r.stdout, "Apply complete") {
		t.Fatalf("apply - < FILE: %s", r)
	}
	// Completion through cobra's __complete: applied labs, their nodes, -o's values.
	for _, c := range []struct{ args, want string }{
		{"__complete exec ", "host\nnetns01\n"},
		{"__complete destroy --name ", "veth-host\n"},
		{"__complete plan -o ", "text\njson\nsh\n"},
	} {
		args := strings.Fields(c.args)
		if r := netlab(t, append(args, "")...); !strings.HasPrefix(r.stdout, c.want) {
			t.Errorf("netlab %s'': want %q, got %s", c.args, c.want, r)
		}
	}
	before := snapshot(t)
	for _, format := range []string{"text", "json", "sh"} {
		r := netlab(t, "destroy", "--dry-run", "-o", format)
		if r.code != 0 || !strings.Contains(r.stdout, "veth0-host") {
			t.Errorf("destroy --dry-run -o %s: %s", format, r)
		}
	}
	if after := snapshot(t); after != before {
		t.Errorf("destroy --dry-run changed the sandbox.\n%s", lineDiff(before, after))
	}
	mustNetlab(t, "destroy")
}
