#!/bin/sh
# Made by `netlab plan -o sh` for lab macvlan: the plan's commands, in order.
# Needs iproute2 (and sysctl, iptables where used) and root; not netlab.
set -e

# + netns ns1
ip netns add ns1
ip -n ns1 link set lo up

# + netns ns2
ip netns add ns2
ip -n ns2 link set lo up

# + macvlan ns1:mv0 on host:eth0
ip link add mv0 link eth0 address 16:3b:97:5d:75:17 netns ns1 type macvlan mode bridge
ip -n ns1 link set mv0 alias netlab:macvlan up

# + macvlan ns2:mv0 on host:eth0
ip link add mv0 link eth0 address de:74:60:b1:bf:35 netns ns2 type macvlan mode bridge
ip -n ns2 link set mv0 alias netlab:macvlan up

# + address 10.30.0.11/24 on ns1:mv0
ip -n ns1 addr add 10.30.0.11/24 dev mv0

# + address 10.30.0.12/24 on ns2:mv0
ip -n ns2 addr add 10.30.0.12/24 dev mv0

# + directory /etc/netns/ns1
mkdir -p /etc/netns/ns1

# + directory /etc/netns/ns2
mkdir -p /etc/netns/ns2

# + file /etc/netns/.netlab-macvlan.hosts
tee /etc/netns/.netlab-macvlan.hosts >/dev/null <<'NETLAB_EOF'
# Written by netlab for lab macvlan; netlab destroy removes it.
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
10.30.0.11	mv0.ns1 ns1
10.30.0.12	mv0.ns2 ns2
NETLAB_EOF

# + file /etc/netns/ns1/hosts
ln -f /etc/netns/.netlab-macvlan.hosts /etc/netns/ns1/hosts

# + file /etc/netns/ns2/hosts
ln -f /etc/netns/.netlab-macvlan.hosts /etc/netns/ns2/hosts

# Plan: 11 to add, 0 to change, 0 to remove.
