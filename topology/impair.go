package topology

import (
	"cmp"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/netlab-go/netlab/plan"
	"go.yaml.in/yaml/v4"
)

// Impairment is what a link end does to the packets it sends, as tc's tbf and netem
// do: its impair: in the topology. Zero fields are unset.
type Impairment struct {
	Pos Pos
	// Rate is in bits per second (tbf); Burst, the bucket, in bytes (0: netlab's
	// default).
	Rate  uint64
	Burst uint32
	// Delay and Jitter (netem), to the microsecond.
	Delay, Jitter time.Duration
	// Loss is in parts per million (netem).
	Loss uint32
	// Limit is the queue, in packets.
	Limit uint32
}

// impairments reads a link's impair: either one impairment for both ends (each
// direction), or one per end, keyed by the endpoint ({r1:eth1: {...}, r2:eth1: {...}}).
func (p *parser) impairments(n *yaml.Node, l Link) (a, b *Impairment) {
	n = deref(n)
	perEnd := n.Kind == yaml.MappingNode && len(n.Content) > 0 && strings.Contains(n.Content[0].Value, ":")
	if !perEnd {
		imp := p.impairment(n, "impair of link "+l.A.String()+" <-> "+l.B.String())
		return imp, imp
	}
	p.entries(n, "impair of link "+l.A.String()+" <-> "+l.B.String(), func(key string, k, v *yaml.Node) {
		switch key {
		case l.A.String():
			a = p.impairment(v, "impair of "+key)
		case l.B.String():
			b = p.impairment(v, "impair of "+key)
		default:
			p.errorf(k, "key each end's impairment by its endpoint, "+l.A.String()+" or "+l.B.String()+
				", or give the fields ("+strings.Join(impairFields, ", ")+") for both ends", "%q is not an end of this link", key)
		}
	})
	return a, b
}

func (p *parser) impairment(n *yaml.Node, what string) *Impairment {
	imp := &Impairment{Pos: posOf(n)}
	given := 0
	p.fields(n, what, impairFields, func(key string, k, v *yaml.Node) {
		given++
		s, ok := p.scalar(v, key, impairExamples[key])
		if !ok {
			return
		}
		var err error
		switch key {
		case "rate":
			imp.Rate, err = parseRate(s)
		case "burst":
			imp.Burst, err = parseSize(s)
		case "delay":
			imp.Delay, err = parseDelay(s)
		case "jitter":
			imp.Jitter, err = parseDelay(s)
		case "loss":
			imp.Loss, err = parseLoss(s)
		case "limit":
			var n uint64
			n, err = strconv.ParseUint(s, 10, 32)
			if err == nil && (n < 1 || n > 1<<24) {
				err = fmt.Errorf("out of range")
			}
			imp.Limit = uint32(n)
		}
		if err != nil {
			p.errorf(v, "write "+impairExamples[key], "bad %s %q", key, s)
		}
	})
	if n.Kind != yaml.MappingNode {
		return nil
	}
	switch {
	case given == 0:
		p.errorf(n, "give at least one of "+strings.Join(impairFields, ", "), "%s is empty", what)
	case imp.Jitter != 0 && imp.Delay == 0:
		p.errorf(n, "add `delay:`: jitter varies the delay", "%s has jitter but no delay", what)
	case imp.Burst != 0 && imp.Rate == 0:
		p.errorf(n, "add `rate:`: the burst is that of the rate", "%s has a burst but no rate", what)
	}
	return imp
}

var impairExamples = map[string]string{
	"rate":   "a rate in bits per second, like `rate: 10mbit` (bit, kbit, mbit, gbit)",
	"burst":  "a size in bytes, like `burst: 32kb` (b, kb, mb; 1kb = 1024 bytes)",
	"delay":  "a delay like `delay: 20ms` (us, ms, s; at most 60s)",
	"jitter": "a delay like `jitter: 5ms` (us, ms, s; at most 60s)",
	"loss":   "a percentage like `loss: 1%` (0.0001% to 100%)",
	"limit":  "a number of packets from 1 to 16777216, like `limit: 1000`",
}

var rateSyntax = regexp.MustCompile(`^([0-9]+(?:\.[0-9]+)?)(bit|kbit|mbit|gbit)$`)

// parseRate reads a rate as tc writes one, in bits per second: 10mbit (SI units).
func parseRate(s string) (uint64, error) {
	m := rateSyntax.FindStringSubmatch(strings.ToLower(s))
	if m == nil {
		return 0, fmt.Errorf("bad rate")
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	bits := v * map[string]float64{"bit": 1, "kbit": 1e3, "mbit": 1e6, "gbit": 1e9}[m[2]]
	if bits < 8 || bits > 1e12 {
		return 0, fmt.Errorf("out of range")
	}
	return uint64(math.Round(bits)), nil
}

var sizeSyntax = regexp.MustCompile(`^([0-9]+)(b|kb|mb)?$`)

// parseSize reads a size as tc writes one: 12500, 32kb, 1mb (binary units).
func parseSize(s string) (uint32, error) {
	m := sizeSyntax.FindStringSubmatch(strings.ToLower(s))
	if m == nil {
		return 0, fmt.Errorf("bad size")
	}
	v, _ := strconv.ParseUint(m[1], 10, 64)
	v *= map[string]uint64{"": 1, "b": 1, "kb": 1 << 10, "mb": 1 << 20}[m[2]]
	if v < 1 || v > 1<<30 {
		return 0, fmt.Errorf("out of range")
	}
	return uint32(v), nil
}

// parseDelay reads a delay, to the microsecond: 20ms, 1.5ms, 100us, 1s.
func parseDelay(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 || d > time.Minute || d%time.Microsecond != 0 {
		return 0, fmt.Errorf("bad delay")
	}
	return d, nil
}

// parseLoss reads a percentage into parts per million: 1% is 10000.
func parseLoss(s string) (uint32, error) {
	v, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	ppm := math.Round(v * 1e4)
	if !strings.HasSuffix(s, "%") || err != nil || ppm < 1 || ppm > 1e6 {
		return 0, fmt.Errorf("bad loss")
	}
	return uint32(ppm), nil
}

// frameSize is the size of the largest frame at MTU mtu (0: 1500): what a tbf's burst
// must hold at least.
func frameSize(mtu int) uint32 { return uint32(cmp.Or(mtu, 1500) + 14) }

// defaultTBFLatency is how long a packet may wait in a tbf's queue when the topology
// gives no limit, as `tc ... tbf latency 50ms` says.
const defaultTBFLatency = 50 * time.Millisecond

// netem reports whether imp needs a netem: to delay or drop, or to bound a queue when
// there is no rate.
func (imp *Impairment) netem() bool {
	return imp.Delay != 0 || imp.Jitter != 0 || imp.Loss != 0 || imp.Limit != 0 && imp.Rate == 0
}

// qdisc is the root qdisc that does what imp asks, on a link of MTU mtu (0: 1500). A
// tbf's bucket is, unless given, 10 ms at the rate and at least two frames; its queue
// is the limit in frames, or 50 ms at the rate and the bucket. A netem's queue is the
// limit, or the kernel's 1000 packets.
func (imp *Impairment) qdisc(mtu int) plan.Qdisc {
	var q plan.Qdisc
	if imp.netem() {
		q.Delay, q.Jitter, q.Loss = uint32(imp.Delay/time.Microsecond), uint32(imp.Jitter/time.Microsecond), imp.Loss
		q.Packets = cmp.Or(imp.Limit, 1000)
	}
	if imp.Rate == 0 {
		return q
	}
	q.Rate = max(imp.Rate/8, 1)
	burst := imp.Burst
	if burst == 0 {
		burst = uint32(min(max(q.Rate/100, uint64(2*frameSize(mtu))), 1<<30))
	}
	q.Burst = plan.TBFBurst(q.Rate, burst)
	limit := uint64(q.Burst) + q.Rate*uint64(defaultTBFLatency/time.Millisecond)/1000
	if imp.Limit != 0 && !imp.netem() {
		limit = uint64(imp.Limit) * uint64(frameSize(mtu))
	}
	q.Limit = uint32(min(limit, math.MaxUint32))
	return q
}

// String writes the impairment in the topology's own words: "10mbit 20ms±2ms loss
// 0.1%".
func (imp *Impairment) String() string {
	var parts []string
	if imp.Rate != 0 {
		parts = append(parts, plan.FormatRate(imp.Rate/8))
	}
	if imp.Delay != 0 {
		d := imp.Delay.String()
		if imp.Jitter != 0 {
			d += "±" + imp.Jitter.String()
		}
		parts = append(parts, d)
	}
	if imp.Loss != 0 {
		parts = append(parts, "loss "+plan.FormatPPM(imp.Loss))
	}
	if imp.Limit != 0 {
		parts = append(parts, fmt.Sprintf("limit %d", imp.Limit))
	}
	return strings.Join(parts, " ")
}
