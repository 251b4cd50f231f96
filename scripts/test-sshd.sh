#!/bin/sh
# Prints the path of an sshd for the fan-out test: the system's, or one unpacked (not
# installed: nothing is started or registered on this machine) from Debian's
# openssh-server and libwrap0 packages into DIR, with the library path it needs:
#   test-sshd.sh DIR  ->  "SSHD LD_LIBRARY_PATH"
# ensure-deps.sh unpacks it into .cache/test-sshd before the tests, which run without a
# network.
set -e
if command -v sshd >/dev/null 2>&1; then echo "$(command -v sshd) "; exit 0; fi
[ -x /usr/sbin/sshd ] && { echo "/usr/sbin/sshd "; exit 0; }
dir=$1
libs="$dir/root/lib/x86_64-linux-gnu:$dir/root/usr/lib/x86_64-linux-gnu"
if [ -x "$dir/root/usr/sbin/sshd" ]; then echo "$dir/root/usr/sbin/sshd $libs"; exit 0; fi
mkdir -p "$dir/debs" "$dir/root"
cd "$dir/debs"
apt-get download openssh-server libwrap0 >/dev/null 2>&1 || { apt-get update -qq && apt-get download openssh-server libwrap0 >/dev/null; }
for deb in *.deb; do dpkg-deb -x "$deb" "$dir/root"; done
echo "$dir/root/usr/sbin/sshd $libs"
