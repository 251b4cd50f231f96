#!/bin/sh
# Installs what netlab's tests and demo drive, when it is missing: iproute2 (ip),
# iptables, iputils-ping (ping), util-linux (unshare, nsenter, setpriv, flock),
# vagrant (for `vagrant validate` of examples/vagrant; no provider is needed) and
# tshark (the independent reader of `netlab capture`'s pcapng files); and an sshd for
# the fan-out test, unpacked from Debian's package into .cache/test-sshd, not installed.
# `ensure-deps.sh docs` installs graphviz (dot) for `make docs` instead. Debian/Ubuntu.
set -e
missing=""
if [ "${1:-}" = docs ]; then
	command -v dot >/dev/null 2>&1 || missing="graphviz"
else
	command -v ip >/dev/null 2>&1 || missing="$missing iproute2"
	command -v iptables >/dev/null 2>&1 || missing="$missing iptables"
	command -v ping >/dev/null 2>&1 || missing="$missing iputils-ping"
	command -v setpriv >/dev/null 2>&1 || missing="$missing util-linux"
	command -v vagrant >/dev/null 2>&1 || missing="$missing vagrant"
	command -v tshark >/dev/null 2>&1 || missing="$missing tshark"
fi
if [ "${1:-}" != docs ] && ! command -v sshd >/dev/null 2>&1 && [ ! -x .cache/test-sshd/root/usr/sbin/sshd ]; then
	command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && scripts/test-sshd.sh "$PWD/.cache/test-sshd" >/dev/null
fi
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
	echo "missing:$missing; install them (as root, with apt-get)" >&2
	exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
