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
