#!/bin/sh
# Made by `netlab plan -o sh` for lab twons: the plan's commands, in order.
# Needs iproute2 (and sysctl, iptables where used) and root; not netlab.
set -e

# + netns testns1
ip netns add testns1
ip -n testns1 link set lo up

# + netns testns2
ip netns add testns2
ip -n testns2 link set lo up

# + veth host:m1 <-> testns1:s1
ip link add m1 address 42:ec:88:02:10:c5 type veth peer name s1 address 32:23:a3:96:16:0c netns testns1
ip link set m1 alias netlab:twons up
ip -n testns1 link set s1 alias netlab:twons up

# + veth host:m2 <-> testns2:s2
ip link add m2 address 22:3e:55:89:8c:6f type veth peer name s2 address a2:09:05:3e:17:44 netns testns2
ip link set m2 alias netlab:twons up
ip -n testns2 link set s2 alias netlab:twons up

# + address 192.168.20.101/24 on host:m1
ip addr add 192.168.20.101/24 dev m1

# + address 192.168.10.101/24 on host:m2
ip addr add 192.168.10.101/24 dev m2

# + address 192.168.20.102/24 on testns1:s1
ip -n testns1 addr add 192.168.20.102/24 dev s1

# + address 192.168.10.102/24 on testns2:s2
ip -n testns2 addr add 192.168.10.102/24 dev s2

# + route testns1: default via 192.168.20.101
ip -n testns1 route add default via 192.168.20.101

# + route testns2: default via 192.168.10.101
ip -n testns2 route add default via 192.168.10.101

# ~ sysctl host: net.ipv4.ip_forward (0 -> 1)
sysctl -w net.ipv4.ip_forward=1

# + nat host: masquerade 192.168.20.0/24
iptables -t nat -A POSTROUTING -s 192.168.20.0/24 -m comment --comment netlab:twons -j MASQUERADE

# + directory /etc/netns/testns1
mkdir -p /etc/netns/testns1

# + directory /etc/netns/testns2
mkdir -p /etc/netns/testns2

# + file /etc/netns/.netlab-twons.hosts
tee /etc/netns/.netlab-twons.hosts >/dev/null <<'NETLAB_EOF'
# Written by netlab for lab twons; netlab destroy removes it.
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
192.168.20.101	m1.host host
192.168.10.101	m2.host host
192.168.20.102	s1.testns1 testns1
192.168.10.102	s2.testns2 testns2
NETLAB_EOF

# + file /etc/netns/testns1/hosts
ln -f /etc/netns/.netlab-twons.hosts /etc/netns/testns1/hosts

# + file /etc/netns/testns2/hosts
ln -f /etc/netns/.netlab-twons.hosts /etc/netns/testns2/hosts

# Plan: 16 to add, 1 to change, 0 to remove.
