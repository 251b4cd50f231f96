#!/bin/sh
# Made by `netlab plan -o sh` for lab routed: the plan's commands, in order.
# Needs iproute2 (and sysctl, iptables where used) and root; not netlab.
set -e

# + netns left
ip netns add left
ip -n left link set lo up

# + netns right
ip netns add right
ip -n right link set lo up

# + netns router
ip netns add router
ip -n router link set lo up

# + veth left:eth0 <-> router:lan1
ip -n left link add eth0 address 52:c8:b1:f3:48:ad type veth peer name lan1 address 6e:e1:7a:20:58:64 netns router
ip -n left link set eth0 alias netlab:routed up
ip -n router link set lan1 alias netlab:routed up

# + veth right:eth0 <-> router:lan2
ip -n right link add eth0 address 1a:fa:b2:69:59:78 type veth peer name lan2 address e6:b9:67:b3:c9:9c netns router
ip -n right link set eth0 alias netlab:routed mtu 1400 up
ip -n router link set lan2 alias netlab:routed mtu 1400 up

# + address 10.50.1.2/24 on left:eth0
ip -n left addr add 10.50.1.2/24 dev eth0

# + address fd00:51::2/64 on left:eth0
ip -n left addr add fd00:51::2/64 dev eth0 nodad

# + address 10.50.2.2/24 on right:eth0
ip -n right addr add 10.50.2.2/24 dev eth0

# + address fd00:52::2/64 on right:eth0
ip -n right addr add fd00:52::2/64 dev eth0 nodad

# + address 10.50.1.1/24 on router:lan1
ip -n router addr add 10.50.1.1/24 dev lan1

# + address fd00:51::1/64 on router:lan1
ip -n router addr add fd00:51::1/64 dev lan1 nodad

# + address 10.50.2.1/24 on router:lan2
ip -n router addr add 10.50.2.1/24 dev lan2

# + address fd00:52::1/64 on router:lan2
ip -n router addr add fd00:52::1/64 dev lan2 nodad

# + qdisc router:lan2
tc -n router qdisc replace dev lan2 root handle 4e4c: tbf rate 100mbit burst 125000 limit 750000

# + route left: 10.50.0.0/16 metric 200 dev eth0
ip -n left route add 10.50.0.0/16 dev eth0 metric 200

# + route left: 10.50.2.0/24 via 10.50.1.1
ip -n left route add 10.50.2.0/24 via 10.50.1.1

# + route left: fd00:52::/64 via fd00:51::1 dev eth0
ip -n left -6 route add fd00:52::/64 via fd00:51::1 dev eth0

# + route right: default via 10.50.2.1
ip -n right route add default via 10.50.2.1

# + route right: default metric 100 via fd00:52::1
ip -n right -6 route add default via fd00:52::1 metric 100

# ~ sysctl router: net.ipv4.conf.lan1.rp_filter (set to 2)
ip netns exec router sysctl -w net.ipv4.conf.lan1.rp_filter=2

# ~ sysctl router: net.ipv4.ip_forward (set to 1)
ip netns exec router sysctl -w net.ipv4.ip_forward=1

# ~ sysctl router: net.ipv6.conf.all.forwarding (set to 1)
ip netns exec router sysctl -w net.ipv6.conf.all.forwarding=1

# + directory /etc/netns/left
mkdir -p /etc/netns/left

# + directory /etc/netns/right
mkdir -p /etc/netns/right

# + directory /etc/netns/router
mkdir -p /etc/netns/router

# + file /etc/netns/.netlab-routed.hosts
tee /etc/netns/.netlab-routed.hosts >/dev/null <<'NETLAB_EOF'
# Written by netlab for lab routed; netlab destroy removes it.
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
10.50.1.2	eth0.left left
fd00:51::2	eth0.left left
10.50.2.2	eth0.right right
fd00:52::2	eth0.right right
10.50.1.1	lan1.router router
fd00:51::1	lan1.router router
10.50.2.1	lan2.router router
fd00:52::1	lan2.router router
NETLAB_EOF

# + file /etc/netns/left/hosts
ln -f /etc/netns/.netlab-routed.hosts /etc/netns/left/hosts

# + file /etc/netns/right/hosts
ln -f /etc/netns/.netlab-routed.hosts /etc/netns/right/hosts

# + file /etc/netns/router/hosts
ln -f /etc/netns/.netlab-routed.hosts /etc/netns/router/hosts

# Plan: 26 to add, 3 to change, 0 to remove.
