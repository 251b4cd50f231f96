package tests

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// underPTY runs a shell command line under a real pseudo-terminal (script, from
// util-linux) and returns what the terminal received.
func underPTY(t *testing.T, env, cmdline string) string {
	t.Helper()
	return sh(t, env+" script -qec '"+cmdline+"' /dev/null")
}

// bigLab writes a lab of n namespaces, each linked to the host: more actions than a
// terminal is shown whole.
func bigLab(t *testing.T, n int) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("name: big\nnodes:\n  host:\n    interfaces:\n")
	for i := range n {
		fmt.Fprintf(&b, "      h%d: {addresses: [10.80.%d.1/24]}\n", i, i)
	}
	for i := range n {
		fmt.Fprintf(&b, "  n%d:\n    interfaces: {e0: {addresses: [10.80.%d.2/24]}}\n", i, i)
	}
	b.WriteString("links:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - [host:h%d, n%d:e0]\n", i, i)
	}
	file := filepath.Join(t.TempDir(), "big.yaml")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestTerminal: on a terminal, apply colours the plan's symbols (not with NO_COLOR or
// --no-color), shows a live progress line instead of a line per action, and prints a
// long plan whole only with --verbose; --quiet prints only the final line, on a
// terminal or not.
func TestTerminal(t *testing.T) {
	cleanSandbox(t)
	bin := netlabBin()
	file, _ := filepath.Abs("../examples/two-namespaces.yaml")
	out := underPTY(t, "", bin+" apply "+file)
	for _, want := range []string{"\x1b[32m+\x1b[0m netns testns1", "\x1b[33m~\x1b[0m sysctl host: net.ipv4.ip_forward", "(0/17)", "Apply complete: 16 added"} {
		if !strings.Contains(out, want) {
			t.Errorf("apply on a terminal lacks %q:\n%q", want, out)
		}
	}
	if strings.Contains(out, ": done") {
		t.Errorf("apply on a terminal prints a line per action:\n%s", out)
	}
	for _, env := range []string{"NO_COLOR=1", ""} {
		flag := ""
		if env == "" {
			flag = " --no-color"
		}
		out = underPTY(t, env, bin+" destroy"+flag)
		if strings.Contains(out, "\x1b[31m") || !strings.Contains(out, "  - netns testns1") {
			t.Errorf("destroy with %s%s is in colour, or lacks its plan:\n%q", env, flag, out)
		}
		mustNetlab(t, "apply", file)
	}
	mustNetlab(t, "destroy")

	big := bigLab(t, 20)
	out = underPTY(t, "", bin+" apply "+big)
	if !strings.Contains(out, " actions (--verbose shows them; netlab plan -o json lists them).") || strings.Contains(out, "netns n7") {
		t.Errorf("a long plan on a terminal is printed whole:\n%s", out)
	}
	out = underPTY(t, "", bin+" destroy --verbose")
	if !strings.Contains(out, "\x1b[31m-\x1b[0m netns n7") {
		t.Errorf("destroy --verbose does not print the plan:\n%s", out)
	}
	if out := underPTY(t, "", bin+" apply -q "+big); strings.TrimSpace(strings.ReplaceAll(out, "\r", "")) == "" ||
		!strings.HasPrefix(strings.TrimSpace(strings.ReplaceAll(out, "\r", "")), "Apply complete: 121 added") {
		t.Errorf("apply -q on a terminal: %q", out)
	}
	if out := mustNetlab(t, "destroy", "-q"); strings.TrimSpace(out) != "" && !strings.HasPrefix(strings.TrimSpace(out), "Destroy complete:") {
		t.Errorf("destroy -q: %q", out)
	}
}
