package reconcile

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// CheckPrivileges returns an error unless the process may change network namespaces,
// mounts and interfaces: it needs CAP_NET_ADMIN and CAP_SYS_ADMIN (root has both).
func CheckPrivileges() error { return checkCaps("", unix.CAP_NET_ADMIN, unix.CAP_SYS_ADMIN) }

// CheckPingPrivileges returns an error unless the process may also open the raw ICMP
// sockets of `netlab check` inside the nodes: CAP_NET_RAW besides CheckPrivileges'.
func CheckPingPrivileges() error {
	return checkCaps("netlab check", unix.CAP_NET_ADMIN, unix.CAP_SYS_ADMIN, unix.CAP_NET_RAW)
}

var capNames = map[int]string{unix.CAP_NET_ADMIN: "CAP_NET_ADMIN", unix.CAP_SYS_ADMIN: "CAP_SYS_ADMIN", unix.CAP_NET_RAW: "CAP_NET_RAW"}

func checkCaps(what string, caps ...int) error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	var missing []string
	for _, c := range caps {
		if data[c/32].Effective&(1<<(uint(c)%32)) == 0 {
			missing = append(missing, capNames[c])
		}
	}
	if len(missing) == 0 {
		return nil
	}
	if what == "" {
		what = "netlab"
	}
	all := make([]string, len(caps))
	for i, c := range caps {
		all[i] = capNames[c]
	}
	return fmt.Errorf("%s needs root (or %s; missing %s) to read and change network namespaces; run it with sudo",
		what, strings.Join(all, ", "), strings.Join(missing, ", "))
}
