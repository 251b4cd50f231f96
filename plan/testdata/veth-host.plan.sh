#!/bin/sh
# Made by `netlab plan -o sh` for lab veth-host: the plan's commands, in order.
# Needs iproute2 (and sysctl, iptables where used) and root; not netlab.
set -e

# + netns netns01
ip netns add netns01
ip -n netns01 link set lo up

# + veth host:veth0-host <-> netns01:veth0-ns
ip link add veth0-host address 46:6e:85:27:05:65 type veth peer name veth0-ns address f6:af:31:ad:38:62 netns netns01
ip link set veth0-host alias netlab:veth-host up
ip -n netns01 link set veth0-ns alias netlab:veth-host up

# + address 10.10.10.10/24 on host:veth0-host
ip addr add 10.10.10.10/24 dev veth0-host

# + address 10.10.10.11/24 on netns01:veth0-ns
ip -n netns01 addr add 10.10.10.11/24 dev veth0-ns

# + directory /etc/netns/netns01
mkdir -p /etc/netns/netns01

# + file /etc/netns/.netlab-veth-host.hosts
tee /etc/netns/.netlab-veth-host.hosts >/dev/null <<'NETLAB_EOF'
# Written by netlab for lab veth-host; netlab destroy removes it.
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
10.10.10.10	veth0-host.host host
10.10.10.11	veth0-ns.netns01 netns01
NETLAB_EOF

# + file /etc/netns/netns01/hosts
ln -f /etc/netns/.netlab-veth-host.hosts /etc/netns/netns01/hosts

# Plan: 7 to add, 0 to change, 0 to remove.
