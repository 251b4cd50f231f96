// Package reconcile is the only part of netlab that touches the kernel. It observes the
// namespaces a lab concerns into a plan.State, carries out a plan.Plan action by action,
// and runs the whole cycle (observe, diff, record, apply, verify) for the commands.
//
// Kernel access goes through the Kernel interface; Linux implements it with netlink
// (one netlink.Handle per namespace, opened inside that namespace, so no call switches
// the calling thread), go-iptables for NAT, and /proc/sys for sysctls.
//
// Traps, written down where they live:
//   - A thread that enters another network namespace must be locked first and must be
//     switched back before it is unlocked; if switching back fails, it stays locked so
//     that the Go runtime ends it instead of reusing it. inNamespace does this, and it is
//     the only place that calls netns.Set.
//   - /proc/sys/net shows the namespace of the thread that opens it, and iptables runs in
//     the namespace of the thread that forks it: both need inNamespace.
//   - Deleting a namespace is asynchronous in the kernel: its interfaces outlive the
//     unmount. So destroy deletes a veth end that sits in a namespace that stays before
//     it deletes the namespace holding the other end: LinkDel returns when both ends are
//     gone.
//   - A netlink dump that returns netlink.ErrDumpInterrupted is incomplete; it is retried,
//     never taken for the truth.
package reconcile
