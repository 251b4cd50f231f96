package reconcile

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// CheckPrivileges returns an error unless the process may change network namespaces,
// mounts and interfaces: it needs CAP_NET_ADMIN and CAP_SYS_ADMIN (root has both).
func CheckPrivileges() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	has := func(c int) bool { return data[c/32].Effective&(1<<(uint(c)%32)) != 0 }
	var missing []string
	if !has(unix.CAP_NET_ADMIN) {
		missing = append(missing, "CAP_NET_ADMIN")
	}
	if !has(unix.CAP_SYS_ADMIN) {
		missing = append(missing, "CAP_SYS_ADMIN")
	}
	if len(missing) > 0 {
		return fmt.Errorf("netlab needs root (or %v) to read and change network namespaces; run it with sudo", missing)
	}
	return nil
}
