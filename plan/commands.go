package plan

import "strings"

// inNS returns a command of iproute2's tool (ip, tc, bridge) run in namespace ns:
// `TOOL -n NS ...`, or plain `TOOL ...` in the host.
func inNS(tool string, ns NS, args ...string) []string {
	if ns == Host {
		return append([]string{tool}, args...)
	}
	return append([]string{tool, "-n", string(ns)}, args...)
}

// ipIn returns an ip command run in namespace ns.
func ipIn(ns NS, args ...string) []string { return inNS("ip", ns, args...) }

// execIn returns a command run in namespace ns: through `ip netns exec NS` unless ns is
// the host.
func execIn(ns NS, args ...string) []string {
	if ns == Host {
		return args
	}
	return append([]string{"ip", "netns", "exec", string(ns)}, args...)
}

// shellSafe marks the bytes a shell word may hold unquoted.
var shellSafe = func() (safe [256]bool) {
	for _, c := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@+,%") {
		safe[c] = true
	}
	return safe
}()

// ShellQuote quotes s for a POSIX shell when it needs quoting.
func ShellQuote(s string) string {
	if s != "" && !strings.ContainsFunc(s, func(r rune) bool { return r >= 256 || !shellSafe[r] }) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// CommandLine joins an argv into one shell command line.
func CommandLine(argv []string) string {
	q := make([]string, len(argv))
	for i, s := range argv {
		q[i] = ShellQuote(s)
	}
	return strings.Join(q, " ")
}
