package plan

import "strings"

// Reason says why an action is in a plan: a code that programs decide by, and the
// sentence people read (String). The executor never reads it.
type Reason struct {
	Code ReasonCode
	// Detail completes the sentence of some codes: what must change for a Replace, the
	// missing peer for ReasonPeerMissing, the labs of ReasonSharedSysctl.
	Detail string
	// Takes lists the links in other namespaces that go with a deleted namespace.
	Takes []LinkKey
}

// ReasonCode is the kind of a Reason.
type ReasonCode int

// The reasons for an action.
const (
	// ReasonNew: the object is in the topology and not in the kernel.
	ReasonNew ReasonCode = iota + 1
	// ReasonDrift: the lab made the object before and it is missing (removed by hand?).
	ReasonDrift
	// ReasonDiffers: the object differs from the topology.
	ReasonDiffers
	// ReasonGone: the object is no longer in the topology.
	ReasonGone
	// ReasonDestroy: the lab is destroyed.
	ReasonDestroy
	// ReasonRestore: a sysctl goes back to the value it had before the lab.
	ReasonRestore
	// ReasonSharedSysctl: a sysctl the lab no longer sets takes the value the other
	// labs that set it want (Detail names them).
	ReasonSharedSysctl
	// ReasonReplace: the object cannot be changed in place (Detail says what differs).
	ReasonReplace
	// ReasonRecreated: the object is made anew in place of one the plan deletes.
	ReasonRecreated
	// ReasonPeerMissing: a veth end whose peer (Detail) is missing; the pair is made anew.
	ReasonPeerMissing
	// ReasonGatewayDropped: a route the kernel drops with the address that reaches its
	// gateway, added again.
	ReasonGatewayDropped
	// ReasonEmptyMountPoint: the empty /run/netns mount point an interrupted run left.
	ReasonEmptyMountPoint
	// ReasonAdopted: the object is in the kernel as the topology wants it and is
	// adopted (apply --adopt).
	ReasonAdopted
	// ReasonAdoptedSysctl: a sysctl already at the value the topology wants, adopted.
	ReasonAdoptedSysctl
	// ReasonLeftByLab: a file under /etc/netns that carries the lab's mark (or a
	// directory holding only such files) and that its record does not name: left by the
	// lab when its record was lost, as when the machine restarts (State.MarkedFiles).
	ReasonLeftByLab
)

// String is the reason as a sentence.
func (r Reason) String() string {
	var s string
	switch r.Code {
	case ReasonNew:
		s = "in the topology, not in the kernel"
	case ReasonDrift:
		s = "applied before but missing from the kernel (removed by hand?)"
	case ReasonDiffers:
		s = "differs from the topology"
	case ReasonGone:
		s = "no longer in the topology"
	case ReasonDestroy:
		s = "the lab is destroyed"
	case ReasonRestore:
		s = "restore the value found before the lab changed it"
	case ReasonSharedSysctl:
		s = "lab " + r.Detail + " still sets it"
	case ReasonReplace:
		s = r.Detail + "; it is recreated"
	case ReasonRecreated:
		s = "made anew in place of the one deleted above"
	case ReasonPeerMissing:
		s = "its peer " + r.Detail + " is missing; the pair is recreated"
	case ReasonGatewayDropped:
		s = "the kernel drops it with the address that reaches its gateway"
	case ReasonEmptyMountPoint:
		s = "remove the empty mount point an interrupted run left"
	case ReasonAdopted:
		s = "in the kernel as the topology wants it, not the lab's: adopted (destroy removes it)"
	case ReasonAdoptedSysctl:
		s = "already at its value, not set by the lab: adopted (destroy sets it back to a fresh namespace's value)"
	case ReasonLeftByLab:
		s = "the lab's by its mark, left when its record was lost (a restart empties the state directory): taken back"
	}
	if len(r.Takes) > 0 {
		names := make([]string, len(r.Takes))
		for i, k := range r.Takes {
			names[i] = k.String()
		}
		s += "; takes " + strings.Join(names, ", ") + " with it"
	}
	return s
}

// Obvious reports whether the reason says no more than the action's symbol does, so a
// text plan leaves it out.
func (r Reason) Obvious() bool { return r.Code == ReasonNew || r.Code == ReasonDiffers || r.Code == 0 }

// missingReason says why a desired object absent from the kernel is created.
func missingReason(owned bool) Reason {
	if owned {
		return Reason{Code: ReasonDrift}
	}
	return Reason{Code: ReasonNew}
}
