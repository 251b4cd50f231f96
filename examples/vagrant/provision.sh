#!/bin/sh
# Provisions the netlab Vagrant box (see Vagrantfile): installs the netlab binary built
# on the host, the tools people use beside it, applies the chosen lab and checks it.
# Running it again is harmless: the second apply finds nothing to do.
#
# NETLAB_TOPOLOGY  the lab, relative to the project root (default: examples/two-namespaces.yaml)
# NETLAB_ROOT      where the project is synced (default: /vagrant)
# NETLAB_BIN_DIR   where netlab is installed (default: /usr/local/bin)
set -eu
root=${NETLAB_ROOT:-/vagrant}
topology=${NETLAB_TOPOLOGY:-examples/two-namespaces.yaml}
bindir=${NETLAB_BIN_DIR:-/usr/local/bin}

if [ ! -x "$root/bin/netlab" ]; then
	echo "provision: $root/bin/netlab is missing: run 'make build' on the host, then 'vagrant rsync'" >&2
	exit 1
fi
install -m 0755 "$root/bin/netlab" "$bindir/netlab"

missing=
command -v ip >/dev/null || missing="$missing iproute2"
command -v iptables >/dev/null || missing="$missing iptables"
command -v ping >/dev/null || missing="$missing iputils-ping"
if [ -n "$missing" ]; then
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi

cd "$root"
"$bindir/netlab" apply "$topology"
# The file's expect: section, or every lab address from every node when it has none.
"$bindir/netlab" check --all "$topology"
