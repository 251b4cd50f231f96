package tests

import (
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStatusAndLs: ls lists the applied labs and whether the kernel matches each;
// status shows a lab node by node, marks what was changed by hand and exits 2 then,
// 0 in sync; check writes JSON and JUnit.
func TestStatusAndLs(t *testing.T) {
	cleanSandbox(t)
	if out := mustNetlab(t, "ls"); !strings.Contains(out, "No lab is applied.") {
		t.Errorf("ls with no lab: %s", out)
	}
	file := "../examples/two-namespaces.yaml"
	mustNetlab(t, "apply", file)
	mustNetlab(t, "apply", "../examples/bridge.yaml")
	out := mustNetlab(t, "ls")
	for _, want := range []string{"LAB", "bridge", "twons", "in sync", "two-namespaces.yaml"} {
		if !strings.Contains(out, want) {
			t.Errorf("ls lacks %q:\n%s", want, out)
		}
	}
	if r := netlab(t, "status"); r.code != 1 || !strings.Contains(r.stderr, "several labs are applied") {
		t.Errorf("status with two labs and no name: %s", r)
	}
	out = mustNetlab(t, "status", "twons")
	for _, want := range []string{"testns1\n", "  s1 ", "192.168.20.102/24", "route  default via 192.168.20.101 dev s1", "sysctl  net.ipv4.ip_forward = 1",
		"nat     masquerade 192.168.20.0/24", "Lab twons is in sync"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}

	sh(t, "ip netns exec testns1 ip link set s1 down")
	r := netlab(t, "status", "twons")
	if r.code != 2 || !strings.Contains(r.stdout, "! s1 ") || !strings.Contains(r.stdout, "~ link testns1:s1 (down -> up)") {
		t.Errorf("status of a link set down by hand: %s", r)
	}
	// A file where the lab's name goes is taken as -f FILE, as plan, apply and destroy
	// take it.
	if r := netlab(t, "status", file); r.code != 2 || !strings.Contains(r.stdout, "! s1 ") {
		t.Errorf("status FILE of a link set down by hand: %s", r)
	}
	r = netlab(t, "status", "-o", "json", "-f", file)
	var rep struct {
		FormatVersion string `json:"format_version"`
		InSync        bool   `json:"in_sync"`
		Drift         []string
		Nodes         []struct {
			Name       string
			Interfaces []struct {
				Name    string
				Up      bool
				Differs bool
			}
		}
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || r.code != 2 || rep.FormatVersion != "1" || rep.InSync || len(rep.Drift) == 0 {
		t.Errorf("status -o json: %v: %s", err, r)
	}
	if out := mustNetlab(t, "ls"); !strings.Contains(out, "drifted") {
		t.Errorf("ls after a change by hand:\n%s", out)
	}
	var ls struct {
		Labs []struct{ Name, State string }
	}
	if err := json.Unmarshal([]byte(mustNetlab(t, "ls", "-o", "json")), &ls); err != nil || len(ls.Labs) != 2 || ls.Labs[1].State != "drifted" {
		t.Errorf("ls -o json: %v %+v", err, ls)
	}
	mustNetlab(t, "apply", file)
	if r := netlab(t, "status", "twons"); r.code != 0 {
		t.Errorf("status after apply: %s", r)
	}

	junit := filepath.Join(t.TempDir(), "check.xml")
	var check struct {
		Passed  bool
		Results []struct{ From, Address string }
	}
	if err := json.Unmarshal([]byte(mustNetlab(t, "check", "-o", "json", "--junit", junit, file)), &check); err != nil || !check.Passed || len(check.Results) < 6 {
		t.Errorf("check -o json: %v %+v", err, check)
	}
	b, err := os.ReadFile(junit)
	var suites struct {
		Suites []struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
		} `xml:"testsuite"`
	}
	if err != nil || xml.Unmarshal(b, &suites) != nil || len(suites.Suites) != 1 || suites.Suites[0].Tests < 6 || suites.Suites[0].Failures != 0 {
		t.Errorf("check --junit: %v\n%s", err, b)
	}
	mustNetlab(t, "destroy", "--name", "bridge")
	mustNetlab(t, "destroy", "--name", "twons")
}

// TestCompletion: the shell completion of lab names, nodes, NODE:IF endpoints and
// output formats, through cobra's __complete entry point, as a shell calls it.
func TestCompletion(t *testing.T) {
	cleanSandbox(t)
	mustNetlab(t, "apply", "../examples/two-namespaces.yaml")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"exec", ""}, []string{"host", "testns1", "testns2"}},
		{[]string{"capture", ""}, []string{"host:m1", "host:m2", "testns1:s1", "testns2:s2"}},
		{[]string{"status", ""}, []string{"twons"}},
		{[]string{"destroy", "--name", ""}, []string{"twons"}},
		{[]string{"plan", "-o", ""}, []string{"text", "json", "sh"}},
		{[]string{"status", "-o", ""}, []string{"text", "json"}},
	} {
		out := mustNetlab(t, append([]string{"__complete"}, tc.args...)...)
		var got []string
		for _, l := range strings.Split(out, "\n") {
			if l != "" && !strings.HasPrefix(l, ":") {
				got = append(got, strings.SplitN(l, "\t", 2)[0])
			}
		}
		if strings.Join(got, " ") != strings.Join(tc.want, " ") {
			t.Errorf("netlab __complete %s: %v, want %v", strings.Join(tc.args, " "), got, tc.want)
		}
	}
	mustNetlab(t, "destroy")
}
