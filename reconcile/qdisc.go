package reconcile

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/netlab-go/netlab/plan"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ApplyQdisc makes, changes or removes the root qdisc of an interface, as `tc qdisc
// replace dev IF root handle 4e4c: ...` (and a tbf under a netem) and `tc qdisc del
// dev IF root` do. Removing it gives the interface back the kernel's default qdisc.
func (k *Linux) ApplyQdisc(a plan.Action, o plan.QdiscObject) error {
	h, release, err := k.handle(o.Key.NS)
	if err != nil {
		return err
	}
	defer release()
	return k.byIndex(h, o.Key.Name, func(l netlink.Link) error {
		index := l.Attrs().Index
		if a.Kind == plan.Delete {
			err := h.nl.QdiscDel(rootOf(o.Before, index))
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EINVAL) {
				return nil // the default qdisc is there already
			}
			return err
		}
		for _, q := range netlinkQdiscs(o.After, index) {
			if err := h.nl.QdiscReplace(q); err != nil {
				return fmt.Errorf("replace %s qdisc: %w", q.Type(), err)
			}
		}
		return nil
	})
}

// rootOf is the root qdisc q as a deletion names it: of its kind, at the root.
func rootOf(q plan.Qdisc, index int) netlink.Qdisc {
	attrs := netlink.QdiscAttrs{LinkIndex: index, Parent: netlink.HANDLE_ROOT}
	switch {
	case q.Foreign != "":
		return &netlink.GenericQdisc{QdiscAttrs: attrs, QdiscType: q.Foreign}
	case q.HasNetem():
		return &netlink.Netem{QdiscAttrs: attrs}
	}
	return &netlink.Tbf{QdiscAttrs: attrs}
}

// netlinkQdiscs are the qdiscs that make q on the interface of index: a netem or a tbf
// at the root, with handle plan.QdiscHandle, and a tbf under the netem when q has both.
// Times go to the kernel in its scheduler ticks, losses in its 32-bit fraction.
func netlinkQdiscs(q plan.Qdisc, index int) []netlink.Qdisc {
	root := netlink.QdiscAttrs{LinkIndex: index, Parent: netlink.HANDLE_ROOT, Handle: plan.QdiscHandle}
	tbf := func(attrs netlink.QdiscAttrs) *netlink.Tbf {
		return &netlink.Tbf{QdiscAttrs: attrs, Rate: q.Rate, Limit: q.Limit, Buffer: plan.TBFTicks(q.Rate, q.Burst)}
	}
	if !q.HasNetem() {
		return []netlink.Qdisc{tbf(root)}
	}
	qs := []netlink.Qdisc{&netlink.Netem{QdiscAttrs: root, Latency: ticksOf(q.Delay), Jitter: ticksOf(q.Jitter),
		Loss: lossOf(q.Loss), Limit: q.Packets}}
	if q.HasTBF() {
		qs = append(qs, tbf(netlink.QdiscAttrs{LinkIndex: index, Parent: plan.QdiscHandle | 1, Handle: plan.QdiscChildHandle}))
	}
	return qs
}

// ticksOf is a time in microseconds in the scheduler's ticks, and microsOf the reverse,
// both rounded: a whole number of microseconds comes back as itself.
func ticksOf(us uint32) uint32 { return uint32(math.Round(float64(us) * 1000 / plan.PschedTickNS)) }
func microsOf(ticks uint32) uint32 {
	return uint32(math.Round(float64(ticks) * plan.PschedTickNS / 1000))
}

// lossOf is a loss in parts per million as netem's 32-bit fraction, and ppmOf the
// reverse.
func lossOf(ppm uint32) uint32 {
	if ppm >= 1e6 {
		return math.MaxUint32
	}
	return uint32(math.Round(float64(ppm) * (1 << 32) / 1e6))
}
func ppmOf(loss uint32) uint32 { return uint32(math.Round(float64(loss) * 1e6 / (1 << 32))) }

// observeQdiscs dumps the qdiscs of a namespace and notes in s the root qdisc of each
// interface that has one other than the kernel's default (handle 0): netlab's, with its
// values, or someone else's (Foreign). names are the namespace's links by index.
func observeQdiscs(h *nsHandle, ns plan.NS, names map[int]string, s *plan.State) error {
	qdiscs, err := retryDump("qdiscs", func() ([]netlink.Qdisc, error) { return h.nl.QdiscList(nil) })
	if err != nil {
		return err
	}
	children := map[int]netlink.Qdisc{} // the qdisc under netlab's root, by interface
	for _, q := range qdiscs {
		if a := q.Attrs(); a.Parent == plan.QdiscHandle|1 {
			children[a.LinkIndex] = q
		}
	}
	for _, q := range qdiscs {
		a := q.Attrs()
		name, ok := names[a.LinkIndex]
		if !ok || a.Parent != netlink.HANDLE_ROOT || a.Handle == 0 {
			continue
		}
		s.Qdiscs[plan.LinkKey{NS: ns, Name: name}] = qdiscOf(q, children[a.LinkIndex])
	}
	return nil
}

// qdiscOf is the plan form of a root qdisc and the qdisc under it (nil if none).
func qdiscOf(root, child netlink.Qdisc) plan.Qdisc {
	foreign := plan.Qdisc{Foreign: root.Type()}
	if root.Attrs().Handle != plan.QdiscHandle {
		return foreign
	}
	switch r := root.(type) {
	case *netlink.Tbf:
		return tbfOf(plan.Qdisc{}, r)
	case *netlink.Netem:
		q := plan.Qdisc{Delay: microsOf(r.Latency), Jitter: microsOf(r.Jitter), Loss: ppmOf(r.Loss), Packets: r.Limit}
		if child == nil {
			return q
		}
		if t, ok := child.(*netlink.Tbf); ok && t.Handle == plan.QdiscChildHandle {
			return tbfOf(q, t)
		}
		return plan.Qdisc{Foreign: "netem with " + child.Type()}
	}
	return foreign
}

// tbfOf is q with the rate, bucket and queue of the tbf t.
func tbfOf(q plan.Qdisc, t *netlink.Tbf) plan.Qdisc {
	q.Rate, q.Limit, q.Burst = t.Rate, t.Limit, plan.TBFBytes(t.Rate, t.Buffer)
	return q
}

// qdiscKernelOptions are the kernel options of the qdisc kinds netlab makes.
var qdiscKernelOptions = map[string]string{"netem": "CONFIG_NET_SCH_NETEM", "tbf": "CONFIG_NET_SCH_TBF"}

// missingQdiscs returns, for each of the kinds the kernel has neither built in nor as
// a module it can load, what its configuration says: read from /proc/config.gz (or
// /boot/config-RELEASE) and the modules of /lib/modules/RELEASE. A kernel whose
// configuration cannot be read is taken to have them all; the kernel's own answer
// then comes at apply.
func missingQdiscs(kinds []string) map[string]string {
	missing := map[string]string{}
	for _, kind := range kinds {
		if why := kernelSupport.lacks(kind); why != "" {
			missing[kind] = why
		}
	}
	return missing
}

// kernelSupport reads the kernel's configuration once.
var kernelSupport = &kernelConfig{}

type kernelConfig struct {
	once    sync.Once
	options map[string]string // CONFIG_X: y, m; nil when unreadable
	modules string            // modules.dep and modules.builtin
	release string
}

func (c *kernelConfig) load() {
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		c.release = unix.ByteSliceToString(u.Release[:])
	}
	c.options = readKernelConfig(c.release)
	for _, f := range []string{"modules.dep", "modules.builtin"} {
		if b, err := os.ReadFile(filepath.Join("/lib/modules", c.release, f)); err == nil {
			c.modules += string(b)
		}
	}
}

// lacks says why the kernel lacks the qdisc kind, or "" when it has it (or cannot
// tell).
func (c *kernelConfig) lacks(kind string) string {
	c.once.Do(c.load)
	option, module := qdiscKernelOptions[kind], "sch_"+kind
	if _, err := os.Stat("/sys/module/" + module); err == nil {
		return "" // loaded
	}
	if c.options == nil {
		return ""
	}
	switch c.options[option] {
	case "y":
		return ""
	case "m":
		if strings.Contains(c.modules, "/"+module+".ko") {
			return "" // the kernel loads it when asked for the kind
		}
		return fmt.Sprintf("%s=m, but the module %s is not installed for kernel %s", option, module, c.release)
	}
	return fmt.Sprintf("%s is not set in kernel %s", option, c.release)
}

// readKernelConfig reads the running kernel's configuration options, or nil.
func readKernelConfig(release string) map[string]string {
	var r io.Reader
	if f, err := os.Open("/proc/config.gz"); err == nil {
		defer f.Close()
		if zr, err := gzip.NewReader(f); err == nil {
			r = zr
		}
	}
	if r == nil {
		f, err := os.Open("/boot/config-" + release)
		if err != nil {
			return nil
		}
		defer f.Close()
		r = f
	}
	options := map[string]string{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && strings.HasPrefix(k, "CONFIG_") {
			options[k] = v
		}
	}
	if sc.Err() != nil {
		return nil
	}
	return options
}
