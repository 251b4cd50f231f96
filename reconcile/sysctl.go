package reconcile

import (
	"fmt"
	"os"
	"strings"

	"github.com/netlab-go/netlab/plan"
)

func sysctlPath(name string) string { return "/proc/sys/" + strings.ReplaceAll(name, ".", "/") }

func readSysctl(name string) (string, error) {
	b, err := os.ReadFile(sysctlPath(name))
	if err != nil {
		return "", fmt.Errorf("read sysctl %s: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func (k *Linux) applySysctl(a plan.Action, key plan.SysctlKey) error {
	return k.in(key.NS, func() error {
		if err := os.WriteFile(sysctlPath(key.Name), []byte(a.After.(string)), 0); err != nil {
			return fmt.Errorf("write sysctl %s: %w", key.Name, err)
		}
		return nil
	})
}
