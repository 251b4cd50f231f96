package tests

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestExec runs commands inside a node with `netlab exec`, as `ip netns exec` would:
// the node's interfaces in /sys, /etc/netns/NODE files over /etc, the command's own
// streams and exit status, and nothing mounted in the sandbox afterwards.
func TestExec(t *testing.T) {
	cleanSandbox(t)
	file := "../examples/two-namespaces.yaml"
	mustNetlab(t, "apply", file)
	sysBefore := sh(t, "ls /sys/class/net; cat /proc/self/mountinfo | wc -l")
	// A file of the user's beside the lab's hosts file (the address is never contacted).
	sh(t, "echo 'nameserver 192.0.2.53' > /etc/netns/testns1/resolv.conf")

	cases := []struct {
		name   string
		args   []string
		stdin  string
		stdout string
		code   int
	}{
		{"sys shows the node's links", []string{"exec", "testns1", "--", "ls", "/sys/class/net"}, "", "lo\ns1\n", 0},
		{"the lab's hosts over /etc/hosts", []string{"exec", "testns1", "--", "grep", "s2.testns2", "/etc/hosts"}, "", "192.168.10.102\ts2.testns2 testns2\n", 0},
		{"the user's file too", []string{"exec", "testns1", "--", "cat", "/etc/resolv.conf"}, "", "nameserver 192.0.2.53\n", 0},
		{"other node keeps the host's resolv.conf", []string{"exec", "testns2", "--", "grep", "-c", "192.0.2.53", "/etc/resolv.conf"}, "", "0\n", 1},
		{"exit status is the command's", []string{"exec", "testns2", "--", "sh", "-c", "exit 7"}, "", "", 7},
		{"stdin reaches the command", []string{"exec", "testns2", "--", "cat"}, "hello\n", "hello\n", 0},
		{"signal death is 128+N", []string{"exec", "testns2", "--", "sh", "-c", "kill -TERM $$"}, "", "", 143},
		{"command flags need no --", []string{"exec", "testns1", "ip", "-br", "-4", "addr", "show", "dev", "s1"}, "", "", 0},
		{"from the lab file", []string{"exec", "-f", file, "testns2", "--", "ls", "/sys/class/net"}, "", "lo\ns2\n", 0},
		{"by lab name", []string{"exec", "--name", "twons", "testns2", "--", "true"}, "", "", 0},
		{"the host node", []string{"exec", "host", "--", "sh", "-c", "exit 3"}, "", "", 3},
		{"unknown command", []string{"exec", "testns1", "--", "no-such-command"}, "", "", 127},
		{"unknown command by path", []string{"exec", "testns1", "--", "/no/such/command"}, "", "", 127},
		{"not executable", []string{"exec", "testns1", "--", "/etc/hostname"}, "", "", 126},
		{"unknown command in host", []string{"exec", "host", "--", "no-such-command"}, "", "", 127},
		// The command ignores no signal netlab's caller did not ignore: as ip netns exec.
		{"signal dispositions as ip netns exec", []string{"exec", "testns1", "--", "grep", "SigIgn", "/proc/self/status"}, "",
			sh(t, "ip netns exec testns1 grep SigIgn /proc/self/status"), 0},
		{"unknown node", []string{"exec", "testns9", "--", "true"}, "", "", 1},
		{"unknown lab", []string{"exec", "--name", "nolab", "testns1", "--", "true"}, "", "", 1},
	}
	// A file where the node goes: the error says how to name a lab by its file.
	if r := netlab(t, "exec", file, "testns1", "--", "true"); r.code != 1 || !strings.Contains(r.stderr, "netlab exec -f "+file+" NODE") {
		t.Errorf("exec FILE NODE: %s", r)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(netlabBin(), c.args...)
			cmd.Stdin = strings.NewReader(c.stdin)
			r := runCmd(t, cmd)
			if r.code != c.code || (c.stdout != "" && r.stdout != c.stdout) {
				t.Errorf("netlab %s: want exit %d and %q, got %s", strings.Join(c.args, " "), c.code, c.stdout, r)
			}
		})
	}
	// The ping goes to an address of the lab's own namespace, by the name the lab's
	// hosts file gives it.
	if out := mustNetlab(t, "exec", "testns1", "--", "ping", "-c1", "-W2", "testns2"); !strings.Contains(out, "1 received") || !strings.Contains(out, "192.168.10.102") {
		t.Errorf("ping from testns1 to testns2: %s", out)
	}
	if after := sh(t, "ls /sys/class/net; cat /proc/self/mountinfo | wc -l"); after != sysBefore {
		t.Errorf("exec left mounts or links behind:\nbefore %s\nafter %s", sysBefore, after)
	}
	mustNetlab(t, "destroy", file)
	// Destroy removed the lab's hosts files and testns2's directory, and left the
	// directory that holds the user's file.
	if got := sh(t, "cd /etc/netns && ls -R"); got != ".:\ntestns1\n\n./testns1:\nresolv.conf\n" {
		t.Errorf("/etc/netns after destroy:\n%s", got)
	}
	os.RemoveAll("/etc/netns/testns1")
}

// TestExecSignals: signals sent to `netlab exec` reach the command, netlab waits for it
// and exits with its status; Ctrl-C on a terminal reaches it once; and no environment
// turns another netlab command into the re-executed child.
func TestExecSignals(t *testing.T) {
	cleanSandbox(t)
	mustNetlab(t, "apply", "../examples/veth-host.yaml")
	for _, sig := range []string{"TERM", "INT", "HUP"} {
		t.Run("SIG"+sig, func(t *testing.T) {
			// The command writes its PID (the sleep's: sh execs it), then sleeps; netlab
			// gets the signal; afterwards that process must be gone.
			out := filepath.Join(t.TempDir(), "pid")
			r := runCmdShell(t, netlabBin()+" exec netns01 -- sh -c 'echo $$; exec sleep 31.7' > "+out+" & pid=$!; "+
				"while [ ! -s "+out+" ]; do sleep 0.01; done; kill -"+sig+" $pid; wait $pid; echo rc=$?; "+
				"kill -0 $(cat "+out+") 2>/dev/null && echo left || true")
			want := map[string]string{"TERM": "rc=143", "INT": "rc=130", "HUP": "rc=129"}[sig]
			if strings.TrimSpace(r.stdout) != want {
				t.Errorf("want %s and no sleep left: %s", want, r)
			}
		})
	}
	t.Run("Ctrl-C on a terminal", func(t *testing.T) {
		// script gives netlab a pseudo-terminal; ^C typed there interrupts the command.
		r := runCmdShell(t, "(sleep 0.5; printf '\\003'; sleep 0.5) | script -qec '"+netlabBin()+" exec netns01 -- sleep 30' /dev/null; echo rc=$?")
		if !strings.Contains(r.stdout, "rc=130") {
			t.Errorf("want the command interrupted, exit 130: %s", r)
		}
	})
	t.Run("forged child", func(t *testing.T) {
		r := runCmdShell(t, "NETLAB_EXEC_NETNS=/run/netns/netns01 NETLAB_EXEC_NODE=netns01 "+netlabBin()+" validate ../examples/veth-host.yaml")
		if r.code != 0 || !strings.Contains(r.stdout, "is valid") {
			t.Errorf("the environment made validate something else: %s", r)
		}
	})
	mustNetlab(t, "destroy")
}
