#!/bin/sh
# Made by `netlab plan -o sh` for lab impaired: the plan's commands, in order.
# Needs iproute2 (and sysctl, iptables where used) and root; not netlab.
set -e

# + netns pc-a
ip netns add pc-a
ip -n pc-a link set lo up

# + netns pc-b
ip netns add pc-b
ip -n pc-b link set lo up

# + netns rtr-a
ip netns add rtr-a
ip -n rtr-a link set lo up

# + netns rtr-b
ip netns add rtr-b
ip -n rtr-b link set lo up

# + veth pc-a:eth0 <-> rtr-a:lan
ip -n pc-a link add eth0 address ae:6b:b8:b9:3d:a2 type veth peer name lan address ee:bb:12:c2:68:0c netns rtr-a
ip -n pc-a link set eth0 alias netlab:impaired up
ip -n rtr-a link set lan alias netlab:impaired up

# + veth pc-b:eth0 <-> rtr-b:lan
ip -n pc-b link add eth0 address 3a:14:00:71:6f:67 type veth peer name lan address b2:1c:7b:08:06:a7 netns rtr-b
ip -n pc-b link set eth0 alias netlab:impaired up
ip -n rtr-b link set lan alias netlab:impaired up

# + veth rtr-a:wan <-> rtr-b:wan
ip -n rtr-a link add wan address 06:ab:24:12:91:6b type veth peer name wan address 0e:bf:29:90:0d:4e netns rtr-b
ip -n rtr-a link set wan alias netlab:impaired up
ip -n rtr-b link set wan alias netlab:impaired up

# + address 10.61.1.2/24 on pc-a:eth0
ip -n pc-a addr add 10.61.1.2/24 dev eth0

# + address 10.61.2.2/24 on pc-b:eth0
ip -n pc-b addr add 10.61.2.2/24 dev eth0

# + address 10.61.1.1/24 on rtr-a:lan
ip -n rtr-a addr add 10.61.1.1/24 dev lan

# + address 10.61.0.1/30 on rtr-a:wan
ip -n rtr-a addr add 10.61.0.1/30 dev wan

# + address 10.61.2.1/24 on rtr-b:lan
ip -n rtr-b addr add 10.61.2.1/24 dev lan

# + address 10.61.0.2/30 on rtr-b:wan
ip -n rtr-b addr add 10.61.0.2/30 dev wan

# + qdisc rtr-a:wan
tc -n rtr-a qdisc replace dev wan root handle 4e4c: netem delay 20ms 2ms loss 0.1% limit 1000
tc -n rtr-a qdisc replace dev wan parent 4e4c:1 handle 4e4d: tbf rate 10mbit burst 12500 limit 75000

# + qdisc rtr-b:wan
tc -n rtr-b qdisc replace dev wan root handle 4e4c: netem delay 20ms 2ms loss 0.1% limit 1000
tc -n rtr-b qdisc replace dev wan parent 4e4c:1 handle 4e4d: tbf rate 10mbit burst 12500 limit 75000

# + route pc-a: default via 10.61.1.1
ip -n pc-a route add default via 10.61.1.1

# + route pc-b: default via 10.61.2.1
ip -n pc-b route add default via 10.61.2.1

# + route rtr-a: 10.61.2.0/24 via 10.61.0.2
ip -n rtr-a route add 10.61.2.0/24 via 10.61.0.2

# + route rtr-b: 10.61.1.0/24 via 10.61.0.1
ip -n rtr-b route add 10.61.1.0/24 via 10.61.0.1

# ~ sysctl rtr-a: net.ipv4.ip_forward (set to 1)
ip netns exec rtr-a sysctl -w net.ipv4.ip_forward=1

# ~ sysctl rtr-b: net.ipv4.ip_forward (set to 1)
ip netns exec rtr-b sysctl -w net.ipv4.ip_forward=1

# + directory /etc/netns/pc-a
mkdir -p /etc/netns/pc-a

# + directory /etc/netns/pc-b
mkdir -p /etc/netns/pc-b

# + directory /etc/netns/rtr-a
mkdir -p /etc/netns/rtr-a

# + directory /etc/netns/rtr-b
mkdir -p /etc/netns/rtr-b

# + file /etc/netns/.netlab-impaired.hosts
tee /etc/netns/.netlab-impaired.hosts >/dev/null <<'NETLAB_EOF'
# Written by netlab for lab impaired; netlab destroy removes it.
127.0.0.1	localhost
::1	localhost ip6-localhost ip6-loopback
10.61.1.2	eth0.pc-a pc-a
10.61.2.2	eth0.pc-b pc-b
10.61.1.1	lan.rtr-a rtr-a
10.61.0.1	wan.rtr-a rtr-a
10.61.2.1	lan.rtr-b rtr-b
10.61.0.2	wan.rtr-b rtr-b
NETLAB_EOF

# + file /etc/netns/pc-a/hosts
ln -f /etc/netns/.netlab-impaired.hosts /etc/netns/pc-a/hosts

# + file /etc/netns/pc-b/hosts
ln -f /etc/netns/.netlab-impaired.hosts /etc/netns/pc-b/hosts

# + file /etc/netns/rtr-a/hosts
ln -f /etc/netns/.netlab-impaired.hosts /etc/netns/rtr-a/hosts

# + file /etc/netns/rtr-b/hosts
ln -f /etc/netns/.netlab-impaired.hosts /etc/netns/rtr-b/hosts

# Plan: 28 to add, 2 to change, 0 to remove.
