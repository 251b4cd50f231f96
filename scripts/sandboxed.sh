#!/bin/sh
# sandboxed.sh CMD [ARG...] runs CMD, whose sandboxes cover /run/netns, /run/netlab and
# /etc/netns with a tmpfs each, and then removes those of the three directories that did
# not exist before it and are empty again. A tmpfs can only be mounted on a directory,
# so a sandbox makes the one it lacks on the machine's own filesystem; the directory
# stays on the machine when the sandbox is gone. It is removed here, after CMD, rather
# than by each sandbox: `go test ./...` runs several at once, and removing the
# directory under a running sandbox would take its tmpfs away.
dirs="/run/netns /run/netlab /etc/netns"
made=""
for d in $dirs; do
	[ -e "$d" ] || [ -L "$d" ] || made="$made $d"
done
status=0
"$@" || status=$?
for d in $made; do
	rmdir "$d" 2>/dev/null || true # only when empty: anything in it was put there meanwhile
done
exit $status
