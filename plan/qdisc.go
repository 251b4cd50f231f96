package plan

import (
	"fmt"
	"strconv"
	"strings"
)

// Qdisc is the root queueing discipline netlab gives an interface to impair what leaves
// it: a tbf when Rate is set, a netem when Delay, Jitter, Loss or Packets is, and a
// netem with a tbf child when both are. Its values are those the kernel keeps, at its
// resolution, so that an observed qdisc equals the desired one exactly.
type Qdisc struct {
	// Rate is the tbf's rate in bytes per second; Burst its bucket and Limit its queue,
	// in bytes. Burst is a whole number of the kernel's scheduler ticks at Rate
	// (TBFBurst).
	Rate  uint64 `json:"rate_bytes,omitempty"`
	Burst uint32 `json:"burst_bytes,omitempty"`
	Limit uint32 `json:"limit_bytes,omitempty"`
	// Delay and Jitter are netem's, in microseconds; Loss its loss in parts per
	// million; Packets its queue, in packets (the kernel's default is 1000).
	Delay   uint32 `json:"delay_us,omitempty"`
	Jitter  uint32 `json:"jitter_us,omitempty"`
	Loss    uint32 `json:"loss_ppm,omitempty"`
	Packets uint32 `json:"limit_packets,omitempty"`
	// Foreign is set, observed only, for a root qdisc that is not netlab's: its kind
	// (someone's `tc qdisc replace dev IF root ...`).
	Foreign string `json:"foreign,omitempty"`
}

// QdiscHandle is the handle of the root qdisc netlab makes, 4e4c: ("NL"), its mark;
// the tbf under a netem has QdiscChildHandle.
const (
	QdiscHandle      uint32 = 0x4e4c << 16
	QdiscChildHandle uint32 = 0x4e4d << 16
)

// PschedTickNS is the length of the kernel's packet scheduler tick, in which it keeps
// tbf buffers and netem delays (PSCHED_SHIFT 6: 64 ns, the same on every Linux since
// 2.6.24; /proc/net/psched shows it).
const PschedTickNS = 64

// TBFBurst is the bucket the kernel keeps for a tbf asked for burst bytes at rate:
// it keeps the time the bucket takes to fill, in whole scheduler ticks.
func TBFBurst(rate uint64, burst uint32) uint32 {
	if rate == 0 {
		return burst
	}
	return TBFBytes(rate, TBFTicks(rate, burst))
}

// TBFTicks is the time burst bytes take at rate, in scheduler ticks (rounded), as a
// tbf's buffer is given to the kernel.
func TBFTicks(rate uint64, burst uint32) uint32 {
	return uint32((float64(burst)*1e9/float64(rate))/PschedTickNS + 0.5)
}

// TBFBytes is the number of bytes that ticks of the scheduler let through at rate.
func TBFBytes(rate uint64, ticks uint32) uint32 {
	return uint32(float64(rate)*float64(ticks)*PschedTickNS/1e9 + 0.5)
}

// Kinds names the qdiscs q is made of: tbf, netem, or both.
func (q Qdisc) Kinds() []string {
	var kinds []string
	if q.HasNetem() {
		kinds = append(kinds, "netem")
	}
	if q.HasTBF() {
		kinds = append(kinds, "tbf")
	}
	return kinds
}

// HasTBF reports whether q shapes the rate.
func (q Qdisc) HasTBF() bool { return q.Rate != 0 }

// HasNetem reports whether q delays or drops.
func (q Qdisc) HasNetem() bool { return q.Delay != 0 || q.Jitter != 0 || q.Loss != 0 || q.Packets != 0 }

// String writes q as tc's qdisc arguments: "netem delay 20ms 5ms loss 1% limit 1000",
// "tbf rate 10mbit burst 12500 limit 75000", both with " + " between.
func (q Qdisc) String() string {
	if q.Foreign != "" {
		return q.Foreign + " (not netlab's)"
	}
	var parts []string
	if q.HasNetem() {
		parts = append(parts, strings.Join(q.netemWords(), " "))
	}
	if q.HasTBF() {
		parts = append(parts, strings.Join(q.tbfWords(), " "))
	}
	return strings.Join(parts, " + ")
}

func (q Qdisc) netemWords() []string {
	w := []string{"netem"}
	if q.Delay != 0 || q.Jitter != 0 {
		w = append(w, "delay", FormatMicros(q.Delay))
		if q.Jitter != 0 {
			w = append(w, FormatMicros(q.Jitter))
		}
	}
	if q.Loss != 0 {
		w = append(w, "loss", FormatPPM(q.Loss))
	}
	return append(w, "limit", strconv.FormatUint(uint64(q.Packets), 10))
}

func (q Qdisc) tbfWords() []string {
	return []string{"tbf", "rate", FormatRate(q.Rate), "burst", strconv.FormatUint(uint64(q.Burst), 10),
		"limit", strconv.FormatUint(uint64(q.Limit), 10)}
}

// FormatRate writes a rate in bytes per second as tc does, in bits: 10mbit, 1500kbit.
func FormatRate(bytesPerSecond uint64) string {
	bits := bytesPerSecond * 8
	for _, u := range []struct {
		name string
		size uint64
	}{{"gbit", 1e9}, {"mbit", 1e6}, {"kbit", 1e3}} {
		if bits%u.size == 0 {
			return strconv.FormatUint(bits/u.size, 10) + u.name
		}
	}
	return strconv.FormatUint(bits, 10) + "bit"
}

// FormatMicros writes a duration in microseconds as tc does: 20ms, 1500us, 2s.
func FormatMicros(us uint32) string {
	switch {
	case us != 0 && us%1e6 == 0:
		return strconv.FormatUint(uint64(us/1e6), 10) + "s"
	case us != 0 && us%1e3 == 0:
		return strconv.FormatUint(uint64(us/1e3), 10) + "ms"
	}
	return strconv.FormatUint(uint64(us), 10) + "us"
}

// FormatPPM writes parts per million as a percentage: 1%, 0.5%, 0.0001%.
func FormatPPM(ppm uint32) string {
	s := strconv.FormatFloat(float64(ppm)/1e4, 'f', -1, 64)
	return s + "%"
}

// QdiscObject is the root qdisc of an interface, which netlab makes to impair it:
// `tc qdisc replace dev IF root handle 4e4c: netem ...` or `... tbf ...`.
type QdiscObject struct {
	Key           LinkKey
	Before, After Qdisc
}

// Type is TypeQdisc.
func (QdiscObject) Type() ObjectType { return TypeQdisc }

func (QdiscObject) marks(string) [][]string { return nil } // recorded only when adopted

func (o QdiscObject) name() string                    { return o.Key.String() }
func (o QdiscObject) describe(Kind) string            { return "qdisc " + o.Key.String() }
func (o QdiscObject) namespaces(Kind) []NS            { return []NS{o.Key.NS} }
func (QdiscObject) input(Kind) string                 { return "" }
func (QdiscObject) phase(Kind) int                    { return phaseQdisc }
func (o QdiscObject) jsonKey() any                    { return jsonNSName{NS: o.Key.NS, Name: o.Key.Name} }
func (o QdiscObject) own(owned, _ State, _ Kind)      { owned.Qdiscs[o.Key] = o.After }
func (o QdiscObject) apply(k Applier, a Action) error { return k.ApplyQdisc(a, o) }
func (o QdiscObject) change() string                  { return o.Before.String() + " -> " + o.After.String() }
func (o QdiscObject) jsonValues() (before, after any) { return jsonQdisc(o.Before), jsonQdisc(o.After) }

func jsonQdisc(q Qdisc) any {
	if q == (Qdisc{}) {
		return nil
	}
	return q
}

// tc returns a tc command run in namespace ns.
func tc(ns NS, args ...string) []string { return inNS("tc", ns, args...) }

// QdiscHandleString writes a handle as tc does: 4e4c:, 4e4c:1.
func QdiscHandleString(h uint32) string {
	s := strconv.FormatUint(uint64(h>>16), 16) + ":"
	if minor := h & 0xffff; minor != 0 {
		s += strconv.FormatUint(uint64(minor), 16)
	}
	return s
}

func (o QdiscObject) commands(k Kind, _ string) [][]string {
	dev := o.Key.Name
	if k == Delete {
		return [][]string{tc(o.Key.NS, "qdisc", "del", "dev", dev, "root")}
	}
	q := o.After
	root := []string{"qdisc", "replace", "dev", dev, "root", "handle", QdiscHandleString(QdiscHandle)}
	if !q.HasNetem() {
		return [][]string{tc(o.Key.NS, append(root, q.tbfWords()...)...)}
	}
	cmds := [][]string{tc(o.Key.NS, append(root, q.netemWords()...)...)}
	if q.HasTBF() {
		child := []string{"qdisc", "replace", "dev", dev, "parent", QdiscHandleString(QdiscHandle | 1),
			"handle", QdiscHandleString(QdiscChildHandle)}
		cmds = append(cmds, tc(o.Key.NS, append(child, q.tbfWords()...)...))
	}
	return cmds
}

func (o QdiscObject) compare(other Object) int {
	return compareAs(o, other, func(a, b QdiscObject) int { return compareLinkKey(a.Key, b.Key) })
}

// dependOn: a qdisc waits for its interface.
func (o QdiscObject) dependOn(x *depIndex, _ int, k Kind) []int {
	if k == Delete {
		return nil
	}
	return append(x.needNS(o.Key.NS), need(x.linkCreate, o.Key)...)
}

// sameShape reports whether have can be changed into want in place: both netlab's,
// made of the same qdiscs.
func sameShape(have, want Qdisc) bool {
	return have.Foreign == "" && have.HasNetem() == want.HasNetem() && have.HasTBF() == want.HasTBF()
}

// qdiscs plans the impairments: a desired qdisc is made where the interface has
// another (or none), changed in place where only its values differ, and made anew
// where its shape does (a tbf becoming a netem); an impairment the lab no longer wants
// is removed, giving the interface back its default qdisc, unless the interface goes
// anyway. A qdisc kind the kernel lacks is refused before any change.
func (d *differ) qdiscs() {
	for _, k := range sortedKeys(d.desired.Qdiscs, compareLinkKey) {
		want := d.desired.Qdiscs[k]
		have, ok := d.actual.Qdiscs[k]
		if problem := d.qdiscProblem(want); problem != "" {
			kind := missingKind(d.actual.MissingQdiscs, want)
			d.refuse("qdisc "+k.String(), problem, "load the module where the kernel has it (modprobe sch_"+kind+
				"; stock Debian and Ubuntu kernels do), or use a kernel built with CONFIG_NET_SCH_"+strings.ToUpper(kind)+
				"; rate: alone needs only tbf")
			continue
		}
		o := QdiscObject{Key: k, Before: have, After: want}
		switch {
		case !ok || d.linkFresh(k):
			o.Before = Qdisc{}
			d.add(Action{Kind: Create, Target: o, Reason: missingReason(d.ownsQdisc(k) && !d.linkFresh(k))})
		case have == want:
		case sameShape(have, want):
			d.add(Action{Kind: Update, Target: o, Reason: Reason{Code: ReasonDiffers}})
		default:
			d.add(Action{Kind: Replace, Target: o, Reason: Reason{Code: ReasonReplace, Detail: "it is " + have.String() + " and must be " + want.String()}})
		}
	}
	for _, k := range sortedKeys(d.owned.Qdiscs, compareLinkKey) {
		if _, want := d.desired.Qdiscs[k]; want || d.nsDeleted[k.NS] {
			continue
		}
		if _, linkKept := d.desired.Links[k]; !linkKept {
			continue // goes with its link
		}
		if have, ok := d.actual.Qdiscs[k]; ok && have.Foreign == "" {
			d.add(Action{Kind: Delete, Target: QdiscObject{Key: k, Before: have}, Reason: Reason{Code: ReasonGone}})
		}
	}
}

func (d *differ) ownsQdisc(k LinkKey) bool { _, ok := d.owned.Qdiscs[k]; return ok }

// qdiscProblem says which qdisc of q the kernel lacks, or "".
func (d *differ) qdiscProblem(q Qdisc) string {
	kind := missingKind(d.actual.MissingQdiscs, q)
	if kind == "" {
		return ""
	}
	return fmt.Sprintf("the kernel has no %s qdisc (%s), which %s", kind, d.actual.MissingQdiscs[kind],
		map[string]string{"netem": "delay, jitter, loss and limit need", "tbf": "rate needs"}[kind])
}

// missingKind is the first qdisc kind of q that missing names.
func missingKind(missing map[string]string, q Qdisc) string {
	for _, kind := range q.Kinds() {
		if _, ok := missing[kind]; ok {
			return kind
		}
	}
	return ""
}
