package tests

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// victimDir makes a directory of files that no run of netlab may touch, on the test's
// own temporary directory, and returns it with a function that fails the test if any
// of its files changed.
func victimDir(t *testing.T) (string, func()) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "victim")
	files := map[string]string{"hosts": "127.0.0.1 precious\n", "resolv.conf": "nameserver 192.0.2.53\n", "data": "keep me\n"}
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, func() {
		t.Helper()
		entries, _ := os.ReadDir(dir)
		if len(entries) != len(files) {
			t.Errorf("the victim directory now has %d files, want %d", len(entries), len(files))
		}
		for name, want := range files {
			st, err := os.Stat(filepath.Join(dir, name))
			got, _ := os.ReadFile(filepath.Join(dir, name))
			if err != nil || string(got) != want || st.Mode().Perm() != 0o644 {
				t.Errorf("victim %s changed: %q, %v, %v", name, got, st.Mode(), err)
			}
		}
	}
}

// TestEtcNetnsSymlinks: a symbolic link at /etc/netns/NODE, made before the lab is
// applied or put in place of the lab's own directory after, is never followed: apply
// refuses it before any change, and destroy leaves it and what it points to alone.
func TestEtcNetnsSymlinks(t *testing.T) {
	file := "../examples/two-namespaces.yaml"
	t.Run("before apply", func(t *testing.T) {
		cleanSandbox(t)
		victim, unchanged := victimDir(t)
		sh(t, "ln -s "+victim+" /etc/netns/testns1")
		before := snapshot(t)
		for _, cmd := range []string{"plan", "apply"} {
			r := netlab(t, cmd, file)
			if r.code != 1 || !strings.Contains(r.stderr, "/etc/netns/testns1") || !strings.Contains(r.stderr, "nothing was changed") {
				t.Errorf("%s: want a clash naming /etc/netns/testns1: %s", cmd, r)
			}
		}
		if after := snapshot(t); after != before {
			t.Errorf("a refused apply changed the sandbox.\n%s", lineDiff(before, after))
		}
		unchanged()
	})
	t.Run("after apply", func(t *testing.T) {
		cleanSandbox(t)
		victim, unchanged := victimDir(t)
		mustNetlab(t, "apply", file)
		sh(t, "rm -r /etc/netns/testns1 && ln -s "+victim+" /etc/netns/testns1")
		if r := netlab(t, "apply", file); r.code != 1 || !strings.Contains(r.stderr, "/etc/netns/testns1") {
			t.Errorf("re-apply through a symlink: want a clash: %s", r)
		}
		r := netlab(t, "destroy")
		if r.code != 0 || !strings.Contains(r.stderr, "warning: /etc/netns/testns1") {
			t.Errorf("destroy: want success with a warning about /etc/netns/testns1: %s", r)
		}
		if got := sh(t, "readlink /etc/netns/testns1; ls /run/netns"); got != victim+"\n" {
			t.Errorf("destroy left %q, want only the symlink it does not own", got)
		}
		unchanged()
	})
	t.Run("/etc/netns itself", func(t *testing.T) {
		cleanSandbox(t)
		victim, unchanged := victimDir(t)
		// In a nested mount namespace, so that /etc itself can be replaced.
		r := runCmdShell(t, "unshare --mount --propagation private sh -c 'mount -t tmpfs -o mode=0755 tmpfs /etc && ln -s "+victim+" /etc/netns && "+
			netlabBin()+" apply "+filepath.Join(mustAbs(t, "../examples"), "veth-host.yaml")+"'")
		if r.code != 1 || !strings.Contains(r.stderr, "refusing /etc/netns") {
			t.Errorf("want a refusal of /etc/netns: %s", r)
		}
		unchanged()
	})
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	abs, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestStateDirRefused: a lock that is a symlink, or a state directory that is a symlink
// or that others may write to, is refused before anything is written or changed.
func TestStateDirRefused(t *testing.T) {
	file := "../examples/veth-host.yaml"
	cases := []struct{ name, setup, stateDir, want string }{
		{"lock symlink", "ln -s $VICTIM /run/netlab/lock", "", "refusing lock: it is a symbolic link"},
		{"world-writable", "mkdir -m 1777 $TMP/shared", "$TMP/shared", "must be owned by root and writable by root alone"},
		{"through a symlink", "mkdir -m 1777 $TMP/shared; ln -s $TMP/shared $TMP/link", "$TMP/link", "is a symbolic link"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cleanSandbox(t)
			tmp := t.TempDir()
			victim := filepath.Join(tmp, "victim")
			os.WriteFile(victim, []byte("precious\n"), 0o644)
			env := "VICTIM=" + victim + " TMP=" + tmp + "; "
			sh(t, env+c.setup)
			args := "plan " + file
			if c.stateDir != "" {
				args = "--state-dir " + c.stateDir + " " + args
			}
			before := sh(t, env+"stat -c '%n %a %s' $TMP/* $VICTIM")
			r := runCmdShell(t, env+netlabBin()+" "+args)
			if r.code != 1 || !strings.Contains(r.stderr, c.want) {
				t.Errorf("want exit 1 saying %q: %s", c.want, r)
			}
			if after := sh(t, env+"stat -c '%n %a %s' $TMP/* $VICTIM"); after != before {
				t.Errorf("files changed:\n%s\nwant:\n%s", after, before)
			}
		})
	}
}

// TestForgedRecord: a record is input like any other. A forged or damaged one is refused
// with a clear error, nothing is done from it, and it is left for a person to look at.
func TestForgedRecord(t *testing.T) {
	const head = `{"format_version": 1, "lab": "forged", "owned": `
	cases := []struct{ name, record, want string }{
		{"file outside /etc/netns", head + `{"namespaces": [], "links": [], "addresses": [], "routes": [], "sysctls": [], "nat": [], "files": [{"ns": "../..` + "$VICTIM_DIR" + `", "name": "victim", "content": ""}]}}`, "not usable"},
		{"namespace path", head + `{"namespaces": ["../../run/netlab"], "links": [], "addresses": [], "routes": [], "sysctls": [], "nat": []}}`, `namespace "../../run/netlab"`},
		{"host sysctl outside net", head + `{"namespaces": [], "links": [], "addresses": [], "routes": [], "sysctls": [{"ns": "host", "name": "kernel.hostname", "value": "pwned"}], "nat": []}}`, "kernel.hostname"},
		{"unknown kind", head + `{"namespaces": [], "links": [], "addresses": [], "routes": [], "sysctls": [], "nat": [], "tunnels": [{"ns": "host"}]}}`, `unknown field "tunnels"`},
		{"owned null", head + `null}`, `"owned" is missing or null`},
		{"other version", `{"format_version": 99, "lab": "forged", "owned": {}}`, "format version 99"},
		{"other lab", `{"format_version": 1, "lab": "other", "owned": {}}`, `names lab "other"`},
		{"truncated", head + `{"namespaces": [`, "destroy FILE"},
		{"garbage", "\x00\x01garbage", "destroy FILE"},
		{"empty", "", "destroy FILE"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cleanSandbox(t)
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "victim"), []byte("precious\n"), 0o644)
			record := strings.ReplaceAll(c.record, "$VICTIM_DIR", dir)
			if err := os.WriteFile("/run/netlab/forged.json", []byte(record), 0o600); err != nil {
				t.Fatal(err)
			}
			hostname := sh(t, "cat /proc/sys/kernel/hostname")
			r := netlab(t, "destroy")
			if r.code != 1 || !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "nothing was done") {
				t.Errorf("want exit 1 saying %q and that nothing was done: %s", c.want, r)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "victim")); err != nil || string(b) != "precious\n" {
				t.Errorf("the victim changed: %q, %v", b, err)
			}
			if got := sh(t, "cat /proc/sys/kernel/hostname"); got != hostname {
				t.Errorf("the hostname changed to %q", got)
			}
			if b, err := os.ReadFile("/run/netlab/forged.json"); err != nil || string(b) != record {
				t.Errorf("the record was changed or removed: %v", err)
			}
		})
	}
}

// TestRecordedButUnmarked: destroy deletes a recorded link only while the kernel shows
// it as the lab's (its alias, or the address the lab gave it): a link of that name made
// by someone else since is left alone, whatever the record says.
func TestRecordedButUnmarked(t *testing.T) {
	cleanSandbox(t)
	sh(t, "ip link add veth0-host type veth peer name theirs")
	record := `{"format_version": 1, "lab": "veth-host", "owned": {"namespaces": [], "links": [
	  {"ns": "host", "name": "veth0-host", "kind": "veth", "peer_ns": "netns01", "peer_name": "veth0-ns", "alias": "netlab:veth-host", "up": true}],
	  "addresses": [], "routes": [], "sysctls": [], "nat": []}}`
	if err := os.WriteFile("/run/netlab/veth-host.json", []byte(record), 0o600); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t)
	for _, args := range [][]string{{"destroy"}, {"destroy", "../examples/veth-host.yaml"}} {
		if r := netlab(t, args...); r.code != 0 {
			t.Errorf("netlab %v: %s", args, r)
		}
	}
	if !shOK("ip link show veth0-host && ip link show theirs") {
		t.Error("destroy deleted a link that is not the lab's")
	}
	if after := snapshot(t); strings.ReplaceAll(after, "veth-host.json\n", "") != strings.ReplaceAll(before, "veth-host.json\n", "") {
		t.Errorf("destroy changed the sandbox.\n%s", lineDiff(before, after))
	}
}

// TestRecordLost: with its record deleted, or unreadable, a lab is still destroyed by
// destroy FILE and by destroy --name LAB, from what carries its marks; the host
// sysctl it cannot restore is named, and a new apply meets no leftover.
func TestRecordLost(t *testing.T) {
	file := "../examples/two-namespaces.yaml"
	for _, c := range []struct {
		name, damage string
		args         []string
	}{
		{"deleted, destroy FILE", "rm /run/netlab/twons.json", []string{"destroy", file}},
		{"deleted, destroy --name", "rm /run/netlab/twons.json", []string{"destroy", "--name", "twons"}},
		{"garbage, destroy FILE", "echo garbage > /run/netlab/twons.json", []string{"destroy", file}},
		{"garbage, destroy --name", "echo garbage > /run/netlab/twons.json", []string{"destroy", "--name", "twons"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cleanSandbox(t)
			before := snapshot(t)
			mustNetlab(t, "apply", file)
			sh(t, c.damage)
			r := netlab(t, c.args...)
			if r.code != 0 || !strings.Contains(r.stderr, "destroying what carries its marks") {
				t.Fatalf("want the lab destroyed by its marks: %s", r)
			}
			// Only the file says which sysctls the lab set: the one it cannot restore.
			if len(c.args) == 2 && !strings.Contains(r.stderr, "net.ipv4.ip_forward stays 1") {
				t.Errorf("want a warning that ip_forward stays 1: %s", r)
			}
			sh(t, "echo 0 > /proc/sys/net/ipv4/ip_forward") // the one thing it cannot restore
			if after := snapshot(t); after != before {
				t.Errorf("destroy without a record left things behind.\n%s", lineDiff(before, after))
			}
			mustNetlab(t, "apply", file)
			mustNetlab(t, "destroy")
		})
	}
	t.Run("plain destroy says how", func(t *testing.T) {
		cleanSandbox(t)
		mustNetlab(t, "apply", file)
		sh(t, "rm /run/netlab/twons.json")
		if r := netlab(t, "destroy"); r.code != 0 || !strings.Contains(r.stderr, "netlab destroy --name LAB") {
			t.Errorf("want a hint at destroy FILE and --name: %s", r)
		}
		mustNetlab(t, "destroy", file)
	})
}

// TestHostsHardLinks: every namespace's hosts file is a hard link to the lab's one
// shared file, so /etc/netns holds the lab's addresses once, and ip netns exec binds it.
func TestHostsHardLinks(t *testing.T) {
	cleanSandbox(t)
	mustNetlab(t, "apply", "../examples/two-namespaces.yaml")
	got := sh(t, "stat -c '%i %h' /etc/netns/.netlab-twons.hosts /etc/netns/testns1/hosts /etc/netns/testns2/hosts | sort -u")
	if fields := strings.Fields(got); len(fields) != 2 || fields[1] != "3" {
		t.Errorf("want one inode with three links, got %q", got)
	}
	if out := sh(t, "ip netns exec testns1 getent -s files hosts testns2"); !strings.Contains(out, "192.168.10.102") {
		t.Errorf("ip netns exec does not see the lab's names: %q", out)
	}
	mustNetlab(t, "destroy")
	if out := sh(t, "ls -A /etc/netns"); out != "" {
		t.Errorf("destroy left %q", out)
	}
}
