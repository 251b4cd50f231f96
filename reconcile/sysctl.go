package reconcile

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/netlab-go/netlab/plan"
)

func sysctlPath(name string) string { return "/proc/sys/" + strings.ReplaceAll(name, ".", "/") }

// readSysctl reads a sysctl with its fields joined by single spaces (the kernel
// separates some with tabs), as the topology writes values.
func readSysctl(name string) (string, error) {
	b, err := os.ReadFile(sysctlPath(name))
	if err != nil {
		return "", fmt.Errorf("read sysctl %s: %w", name, err)
	}
	return strings.Join(strings.Fields(string(b)), " "), nil
}

// sysctlExists reports whether the sysctl exists in the namespace of the calling
// thread, taking a per-interface sysctl as existing when the kernel has it for the
// default interface: the interface may be one the plan creates.
func sysctlExists(name string) bool {
	if _, err := os.Stat(sysctlPath(name)); err == nil {
		return true
	}
	if def, ok := plan.SysctlOfDefault(name); ok {
		_, err := os.Stat(sysctlPath(def))
		return err == nil
	}
	return false
}

// ApplySysctl writes a sysctl's value in its namespace.
func (k *Linux) ApplySysctl(_ plan.Action, o plan.SysctlObject) error {
	key := o.Key
	return k.in(key.NS, func() error {
		if err := os.WriteFile(sysctlPath(key.Name), []byte(o.After), 0); err != nil {
			return fmt.Errorf("write sysctl %s: %w", key.Name, err)
		}
		return nil
	})
}

// observeSysctls reads the sysctls of the scope into s. A namespace still to be
// created has the sysctls netlab's own has, with values of the same shape: it is read
// there, for Diff to check the value against, and Diff takes nothing else from it.
func (k *Linux) observeSysctls(ctx context.Context, scope plan.Scope, s *plan.State) error {
	var mu sync.Mutex // guards s
	return forEach(ctx, len(scope.Sysctls), func(i int) error {
		key := scope.Sysctls[i]
		if scope.ExistenceOnly[key.NS] {
			return nil
		}
		in := key.NS
		if !live(s, key.NS) {
			in = plan.Host
		}
		return k.in(in, func() error {
			if !sysctlExists(key.Name) {
				return unknownSysctl(key)
			}
			v, err := readSysctl(key.Name)
			if errors.Is(err, os.ErrNotExist) {
				return nil // of an interface still to be created
			}
			if err != nil {
				return fmt.Errorf("observe %s: %w", key, err)
			}
			mu.Lock()
			defer mu.Unlock()
			s.Sysctls[key] = v
			return nil
		})
	})
}

func unknownSysctl(key plan.SysctlKey) error {
	list := "sysctl -a"
	if key.NS != plan.Host {
		list = "ip netns exec " + string(key.NS) + " sysctl -a"
	}
	return fmt.Errorf("node %s: sysctl %s does not exist (no %s in its /proc/sys); check the name with `%s`",
		key.NS, key.Name, sysctlPath(key.Name), list)
}
