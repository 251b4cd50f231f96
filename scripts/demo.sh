#!/bin/bash
# The netlab demo. Run it through `make demo`, which starts it inside
# `unshare --net --mount --propagation private`: everything below happens in a
# throwaway network namespace with tmpfs over /run/netns, /run/netlab and /etc/netns,
# and vanishes when the script ends.
set -eu
netlab=$1 topology=$2
if [ "$(readlink /proc/self/ns/net)" = "$(readlink /proc/$PPID/ns/net)" ]; then
	echo "demo.sh: run me through 'make demo' (inside a sandbox)" >&2
	exit 1
fi
mount --make-rprivate /
for d in /run/netns /run/netlab /etc/netns; do mkdir -p "$d"; mount -t tmpfs -o mode=0755 tmpfs "$d"; done
ip link set lo up

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
step netlab plan "$topology"
"$netlab" plan "$topology"
step netlab apply "$topology"
"$netlab" apply "$topology"
step "reachability from testns1 (SEEDS scenario 2)"
for addr in 192.168.20.101 192.168.20.102 192.168.10.101 192.168.10.102; do
	if ip netns exec testns1 ping -c1 -W1 "$addr" >/dev/null 2>&1; then r=OK; else r=NG; fi
	echo "$r from testns1 ping to $addr"
done
step ip netns list
ip netns list
step netlab plan "$topology"
"$netlab" plan "$topology"
step netlab destroy
"$netlab" destroy
step "ip netns list; iptables -t nat -S POSTROUTING; sysctl net.ipv4.ip_forward"
ip netns list
iptables -t nat -S POSTROUTING
sysctl net.ipv4.ip_forward
