package tests

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestTwoNamespacesReachability checks SEEDS scenario 2's table: from testns1, every
// address answers with forwarding on; testns2 (192.168.10.102) does not with it off.
func TestTwoNamespacesReachability(t *testing.T) {
	cleanSandbox(t)
	on := "../examples/two-namespaces.yaml"
	mustNetlab(t, "apply", on)
	targets := []struct {
		addr    string
		withOff bool // answers with forwarding off
	}{
		{"192.168.20.101", true}, {"192.168.20.102", true}, {"192.168.10.101", true}, {"192.168.10.102", false},
	}
	for _, tg := range targets {
		if !ping("testns1", tg.addr) {
			t.Errorf("forwarding on: NG from testns1 ping to %s, want OK", tg.addr)
		}
		if !ping("", tg.addr) {
			t.Errorf("forwarding on: NG from the host ping to %s, want OK", tg.addr)
		}
	}
	// netlab check proves the same table from the file's expect: section.
	if r := netlab(t, "check", on); r.code != 0 || !strings.Contains(squeeze(r.stdout), "OK from testns1 ping to 192.168.10.102 as expected") ||
		!strings.Contains(r.stdout, "Check passed: all 6 expectation(s) hold.") {
		t.Errorf("netlab check with forwarding on: %s", r)
	}
	// testns1's traffic is masqueraded: the rule counted the forwarded ping.
	if out := sh(t, "iptables -t nat -L POSTROUTING -v -x -n | awk '/netlab:twons/ {print $1}'"); strings.TrimSpace(out) == "0" {
		t.Errorf("the MASQUERADE rule counted no packet")
	}

	off := writeFile(t, "off.yaml", strings.NewReplacer("forwarding: true", "forwarding: false",
		"192.168.10.101, 192.168.10.102]", "192.168.10.101]\n    unreachable: [192.168.10.102]").Replace(readExample(t, "two-namespaces.yaml")))
	out := mustNetlab(t, "apply", "--take-over", off) // another file of the same lab
	if !strings.Contains(out, "Plan: 0 to add, 1 to change, 0 to remove.") {
		t.Errorf("turning forwarding off should change one sysctl:\n%s", out)
	}
	for _, tg := range targets {
		if got := ping("testns1", tg.addr); got != tg.withOff {
			t.Errorf("forwarding off: from testns1 ping to %s answered=%v, want %v", tg.addr, got, tg.withOff)
		}
		if !ping("", tg.addr) {
			t.Errorf("forwarding off: NG from the host ping to %s, want OK", tg.addr)
		}
	}
	if r := netlab(t, "check", off); r.code != 0 || !strings.Contains(squeeze(r.stdout), "NG from testns1 ping to 192.168.10.102 as expected") {
		t.Errorf("netlab check of the forwarding-off copy: %s", r)
	}
	if r := netlab(t, "check", on); r.code != 1 || !strings.Contains(squeeze(r.stdout), "NG from testns1 ping to 192.168.10.102 UNEXPECTED: should answer") ||
		!strings.Contains(r.stdout, "Check failed: 1 of 6 expectation(s) do not hold.") {
		t.Errorf("netlab check with the forwarding-on expectations and forwarding off: %s", r)
	}
	mustNetlab(t, "destroy")
	if got := strings.TrimSpace(sh(t, "cat /proc/sys/net/ipv4/ip_forward")); got != "0" {
		t.Errorf("ip_forward after destroy = %s, want the original 0", got)
	}
}

// TestRouterNAT proves MASQUERADE with an upstream namespace that has no route back to
// the client network: the client reaches it only because the router rewrites the
// source; without the rule, it does not.
func TestRouterNAT(t *testing.T) {
	cleanSandbox(t)
	mustNetlab(t, "apply", "../examples/router-nat.yaml")
	if !ping("client", "203.0.113.2") {
		t.Fatal("client cannot reach upstream through the router's NAT")
	}
	noNAT := writeFile(t, "nonat.yaml", strings.Replace(readExample(t, "router-nat.yaml"),
		"    nat:\n      - {masquerade: 10.0.1.0/24, out: wan0}\n", "", 1))
	out := mustNetlab(t, "apply", "--take-over", noNAT)
	if !strings.Contains(out, "Plan: 0 to add, 0 to change, 1 to remove.") {
		t.Errorf("removing the nat rule should remove one object:\n%s", out)
	}
	sh(t, "ip netns exec router conntrack -F 2>/dev/null || true")
	if ping("client", "203.0.113.2") {
		t.Error("client reaches upstream without NAT: the test proves nothing")
	}
	mustNetlab(t, "destroy", noNAT)
}

// TestMinimalChange applies a changed topology: only the difference changes, and a
// namespace that stays keeps its identity.
func TestMinimalChange(t *testing.T) {
	cleanSandbox(t)
	orig, _, _ := strings.Cut(readExample(t, "two-namespaces.yaml"), "# The reachability table") // without expect:
	mustNetlab(t, "apply", writeFile(t, "a.yaml", orig))
	inode := sh(t, "stat -L -c %i /run/netns/testns1")

	changed := strings.NewReplacer(
		"  testns2:\n    interfaces: {s2: {addresses: [192.168.10.102/24]}}\n    routes: [{to: default, via: 192.168.10.101}]\n",
		"  testns3: {}\n",
		"      m2: {addresses: [192.168.10.101/24]}\n", "",
		"  - [host:m2, testns2:s2]\n", "",
		"192.168.20.102/24", "192.168.20.103/24",
	).Replace(orig)
	file := writeFile(t, "b.yaml", changed)
	out := mustNetlab(t, "plan", "--take-over", file)
	want := []string{
		"- address 192.168.20.102/24 on testns1:s1",
		"- netns testns2  # no longer in the topology; takes host:m2 with it",
		"+ netns testns3",
		"+ address 192.168.20.103/24 on testns1:s1",
		// Deleting .102 takes the default route with it: the plan adds it back.
		"+ route testns1: default via 192.168.20.101  # the kernel drops it with the address that reaches its gateway",
		// The lab's hosts file names its addresses: it follows them, and every
		// namespace's hosts file is a link to it again.
		"~ file /etc/netns/.netlab-twons.hosts (rewritten)",
		"~ file /etc/netns/testns1/hosts (relinked)",
		"- file /etc/netns/testns2/hosts  # no longer in the topology",
		"- directory /etc/netns/testns2  # no longer in the topology",
		"+ file /etc/netns/testns3/hosts",
		"Plan: 5 to add, 2 to change, 4 to remove.",
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("plan lacks %q:\n%s", w, out)
		}
	}
	mustNetlab(t, "apply", "--take-over", file)
	if got := sh(t, "stat -L -c %i /run/netns/testns1"); got != inode {
		t.Errorf("testns1 was recreated (inode %s, was %s)", got, inode)
	}
	if !ping("testns1", "192.168.20.101") || ping("testns1", "192.168.10.102") {
		t.Error("after the change, testns1 should reach the host on m1 and nothing of testns2")
	}
	if shOK("ip link show m2") {
		t.Error("m2 is still there")
	}
	mustNetlab(t, "destroy", file)
}

// TestOneLabOneFile: a second file of the same lab name (a tutorial's copy changed
// without changing its name:) is refused by plan, apply and destroy while the file the
// lab was applied from exists, changing nothing; another path to the same file is that
// file; --take-over makes the second file the lab's; destroy --name needs no file.
func TestOneLabOneFile(t *testing.T) {
	cleanSandbox(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	orig := readExample(t, "two-namespaces.yaml")
	smaller := strings.NewReplacer("  - [host:m2, testns2:s2]\n", "", "  testns2:\n    interfaces: {s2: {addresses: [192.168.10.102/24]}}\n    routes: [{to: default, via: 192.168.10.101}]\n", "",
		"      m2: {addresses: [192.168.10.101/24]}\n", "", ", 192.168.10.101, 192.168.10.102]", "]", "reach: [testns1, testns2]", "reach: [testns1]").Replace(orig)
	for p, content := range map[string]string{a: orig, b: smaller} {
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(a, filepath.Join(dir, "same.yaml")); err != nil {
		t.Fatal(err)
	}
	mustNetlab(t, "apply", a)
	applied := snapshot(t)
	for _, args := range [][]string{{"plan", b}, {"apply", b}, {"apply", "--dry-run", b}, {"destroy", b}} {
		r := netlab(t, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "lab twons was applied from "+a+", which still exists; "+b+" names the same lab") ||
			!strings.Contains(r.stderr, "nothing was changed") {
			t.Errorf("netlab %s: want exit 1 naming %s: %s", strings.Join(args, " "), a, r)
		}
	}
	if d := lineDiff(applied, snapshot(t)); d != "" {
		t.Errorf("the refusals changed the sandbox:\n%s", d)
	}
	if out := mustNetlab(t, "plan", filepath.Join(dir, "same.yaml")); !strings.Contains(out, "No changes.") {
		t.Errorf("a symlink to the lab's file is that file: %s", out)
	}
	out := mustNetlab(t, "apply", "--take-over", b)
	if !strings.Contains(out, "- netns testns2") || shOK("ip netns pids testns2") {
		t.Errorf("apply --take-over of the smaller file should delete testns2:\n%s", out)
	}
	if out := mustNetlab(t, "ls"); !strings.Contains(out, b) {
		t.Errorf("the lab's file is now %s:\n%s", b, out)
	}
	if r := netlab(t, "apply", a); r.code != 1 || !strings.Contains(r.stderr, "applied from "+b) {
		t.Errorf("the first file is now the other one: %s", r)
	}
	// The lab's file moved away: the file given takes its place.
	if err := os.Rename(b, b+".old"); err != nil {
		t.Fatal(err)
	}
	mustNetlab(t, "apply", a)
	if err := os.Rename(b+".old", b); err != nil {
		t.Fatal(err)
	}
	if r := netlab(t, "destroy", b); r.code != 1 || !strings.Contains(r.stderr, "netlab destroy --name twons") {
		t.Errorf("destroy by the other file: %s", r)
	}
	mustNetlab(t, "destroy", "--name", "twons")
	if shOK("ip netns pids testns1") {
		t.Error("destroy --name left testns1")
	}
}

// TestKindChange turns the veth end host:m1 into a bridge that testns1's link joins, and
// back: an interface that keeps its name but changes kind is deleted and made anew,
// with its peer, its addresses and the route they carry.
func TestKindChange(t *testing.T) {
	cleanSandbox(t)
	orig, _, _ := strings.Cut(readExample(t, "two-namespaces.yaml"), "# The reachability table") // without expect:
	bridged := strings.Replace(orig, "    interfaces:\n      m1: {addresses: [192.168.20.101/24]}\n",
		"    bridges: {m1: {addresses: [192.168.20.101/24]}}\n    interfaces:\n", 1)
	a, b := writeFile(t, "a.yaml", orig), writeFile(t, "b.yaml", bridged)
	mustNetlab(t, "apply", a)
	out := mustNetlab(t, "apply", "--take-over", b) // apply verifies that nothing is left to do
	for _, w := range []string{
		"- link host:m1  # it is a veth and must be a bridge; it is recreated",
		"+ bridge host:m1  # made anew in place of the one deleted above",
		"+ veth host:testns1-s1 <-> testns1:s1",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("apply lacks %q:\n%s", w, out)
		}
	}
	names := "awk -F': ' '{print $2}' | cut -d@ -f1 | grep . | sort"
	if got := sh(t, "ip -o link show type bridge | "+names+"; ip -o link show master m1 | "+names); got != "m1\ntestns1-s1\n" {
		t.Errorf("bridges, then ports of m1: %q, want m1 and testns1-s1", got)
	}
	if !ping("testns1", "192.168.20.101") || !ping("testns1", "192.168.10.102") {
		t.Error("through the bridge, testns1 should reach the host and testns2")
	}
	mustNetlab(t, "apply", "--take-over", a)
	if got := sh(t, "ip -o link show type veth | "+names); got != "m1\nm2\n" || shOK("ip link show testns1-s1") {
		t.Errorf("back to veths: the host's are %q, want m1 and m2 (and testns1-s1 gone)", got)
	}
	if !ping("testns1", "192.168.10.102") {
		t.Error("after the change back, testns1 should reach testns2")
	}
	mustNetlab(t, "destroy", a)
}

// TestDriftRepair deletes objects by hand: plan shows exactly those and apply puts them
// back.
func TestDriftRepair(t *testing.T) {
	cases := []struct {
		name, damage string
		want         []string
		file         string // default: two-namespaces.yaml
	}{
		{"address", "ip -n testns1 addr del 192.168.20.102/24 dev s1",
			// The kernel drops the default route with the address that reaches its gateway.
			[]string{"+ address 192.168.20.102/24 on testns1:s1", "+ route testns1: default via 192.168.20.101", "Plan: 2 to add, 0 to change, 0 to remove."}, ""},
		{"route", "ip -n testns2 route del default",
			[]string{"+ route testns2: default via 192.168.10.101", "Plan: 1 to add, 0 to change, 0 to remove."}, ""},
		{"link", "ip link del m2",
			[]string{"+ veth host:m2 <-> testns2:s2", "+ address 192.168.10.101/24 on host:m2", "+ address 192.168.10.102/24 on testns2:s2",
				"+ route testns2: default via 192.168.10.101", "Plan: 4 to add, 0 to change, 0 to remove."}, ""},
		{"link down", "ip -n testns1 link set s1 down",
			// A link going down takes the routes through it.
			[]string{"~ link testns1:s1 (down -> up)", "+ route testns1: default via 192.168.20.101", "Plan: 1 to add, 1 to change, 0 to remove."}, ""},
		{"namespace", "ip netns del testns1; sleep 0.2",
			[]string{"+ netns testns1", "+ veth host:m1 <-> testns1:s1", "Plan: 5 to add, 0 to change, 0 to remove."}, ""},
		{"sysctl", "echo 0 > /proc/sys/net/ipv4/ip_forward",
			[]string{"~ sysctl host: net.ipv4.ip_forward (0 -> 1)", "Plan: 0 to add, 1 to change, 0 to remove."}, ""},
		{"nat rule", "iptables -t nat -F POSTROUTING",
			[]string{"+ nat host: masquerade 192.168.20.0/24", "Plan: 1 to add, 0 to change, 0 to remove."}, ""},
		// Written through the link: the lab's shared file changed, every link is made anew.
		{"hosts file", "echo '192.0.2.1 testns2' > /etc/netns/testns1/hosts",
			[]string{"~ file /etc/netns/.netlab-twons.hosts (rewritten)", "~ file /etc/netns/testns1/hosts (relinked)",
				"~ file /etc/netns/testns2/hosts (relinked)", "Plan: 0 to add, 3 to change, 0 to remove."}, ""},
		// Replaced by another file: that one is linked again.
		{"hosts file replaced", "rm /etc/netns/testns2/hosts; echo '192.0.2.1 testns1' > /etc/netns/testns2/hosts",
			[]string{"~ file /etc/netns/testns2/hosts (relinked)", "Plan: 0 to add, 1 to change, 0 to remove."}, ""},
		{"bridge port", "ip -n sw link set h2-eth0 nomaster",
			[]string{`~ link sw:h2-eth0 (master "" -> "br0")`, "Plan: 0 to add, 1 to change, 0 to remove."}, "bridge.yaml"},
		{"mtu", "ip -n h1 link set eth0 mtu 1500",
			[]string{"~ link h1:eth0 (mtu 1500 -> 9000)", "Plan: 0 to add, 1 to change, 0 to remove."}, "bridge.yaml"},
		{"txqueuelen", "ip -n h1 link set eth0 txqueuelen 1000",
			[]string{"~ link h1:eth0 (txqueuelen 1000 -> 500)", "Plan: 0 to add, 1 to change, 0 to remove."}, "bridge.yaml"},
		{"bridge", "ip -n sw link del br0",
			[]string{"+ bridge sw:br0", "+ address 10.20.0.254/24 on sw:br0", `~ link sw:h1-eth0 (master "" -> "br0")`, "Plan: 2 to add, 3 to change, 0 to remove."}, "bridge.yaml"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cleanSandbox(t)
			file := "../examples/" + cmp.Or(c.file, "two-namespaces.yaml")
			mustNetlab(t, "apply", file)
			sh(t, c.damage)
			r := netlab(t, "plan", "--detailed-exitcode", file)
			if r.code != 2 {
				t.Fatalf("plan after damage should exit 2: %s", r)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("plan lacks %q:\n%s", w, r.stdout)
				}
			}
			mustNetlab(t, "apply", file)
			if r := netlab(t, "plan", "--detailed-exitcode", file); r.code != 0 {
				t.Errorf("apply did not repair: %s", r)
			}
			if r := netlab(t, "check", file); r.code != 0 {
				t.Errorf("after repair: %s", r)
			}
			mustNetlab(t, "destroy")
		})
	}
}

// TestClashRefused pre-creates objects netlab does not own with the names the lab
// wants: apply must refuse with exit 1, name the object and change nothing.
func TestClashRefused(t *testing.T) {
	cases := []struct{ name, setup, want string }{
		{"namespace", "ip netns add testns1", "netns testns1: /run/netns/testns1 exists and was not made by this lab"},
		// Files at /run/netns/testns1 that are not namespaces are not the lab's either:
		// refused, never removed, and a symlink is never followed.
		{"netns file", "echo data > /run/netns/testns1", "netns testns1: /run/netns/testns1 exists and is a regular file"},
		{"empty netns file", "touch /run/netns/testns1; chmod 0 /run/netns/testns1", "/run/netns/testns1 exists and is an empty file"},
		{"netns symlink", "echo victim > $VICTIM; ln -s $VICTIM /run/netns/testns1", "/run/netns/testns1 exists and is a symbolic link"},
		{"netns directory", "mkdir /run/netns/testns1; echo data > /run/netns/testns1/x", "/run/netns/testns1 exists and is a directory"},
		{"interface", "ip link add m2 type veth peer name other0", "link host:m2: an interface m2"},
		{"address", "ip link add other0 type veth peer name other1; ip addr add 192.168.20.101/32 dev other0",
			"address 192.168.20.101/24 on host:m1: the address is already on host:other0"},
		{"route", "ip link add other0 type veth peer name other1; ip link set other0 up; ip addr add 10.9.9.1/24 dev other0; ip route add 10.1.0.0/16 via 10.9.9.2",
			"route host: 10.1.0.0/16"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cleanSandbox(t)
			victim := filepath.Join(t.TempDir(), "victim")
			sh(t, "VICTIM="+victim+"; "+c.setup)
			file := "../examples/two-namespaces.yaml"
			if c.name == "route" {
				file = writeFile(t, "route.yaml", strings.Replace(readExample(t, "two-namespaces.yaml"),
					"      m2: {addresses: [192.168.10.101/24]}\n",
					"      m2: {addresses: [192.168.10.101/24]}\n    routes: [{to: 10.1.0.0/16, via: 192.168.10.102}]\n", 1))
			}
			before := snapshot(t)
			for _, cmd := range []string{"plan", "apply"} {
				r := netlab(t, cmd, file)
				if r.code != 1 || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "nothing was changed") {
					t.Errorf("%s: want exit 1 naming %q: %s", cmd, c.want, r)
				}
			}
			if after := snapshot(t); after != before {
				t.Errorf("a refused apply changed the sandbox.\n%s", lineDiff(before, after))
			}
			if c.name == "netns symlink" {
				if b, err := os.ReadFile(victim); err != nil || string(b) != "victim\n" {
					t.Errorf("the symlink's target changed: %q, %v", b, err)
				}
			}
		})
	}
}

// TestKilledApplyConverges kills netlab in the middle of applying a lab, at several
// moments: the next apply must converge and destroy must leave the sandbox as it was.
func TestKilledApplyConverges(t *testing.T) {
	var b strings.Builder
	b.WriteString("name: killed\nnodes:\n  host:\n    forwarding: true\n    nat: [{masquerade: 10.200.0.0/16}]\n    interfaces:\n")
	for i := range 60 {
		fmt.Fprintf(&b, "      h%d: {addresses: [10.200.%d.1/24]}\n", i, i)
	}
	for i := range 60 {
		fmt.Fprintf(&b, "  n%d:\n    interfaces: {e0: {addresses: [10.200.%d.2/24]}}\n    routes: [{to: default, via: 10.200.%d.1}]\n", i, i, i)
	}
	b.WriteString("links:\n")
	for i := range 60 {
		fmt.Fprintf(&b, "  - [host:h%d, n%d:e0]\n", i, i)
	}
	file := writeFile(t, "killed.yaml", b.String())
	for _, delay := range []string{"0.005", "0.02", "0.05", "0.1"} {
		t.Run("after "+delay+"s", func(t *testing.T) {
			cleanSandbox(t)
			before := snapshot(t)
			sh(t, netlabBin()+" apply "+file+" >/dev/null 2>&1 & pid=$!; sleep "+delay+"; kill -9 $pid; wait $pid || true")
			mustNetlab(t, "apply", file)
			if r := netlab(t, "plan", "--detailed-exitcode", file); r.code != 0 {
				t.Errorf("apply after a kill did not converge: %s", r)
			}
			mustNetlab(t, "destroy")
			if after := snapshot(t); after != before {
				t.Errorf("destroy after a kill did not restore the sandbox.\n%s", lineDiff(before, after))
			}
		})
	}
}

// TestKilledApplyThenDestroy kills netlab midway and destroys straight away, from the
// record alone.
func TestKilledApplyThenDestroy(t *testing.T) {
	cleanSandbox(t)
	before := snapshot(t)
	sh(t, netlabBin()+" apply ../examples/two-namespaces.yaml >/dev/null 2>&1 & pid=$!; sleep 0.01; kill -9 $pid; wait $pid || true")
	mustNetlab(t, "destroy")
	if after := snapshot(t); after != before {
		t.Errorf("destroy after a kill did not restore the sandbox.\n%s", lineDiff(before, after))
	}
}

// TestSavedPlan carries out a saved plan, and refuses a stale one.
func TestSavedPlan(t *testing.T) {
	cleanSandbox(t)
	file := writeFile(t, "twons.yaml", readExample(t, "two-namespaces.yaml"))
	planFile := writeFile(t, "reviewed.plan", "")
	mustNetlab(t, "plan", file, "--out", planFile)
	mustNetlab(t, "apply", planFile)
	if r := netlab(t, "plan", "--detailed-exitcode", file); r.code != 0 {
		t.Errorf("the saved plan left work: %s", r)
	}

	// The kernel changes after the plan is saved: apply refuses and changes nothing.
	sh(t, "ip -n testns1 addr del 192.168.20.102/24 dev s1")
	mustNetlab(t, "plan", file, "--out", planFile)
	sh(t, "ip -n testns2 route del default")
	before := snapshot(t)
	r := netlab(t, "apply", planFile)
	if r.code != 1 || !strings.Contains(r.stderr, "stale") {
		t.Errorf("a stale plan was not refused: %s", r)
	}
	if after := snapshot(t); after != before {
		t.Error("a refused stale plan changed the sandbox")
	}

	// The topology changes after the plan is saved.
	mustNetlab(t, "plan", file, "--out", planFile)
	sh(t, "sed -i 's/192.168.20.102/192.168.20.105/' "+file)
	if r := netlab(t, "apply", planFile); r.code != 1 || !strings.Contains(r.stderr, "topology file") {
		t.Errorf("a plan of a changed topology was not refused: %s", r)
	}
	mustNetlab(t, "destroy")
}

// TestLockHeld: a second netlab waits for the lock, then fails naming the holder.
func TestLockHeld(t *testing.T) {
	cleanSandbox(t)
	r := runCmdShell(t, "exec 9>/run/netlab/lock; flock 9; echo 4242 >&9; "+netlabBin()+" --lock-timeout 300ms apply ../examples/veth-host.yaml")
	if r.code != 1 || !strings.Contains(r.stderr, "locked by netlab process 4242") {
		t.Errorf("want a lock error naming PID 4242: %s", r)
	}
	if shOK("ip netns list | grep -q .") {
		t.Error("a run that could not lock changed the sandbox")
	}
}

// TestDestroyFromRecord destroys without a file, picking labs by --name.
func TestDestroyFromRecord(t *testing.T) {
	cleanSandbox(t)
	before := snapshot(t)
	mustNetlab(t, "apply", "../examples/veth-host.yaml")
	mustNetlab(t, "apply", "../examples/router-nat.yaml")
	if r := netlab(t, "destroy"); r.code != 1 || !strings.Contains(r.stderr, "--name") {
		t.Errorf("destroy with two labs and no --name should ask for one: %s", r)
	}
	mustNetlab(t, "destroy", "--name", "router-nat")
	if shOK("ip netns list | grep -q router") || !shOK("ip netns list | grep -q netns01") {
		t.Error("destroy --name router-nat touched the wrong lab")
	}
	mustNetlab(t, "destroy")
	if out := mustNetlab(t, "destroy"); !strings.Contains(out, "Nothing to destroy") {
		t.Errorf("destroy with nothing applied: %s", out)
	}
	if after := snapshot(t); after != before {
		t.Errorf("sandbox not restored.\n%s", lineDiff(before, after))
	}
}

// TestUnprivileged: validate works as any user; plan, apply and destroy stop before
// doing anything.
func TestUnprivileged(t *testing.T) {
	cleanSandbox(t)
	file := writeFile(t, "veth.yaml", readExample(t, "veth-host.yaml"))
	dir := filepath.Dir(file)
	sh(t, "chmod 755 "+dir+" "+filepath.Dir(dir))
	asNobody := "setpriv --reuid=65534 --regid=65534 --clear-groups " + netlabBin() + " "
	if r := runCmdShell(t, asNobody+"validate "+file); r.code != 0 {
		t.Errorf("validate as nobody: %s", r)
	}
	for _, cmd := range []string{"plan " + file, "apply " + file, "destroy"} {
		r := runCmdShell(t, asNobody+cmd)
		if r.code != 1 || !strings.Contains(r.stderr, "needs root") {
			t.Errorf("%s as nobody: want exit 1 asking for root: %s", cmd, r)
		}
	}
	if shOK("ip netns list | grep -q .") {
		t.Error("an unprivileged run changed the sandbox")
	}
	// check pings from raw sockets: without CAP_NET_RAW it says so before it starts.
	mustNetlab(t, "apply", file)
	r := runCmdShell(t, "setpriv --bounding-set -net_raw "+netlabBin()+" check --all "+file)
	if r.code != 1 || !strings.Contains(r.stderr, "netlab check needs root") || !strings.Contains(r.stderr, "missing CAP_NET_RAW") {
		t.Errorf("check without CAP_NET_RAW: want exit 1 naming it: %s", r)
	}
	mustNetlab(t, "destroy")
}

// TestRefusedBeforeChange: what only the kernel shows would fail (a sysctl of an
// interface that is not there, a value it does not take, an existing namespace that
// does not exist) is refused by plan and by apply before the first change.
func TestRefusedBeforeChange(t *testing.T) {
	base := readExample(t, "two-namespaces.yaml")
	withHost := func(extra string) string {
		if !strings.Contains(base, "\n    nat:\n") {
			t.Fatal("the example has no host nat: line to add to")
		}
		return strings.Replace(base, "\n    nat:\n", "\n"+extra+"    nat:\n", 1)
	}
	withNode := func(node string) string {
		return strings.Replace(base, "  testns2:\n", node+"  testns2:\n", 1)
	}
	cases := []struct{ name, topology, want string }{
		{"sysctl of a missing interface", withHost("    sysctls: {net.ipv4.conf.eth9.rp_filter: 2}\n"), "which node host neither has nor gets"},
		{"sysctl value not a number", withHost("    sysctls: {net.ipv4.conf.all.rp_filter: banana}\n"), `not "banana"`},
		{"sysctl value too large", withHost("    sysctls: {net.ipv4.conf.all.rp_filter: 99999999999999999999}\n"), "whole number(s)"},
		{"sysctl value of two fields", withHost("    sysctls: {net.ipv4.conf.all.rp_filter: 1 2}\n"), `not "1 2"`},
		{"no such pid", withNode("  gone:\n    netns: {pid: 999999999}\n"), "/proc/999999999/ns/net does not exist"},
		{"no such path", withNode("  gone:\n    netns: {path: /run/no-such-namespace}\n"), "/run/no-such-namespace does not exist"},
		{"no such name", withNode("  gone:\n    netns: {name: nosuch}\n"), "/run/netns/nosuch does not exist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cleanSandbox(t)
			file := writeFile(t, "lab.yaml", c.topology)
			before := snapshot(t) + sh(t, "cat /proc/sys/net/ipv4/conf/all/rp_filter")
			for _, cmd := range []string{"plan", "apply"} {
				r := netlab(t, cmd, file)
				if r.code != 1 || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "nothing was changed") {
					t.Errorf("%s: want exit 1 saying %q and that nothing was changed: %s", cmd, c.want, r)
				}
			}
			if after := snapshot(t) + sh(t, "cat /proc/sys/net/ipv4/conf/all/rp_filter"); after != before {
				t.Errorf("a refused apply changed the sandbox.\n%s", lineDiff(before, after))
			}
		})
	}
}

// TestSharedForwarding: two and three labs that all turn on the host's forwarding;
// destroying any but the last leaves it on, the last puts back the value found first.
func TestSharedForwarding(t *testing.T) {
	lab := func(name string, i int) string {
		return writeFile(t, name+".yaml", fmt.Sprintf(`name: %s
nodes:
  host:
    forwarding: true
    interfaces: {h%d: {addresses: [10.77.%d.1/24]}}
  %s-n:
    interfaces: {e0: {addresses: [10.77.%d.2/24]}}
links: [[host:h%d, %s-n:e0]]
`, name, i, i, name, i, i, name))
	}
	for _, order := range [][]string{{"a", "b"}, {"b", "a"}, {"a", "b", "c"}, {"c", "a", "b"}} {
		t.Run(strings.Join(order, ","), func(t *testing.T) {
			cleanSandbox(t)
			before := snapshot(t)
			labs := slices.Sorted(slices.Values(order))
			for i, name := range labs {
				mustNetlab(t, "apply", lab(name, i))
			}
			for i, name := range order {
				mustNetlab(t, "destroy", "--name", name)
				want := "1\n"
				if i == len(order)-1 {
					want = "0\n"
				}
				if got := sh(t, "cat /proc/sys/net/ipv4/ip_forward"); got != want {
					t.Errorf("after destroying %s: ip_forward = %q, want %q", name, got, want)
				}
			}
			if after := snapshot(t); after != before {
				t.Errorf("sandbox not restored.\n%s", lineDiff(before, after))
			}
		})
	}
}

// TestRestart: a restart of the machine loses the namespaces, the NAT rule, forwarding
// and netlab's records (the state directory is a tmpfs) and keeps /etc/netns, where the
// lab's files carry its mark: apply builds the lab again, taking its files back, and
// destroy leaves the sandbox as it was.
func TestRestart(t *testing.T) {
	cleanSandbox(t)
	before := snapshot(t)
	lab := "../examples/two-namespaces.yaml"
	mustNetlab(t, "apply", lab)
	sh(t, `ip netns del testns1; ip netns del testns2; rm -f /run/netlab/*.json
iptables -t nat -F; echo 0 > /proc/sys/net/ipv4/ip_forward`)
	out := mustNetlab(t, "apply", lab)
	if !strings.Contains(out, "= file /etc/netns/.netlab-twons.hosts  # the lab's by its mark") ||
		!strings.Contains(out, "= directory /etc/netns/testns1") {
		t.Errorf("apply after the restart should take the lab's files back:\n%s", out)
	}
	if r := netlab(t, "check", lab); r.code != 0 {
		t.Errorf("check after the restart: %s", r)
	}
	mustNetlab(t, "destroy", lab)
	if d := lineDiff(before, snapshot(t)); d != "" {
		t.Errorf("destroy after the restart left:\n%s", d)
	}
}
