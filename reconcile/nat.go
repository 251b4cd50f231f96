package reconcile

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"

	"github.com/coreos/go-iptables/iptables"
	"github.com/netlab-go/netlab/plan"
)

// iptables returns the iptables (or ip6tables) of the run, made on first use: making
// one runs `iptables --version`, so it is made once. It only names the program; each
// call runs it in the namespace of the calling thread.
func (k *Linux) iptables(ipv6 bool) (*iptables.IPTables, error) {
	k.mu.Lock()
	ipt := k.ipt[ipv6]
	k.mu.Unlock()
	if ipt != nil {
		return ipt, nil
	}
	proto := iptables.ProtocolIPv4
	if ipv6 {
		proto = iptables.ProtocolIPv6
	}
	// Made without k.mu held: it runs iptables --version, while Observe's workers take
	// k.mu for their handles.
	ipt, err := iptables.New(iptables.IPFamily(proto), iptables.Timeout(10))
	if err != nil {
		return nil, fmt.Errorf("find iptables (install the iptables package): %w", err)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if have := k.ipt[ipv6]; have != nil {
		return have, nil // made meanwhile by another caller
	}
	k.ipt[ipv6] = ipt
	return ipt, nil
}

// ApplyNAT appends or deletes a MASQUERADE rule, marked with the lab's comment.
func (k *Linux) ApplyNAT(a plan.Action, o plan.NATObject) error {
	r := o.Rule
	ipt, err := k.iptables(r.Source.Addr().Is6())
	if err != nil {
		return err
	}
	spec := r.RuleSpec(a.Lab)
	return k.in(r.NS, func() error {
		switch a.Kind {
		case plan.Delete:
			return ipt.DeleteIfExists("nat", spec[0], spec[1:]...)
		case plan.Update: // the marks of an adopted rule: the lab's in place of the plain one
			plain := []string{"-s", r.Source.String()}
			if r.Out != "" {
				plain = append(plain, "-o", r.Out)
			}
			if err := ipt.DeleteIfExists("nat", "POSTROUTING", append(plain, "-j", "MASQUERADE")...); err != nil {
				return err
			}
		}
		return ipt.AppendUnique("nat", spec[0], spec[1:]...)
	})
}

// listNAT returns the MASQUERADE rules of POSTROUTING in the nat table of the current
// namespace: the lab's (those that carry its comment), and the plain ones, without a
// comment or another option, that apply --adopt takes over.
func listNAT(ipt *iptables.IPTables, ns plan.NS, lab string) (rules, plain []plan.NATRule, err error) {
	lines, err := ipt.List("nat", "POSTROUTING")
	if err != nil {
		return nil, nil, fmt.Errorf("list nat POSTROUTING: %w", err)
	}
	for _, line := range lines {
		l := parseRule(line, ns)
		switch {
		case l.jump != "MASQUERADE" || !l.rule.Source.IsValid():
		case l.comment == plan.Alias(lab):
			rules = append(rules, l.rule)
		case l.comment == "" && l.problem == "":
			plain = append(plain, l.rule)
		}
	}
	return rules, plain, nil
}

// ruleLine is a line of `iptables -S POSTROUTING` read: the rule's source and output
// interface, its comment and target, and the first thing in it that a topology's
// MASQUERADE rule cannot say ("" when there is none).
type ruleLine struct {
	rule          plan.NATRule
	comment, jump string
	problem       string
}

// ruleComment matches a rule's comment: "-m comment --comment C", C quoted or not.
var ruleComment = regexp.MustCompile(`-m comment --comment ("[^"]*"|\S+)`)

// parseRule reads a line of `iptables -S POSTROUTING`; the chain's policy line (-P)
// reads as an empty rule with no problem.
func parseRule(line string, ns plan.NS) ruleLine {
	l := ruleLine{rule: plan.NATRule{NS: ns}}
	if m := ruleComment.FindStringSubmatch(line); m != nil {
		l.comment = strings.Trim(m[1], `"`)
		line = strings.Replace(line, m[0], "", 1)
	}
	f := strings.Fields(line)
	if len(f) < 2 || f[0] != "-A" {
		return ruleLine{}
	}
	problem := func(p string) {
		if l.problem == "" {
			l.problem = p
		}
	}
	for i := 2; i < len(f); i++ {
		arg := ""
		if i+1 < len(f) {
			arg = f[i+1]
		}
		switch f[i] {
		case "-s":
			p, err := netip.ParsePrefix(arg)
			if a, aerr := netip.ParseAddr(arg); err != nil && aerr == nil {
				p, err = netip.PrefixFrom(a, a.BitLen()), nil
			}
			if err != nil {
				problem("its source is not a network")
			}
			l.rule.Source = p
		case "-o":
			l.rule.Out = arg
		case "-j":
			l.jump = arg
		case "-m":
			problem("it matches " + arg)
		default:
			problem("it has " + f[i])
			continue // an option whose arguments are not known
		}
		i++
	}
	switch {
	case l.jump != "MASQUERADE":
		problem("it is not a MASQUERADE rule")
	case !l.rule.Source.IsValid():
		problem("it masquerades every source")
	}
	return l
}

// observeNAT reads the lab's rules in the nat tables given, of the scope's, into s.
func (k *Linux) observeNAT(scope plan.Scope, tables []plan.NATTable, s *plan.State) error {
	for _, t := range tables {
		if !live(s, t.NS) || scope.ExistenceOnly[t.NS] {
			continue
		}
		ipt, err := k.iptables(t.IPv6)
		if err != nil {
			return err
		}
		err = k.in(t.NS, func() error {
			rules, plain, err := listNAT(ipt, t.NS, scope.Lab)
			for _, r := range rules {
				s.NAT[r] = true
			}
			for _, r := range plain {
				s.PlainNAT[r] = true
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("observe nat of %s: %w", t.NS, err)
		}
	}
	return nil
}
