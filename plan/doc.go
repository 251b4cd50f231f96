// Package plan holds netlab's model of the kernel objects a lab owns, the diff between a
// desired and an actual State, and the rendering of the resulting Plan as text, JSON and
// shell.
//
// The package is pure: it never talks to the kernel, reads no file and keeps no global
// state, so every function here is deterministic and testable without root. The
// reconcile package observes the kernel into a State and carries a Plan out.
//
// Limits: a veth pair is judged by its two ends alone (both present, both marked as the
// lab's); the peer relation itself is not read back from the kernel.
package plan
