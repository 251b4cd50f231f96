package plan

import (
	"net/netip"
	"strconv"
	"strings"
)

// Commands returns the shell commands the action stands for, each as an argv: what a
// person would type with iproute2, iptables and sysctl to do the same. netlab itself
// does the work through netlink; these commands are for reading, auditing and the shell
// rendering of a plan.
func (a Action) Commands() [][]string {
	switch t := a.Target.(type) {
	case NS:
		if a.Kind == Delete {
			return [][]string{{"ip", "netns", "del", string(t)}}
		}
		return [][]string{{"ip", "netns", "add", string(t)}, ipIn(t, "link", "set", "lo", "up")}
	case LinkKey:
		return a.linkCommands(t)
	case AddrKey:
		verb := "add"
		if a.Kind == Delete {
			verb = "del"
		}
		cmd := ipIn(t.Link.NS, "addr", verb, t.Prefix.String(), "dev", t.Link.Name)
		if verb == "add" && t.Prefix.Addr().Is6() {
			cmd = append(cmd, "nodad")
		}
		return [][]string{cmd}
	case RouteKey:
		verb, r := "add", a.After
		switch {
		case a.Kind == Delete:
			verb, r = "del", a.Before
		case a.Kind == Update:
			verb = "replace"
		}
		args := []string{"route", verb, RouteDest(t.To)}
		if rt := r.(Route); rt.Via.IsValid() {
			args = append(args, "via", rt.Via.String())
		}
		if dev := r.(Route).Dev; dev != "" {
			args = append(args, "dev", dev)
		}
		if t.Metric != DefaultMetric(t.To) {
			args = append(args, "metric", strconv.Itoa(t.Metric))
		}
		if t.To.Addr().Is6() {
			args = append([]string{"-6"}, args...)
		}
		return [][]string{ipIn(t.NS, args...)}
	case SysctlKey:
		return [][]string{execIn(t.NS, "sysctl", "-w", t.Name+"="+a.After.(string))}
	case NATRule:
		op := "-A"
		if a.Kind == Delete {
			op = "-D"
		}
		return [][]string{execIn(t.NS, append([]string{IPTablesCommand(t.Source.Addr()), "-t", "nat", op}, t.RuleSpec(a.Lab)...)...)}
	case Attach:
		path := NetnsDir + "/" + string(t)
		src, _ := a.After.(string)
		pid, inProc := strings.CutPrefix(src, "/proc/")
		pid, isNetns := strings.CutSuffix(pid, "/ns/net")
		switch {
		case a.Kind == Delete:
			return [][]string{{"umount", path}, {"rm", path}}
		case a.Kind == Update:
			return [][]string{{"umount", path}, {"mount", "--bind", src, path}}
		case inProc && isNetns:
			return [][]string{{"ip", "netns", "attach", string(t), pid}} // the same bind mount
		}
		return [][]string{{"touch", path}, {"mount", "--bind", src, path}}
	case FileKey:
		switch {
		case t.IsDir() && a.Kind == Delete:
			return [][]string{{"rmdir", t.Path()}}
		case t.IsDir():
			return [][]string{{"mkdir", "-p", t.Path()}}
		case a.Kind == Delete:
			return [][]string{{"rm", "-f", t.Path()}}
		}
		if target, link := LinkTarget(a.After.(string)); link {
			return [][]string{{"ln", "-f", target, t.Path()}}
		}
		return [][]string{{"tee", t.Path()}} // reads Input
	}
	return nil
}

// Input returns what the action's last command reads on its standard input: the
// content of a file it writes; "" for every other action.
func (a Action) Input() string {
	if k, ok := a.Target.(FileKey); ok && !k.IsDir() && a.Kind != Delete {
		if !IsHardLink(a.After.(string)) {
			return a.After.(string)
		}
	}
	return ""
}

func (a Action) linkCommands(k LinkKey) [][]string {
	switch a.Kind {
	case Create:
		l := a.After.(Link)
		mac := LinkMAC(a.Lab, k).String()
		switch l.Kind {
		case Bridge:
			return [][]string{ipIn(k.NS, "link", "add", k.Name, "address", mac, "type", "bridge"), setLink(k, l, l.Master)}
		case Macvlan:
			add := ipIn(l.Parent.NS, "link", "add", k.Name, "link", l.Parent.Name, "address", mac)
			if k.NS != l.Parent.NS {
				add = append(add, "netns", string(k.NS)) // before type: what follows it is the type's
			}
			add = append(add, "type", "macvlan", "mode", l.Mode)
			return [][]string{add, setLink(k, l, l.Master)}
		}
		add := ipIn(k.NS, "link", "add", k.Name, "address", mac, "type", "veth", "peer", "name", l.Peer.Name,
			"address", LinkMAC(a.Lab, l.Peer).String())
		if l.Peer.NS != k.NS {
			add = append(add, "netns", string(l.Peer.NS))
		}
		return [][]string{add, setLink(k, l, l.Master), setLink(l.Peer, l, l.PeerMaster)}
	case Delete:
		return [][]string{ipIn(k.NS, "link", "del", k.Name)}
	}
	before, after := a.Before.(Link), a.After.(Link)
	cmd := ipIn(k.NS, "link", "set", k.Name)
	if before.Alias != after.Alias {
		cmd = append(cmd, "alias", after.Alias)
	}
	if after.MTU != 0 && before.MTU != after.MTU {
		cmd = append(cmd, "mtu", strconv.Itoa(after.MTU))
	}
	if before.Master != after.Master {
		if after.Master == "" {
			cmd = append(cmd, "nomaster")
		} else {
			cmd = append(cmd, "master", after.Master)
		}
	}
	if before.Up != after.Up {
		cmd = append(cmd, upString(after.Up))
	}
	return [][]string{cmd}
}

// setLink is the command that finishes a new link: its alias, MTU, master, up.
func setLink(k LinkKey, l Link, master string) []string {
	cmd := ipIn(k.NS, "link", "set", k.Name, "alias", l.Alias)
	if l.MTU != 0 {
		cmd = append(cmd, "mtu", strconv.Itoa(l.MTU))
	}
	if master != "" {
		cmd = append(cmd, "master", master)
	}
	return append(cmd, upString(l.Up))
}

// ipIn returns an ip command run in namespace ns: `ip -n NS ...`, or plain `ip ...` in
// the host.
func ipIn(ns NS, args ...string) []string {
	if ns == Host {
		return append([]string{"ip"}, args...)
	}
	return append([]string{"ip", "-n", string(ns)}, args...)
}

// execIn returns a command run in namespace ns: through `ip netns exec NS` unless ns is
// the host.
func execIn(ns NS, args ...string) []string {
	if ns == Host {
		return args
	}
	return append([]string{"ip", "netns", "exec", string(ns)}, args...)
}

// IPTablesCommand names the iptables program for the family of a: iptables or
// ip6tables.
func IPTablesCommand(a netip.Addr) string {
	if a.Is6() {
		return "ip6tables"
	}
	return "iptables"
}

// RuleSpec returns the rule's iptables arguments after the table and operation, marked
// with the lab's comment: POSTROUTING -s SRC [-o OUT] -m comment --comment netlab:LAB
// -j MASQUERADE.
func (r NATRule) RuleSpec(lab string) []string {
	spec := []string{"POSTROUTING", "-s", r.Source.String()}
	if r.Out != "" {
		spec = append(spec, "-o", r.Out)
	}
	return append(spec, "-m", "comment", "--comment", Alias(lab), "-j", "MASQUERADE")
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
