#!/bin/sh
# Made by `netlab plan -o sh` for lab bridge: the plan's commands, in order.
# Needs iproute2 (and sysctl, iptables where used) and root; not netlab.
set -e

# + netns h1
ip netns add h1
ip -n h1 link set lo up

# + netns h2
ip netns add h2
ip -n h2 link set lo up

# + netns h3
ip netns add h3
ip -n h3 link set lo up

# + netns sw
ip netns add sw
ip -n sw link set lo up

# + bridge sw:br0
ip -n sw link add br0 address 2a:cb:64:14:e6:60 type bridge
ip -n sw link set br0 alias netlab:bridge mtu 9000 up

# + veth h1:eth0 <-> sw:h1-eth0
ip -n h1 link add eth0 address fa:4a:0f:34:ba:c6 type veth peer name h1-eth0 address f6:7f:00:ad:35:65 netns sw
ip -n h1 link set eth0 alias netlab:bridge mtu 9000 txqueuelen 500 up
ip -n sw link set h1-eth0 alias netlab:bridge mtu 9000 master br0 up

# + veth h2:eth0 <-> sw:h2-eth0
ip -n h2 link add eth0 address 92:c4:6b:5a:a7:47 type veth peer name h2-eth0 address 1a:30:45:7c:be:6b netns sw
ip -n h2 link set eth0 alias netlab:bridge mtu 9000 up
ip -n sw link set h2-eth0 alias netlab:bridge mtu 9000 master br0 up

# + veth h3:eth0 <-> sw:h3-eth0
ip -n h3 link add eth0 address 06:3a:f1:19:fa:a8 type veth peer name h3-eth0 address 26:46:b7:cb:7a:2b netns sw
ip -n h3 link set eth0 alias netlab:bridge mtu 9000 up
ip -n sw link set h3-eth0 alias netlab:bridge mtu 9000 master br0 up

# + address 10.20.0.1/24 on h1:eth0
ip -n h1 addr add 10.20.0.1/24 dev eth0

# + address 10.20.0.2/24 on h2:eth0
ip -n h2 addr add 10.20.0.2/24 dev eth0

# + address 10.20.0.3/24 on h3:eth0
ip -n h3 addr add 10.20.0.3/24 dev eth0

# + address 10.20.0.254/24 on sw:br0
ip -n sw addr add 10.20.0.254/24 dev br0

# + directory /etc/netns/h1
mkdir -p /etc/netns/h1

# + directory /etc/netns/h2
mkdir -p /etc/netns/h2

# + directory /etc/netns/h3
mkdir -p /etc/netns/h3

# + directory /etc/netns/sw
mkdir -p /etc/netns/sw

# + file /etc/netns/.netlab-bridge.hosts
tee /etc/netns/.netlab-bridge.hosts >/dev/null <<'NETLAB_EOF'
# Written by netlab for lab bridge; netlab destroy removes it.
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
10.20.0.1	eth0.h1 h1
10.20.0.2	eth0.h2 h2
10.20.0.3	eth0.h3 h3
10.20.0.254	br0.sw sw
NETLAB_EOF

# + file /etc/netns/h1/hosts
ln -f /etc/netns/.netlab-bridge.hosts /etc/netns/h1/hosts

# + file /etc/netns/h2/hosts
ln -f /etc/netns/.netlab-bridge.hosts /etc/netns/h2/hosts

# + file /etc/netns/h3/hosts
ln -f /etc/netns/.netlab-bridge.hosts /etc/netns/h3/hosts

# + file /etc/netns/sw/hosts
ln -f /etc/netns/.netlab-bridge.hosts /etc/netns/sw/hosts

# Plan: 21 to add, 0 to change, 0 to remove.
