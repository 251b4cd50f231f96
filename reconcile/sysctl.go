package reconcile

import (
	"fmt"
	"os"
	"strings"

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
