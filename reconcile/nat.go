package reconcile

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/coreos/go-iptables/iptables"
	"github.com/netlab-go/netlab/plan"
)

// iptables returns the iptables (or ip6tables) of the run, made on first use: making
// one runs `iptables --version`, so it is made once. It only names the program; each
// call runs it in the namespace of the calling thread.
func (k *Linux) iptables(ipv6 bool) (*iptables.IPTables, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if ipt := k.ipt[ipv6]; ipt != nil {
		return ipt, nil
	}
	proto := iptables.ProtocolIPv4
	if ipv6 {
		proto = iptables.ProtocolIPv6
	}
	ipt, err := iptables.New(iptables.IPFamily(proto), iptables.Timeout(10))
	if err != nil {
		return nil, fmt.Errorf("find iptables (install the iptables package): %w", err)
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

// listNAT returns the lab's MASQUERADE rules in the nat table of the current namespace:
// the rules of POSTROUTING that carry the lab's comment.
func listNAT(ipt *iptables.IPTables, ns plan.NS, lab string) (rules, plain []plan.NATRule, err error) {
	lines, err := ipt.List("nat", "POSTROUTING")
	if err != nil {
		return nil, nil, fmt.Errorf("list nat POSTROUTING: %w", err)
	}
	for _, line := range lines {
		if r, ok := parseNATRule(line, ns, lab); ok {
			rules = append(rules, r)
		} else if r, problem := masquerade(line, ns); problem == "" && r.Source.IsValid() && !strings.Contains(line, "--comment") {
			plain = append(plain, r)
		}
	}
	return rules, plain, nil
}

// parseNATRule reads a line of `iptables -S` as a rule of the lab, if it is one.
func parseNATRule(line string, ns plan.NS, lab string) (plan.NATRule, bool) {
	f := strings.Fields(line)
	r := plan.NATRule{NS: ns}
	var comment, jump string
	for i := 0; i+1 < len(f); i++ {
		switch f[i] {
		case "-s":
			p, err := netip.ParsePrefix(f[i+1])
			if err != nil {
				if a, aerr := netip.ParseAddr(f[i+1]); aerr == nil {
					p = netip.PrefixFrom(a, a.BitLen())
				}
			}
			r.Source = p
		case "-o":
			r.Out = f[i+1]
		case "--comment":
			comment = strings.Trim(f[i+1], `"`)
		case "-j":
			jump = f[i+1]
		}
	}
	return r, comment == plan.Alias(lab) && jump == "MASQUERADE" && r.Source.IsValid()
}

// observeNAT reads the lab's rules in the nat tables of the scope into s.
func (k *Linux) observeNAT(scope plan.Scope, s *plan.State) error {
	for _, t := range scope.NAT {
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
