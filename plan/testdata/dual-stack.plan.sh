#!/bin/sh
# Made by `netlab plan -o sh` for lab dual-stack: the plan's commands, in order.
# Needs iproute2 (and sysctl, iptables where used) and root; not netlab.
set -e

# + netns ds1
ip netns add ds1
ip -n ds1 link set lo up

# + veth host:ds-host <-> ds1:eth0
ip link add ds-host address d6:89:b3:cf:6a:3d type veth peer name eth0 address 96:96:29:0f:77:18 netns ds1
ip link set ds-host alias netlab:dual-stack up
ip -n ds1 link set eth0 alias netlab:dual-stack up

# + address 172.30.0.1/24 on host:ds-host
ip addr add 172.30.0.1/24 dev ds-host

# + address fd00:30::1/64 on host:ds-host
ip addr add fd00:30::1/64 dev ds-host nodad

# + address 172.30.0.2/24 on ds1:eth0
ip -n ds1 addr add 172.30.0.2/24 dev eth0

# + address fd00:30::2/64 on ds1:eth0
ip -n ds1 addr add fd00:30::2/64 dev eth0 nodad

# + route ds1: default via 172.30.0.1
ip -n ds1 route add default via 172.30.0.1

# + route ds1: default via fd00:30::1
ip -n ds1 -6 route add default via fd00:30::1

# + route ds1: fd00:99::/64 via fd00:30::1
ip -n ds1 -6 route add fd00:99::/64 via fd00:30::1

# + directory /etc/netns/ds1
mkdir -p /etc/netns/ds1

# + file /etc/netns/.netlab-dual-stack.hosts
tee /etc/netns/.netlab-dual-stack.hosts >/dev/null <<'NETLAB_EOF'
# Written by netlab for lab dual-stack; netlab destroy removes it.
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
172.30.0.1	ds-host.host host
fd00:30::1	ds-host.host host
172.30.0.2	eth0.ds1 ds1
fd00:30::2	eth0.ds1 ds1
NETLAB_EOF

# + file /etc/netns/ds1/hosts
ln -f /etc/netns/.netlab-dual-stack.hosts /etc/netns/ds1/hosts

# Plan: 12 to add, 0 to change, 0 to remove.
