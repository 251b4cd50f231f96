package plan

import "strings"

// ipIn returns an ip command run in namespace ns: `ip -n NS ...`, or plain `ip ...` in
// the host.
func ipIn(ns NS, args ...string) []string {
	if ns == Host {
		return append([]string{"ip"}, args...)
	}
	return append([]string{"ip", "-n", string(ns)}, args...)
}

// bridgeIn returns a `bridge` command run in namespace ns, as ipIn does for `ip`.
func bridgeIn(ns NS, args ...string) []string {
	if ns == Host {
		return append([]string{"bridge"}, args...)
	}
	return append([]string{"bridge", "-n", string(ns)}, args...)
}

// execIn returns a command run in namespace ns: through `ip netns exec NS` unless ns is
// the host.
func execIn(ns NS, args ...string) []string {
	if ns == Host {
		return args
	}
	return append([]string{"ip", "netns", "exec", string(ns)}, args...)
}

// ShellQuote quotes s for a POSIX shell when it needs quoting.
func ShellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@+,%") == "" {
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
