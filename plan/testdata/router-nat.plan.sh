#!/bin/sh
# Made by `netlab plan -o sh` for lab router-nat: the plan's commands, in order.
# Needs iproute2 (and sysctl, iptables where used) and root; not netlab.
set -e

# + netns client
ip netns add client
ip -n client link set lo up

# + netns router
ip netns add router
ip -n router link set lo up

# + netns upstream
ip netns add upstream
ip -n upstream link set lo up

# + veth client:eth0 <-> router:lan0
ip -n client link add eth0 address 96:4b:80:33:12:f5 type veth peer name lan0 address 1e:9d:2f:64:e0:eb netns router
ip -n client link set eth0 alias netlab:router-nat up
ip -n router link set lan0 alias netlab:router-nat up

# + veth router:wan0 <-> upstream:eth0
ip -n router link add wan0 address a6:55:85:d0:75:91 type veth peer name eth0 address 7a:a0:30:28:b1:75 netns upstream
ip -n router link set wan0 alias netlab:router-nat up
ip -n upstream link set eth0 alias netlab:router-nat up

# + address 10.0.1.2/24 on client:eth0
ip -n client addr add 10.0.1.2/24 dev eth0

# + address 10.0.1.1/24 on router:lan0
ip -n router addr add 10.0.1.1/24 dev lan0

# + address 203.0.113.1/24 on router:wan0
ip -n router addr add 203.0.113.1/24 dev wan0

# + address 203.0.113.2/24 on upstream:eth0
ip -n upstream addr add 203.0.113.2/24 dev eth0

# + route client: default via 10.0.1.1
ip -n client route add default via 10.0.1.1

# ~ sysctl router: net.ipv4.ip_forward (set to 1)
ip netns exec router sysctl -w net.ipv4.ip_forward=1

# + nat router: masquerade 10.0.1.0/24 out wan0
ip netns exec router iptables -t nat -A POSTROUTING -s 10.0.1.0/24 -o wan0 -m comment --comment netlab:router-nat -j MASQUERADE

# + directory /etc/netns/client
mkdir -p /etc/netns/client

# + directory /etc/netns/router
mkdir -p /etc/netns/router

# + directory /etc/netns/upstream
mkdir -p /etc/netns/upstream

# + file /etc/netns/.netlab-router-nat.hosts
tee /etc/netns/.netlab-router-nat.hosts >/dev/null <<'NETLAB_EOF'
# Written by netlab for lab router-nat; netlab destroy removes it.
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
10.0.1.2	eth0.client client
10.0.1.1	lan0.router router
203.0.113.1	wan0.router router
203.0.113.2	eth0.upstream upstream
NETLAB_EOF

# + file /etc/netns/client/hosts
ln -f /etc/netns/.netlab-router-nat.hosts /etc/netns/client/hosts

# + file /etc/netns/client/resolv.conf
tee /etc/netns/client/resolv.conf >/dev/null <<'NETLAB_EOF'
# Written by netlab for lab router-nat (node client); netlab destroy removes it.
nameserver 10.0.1.1
search lab.test
NETLAB_EOF

# + file /etc/netns/router/hosts
ln -f /etc/netns/.netlab-router-nat.hosts /etc/netns/router/hosts

# + file /etc/netns/upstream/hosts
ln -f /etc/netns/.netlab-router-nat.hosts /etc/netns/upstream/hosts

# Plan: 19 to add, 1 to change, 0 to remove.
