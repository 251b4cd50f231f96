package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/netlab-go/netlab/plan"
	"github.com/schollz/progressbar/v3"
)

// fullPlanLimit is the most actions a plan may have for apply and destroy to print it
// whole on a terminal (--verbose prints it whatever its size).
const fullPlanLimit = 50

// output is how apply and destroy talk: to a terminal, with colour and a live
// progress line, or line by line elsewhere (a log, a pipe), as before.
type output struct {
	w        io.Writer
	terminal bool // w is a terminal
	colour   bool
	quiet    bool
	verbose  bool
}

// outputFor says how to talk on w: colour on a terminal unless --no-color or NO_COLOR
// is set (https://no-color.org).
func (g *globals) outputFor(w io.Writer) output {
	o := output{w: w, quiet: g.quiet, verbose: g.verbose}
	if f, ok := w.(interface{ Fd() uintptr }); ok {
		o.terminal = isatty.IsTerminal(f.Fd())
	}
	o.colour = o.terminal && !g.noColor && os.Getenv("NO_COLOR") == ""
	return o
}

// symbolColours are the SGR colours of the action symbols: create green, update
// yellow, delete red, replace magenta.
var symbolColours = map[string]string{"+": "32", "~": "33", "-": "31", "-/+": "35"}

// paint colours the symbol of each action heading of a text plan ("  + netns a").
func paint(text string) string {
	lines := strings.SplitAfter(text, "\n")
	for i, l := range lines {
		rest, ok := strings.CutPrefix(l, "  ")
		if !ok {
			continue
		}
		sym, tail, ok := strings.Cut(rest, " ")
		if c, known := symbolColours[sym]; ok && known {
			lines[i] = "  \x1b[" + c + "m" + sym + "\x1b[0m " + tail
		}
	}
	return strings.Join(lines, "")
}

// showPlan prints the plan apply or destroy is about to carry out: whole, but with
// --quiet, and on a terminal only up to fullPlanLimit actions or with --verbose.
func (o output) showPlan(p plan.Plan) error {
	if o.quiet {
		return nil
	}
	if o.terminal && !o.verbose && len(p.Actions) > fullPlanLimit {
		_, err := fmt.Fprintf(o.w, "Lab %s: %d actions (--verbose shows them; netlab plan -o json lists them).\n%s\n",
			p.Lab, len(p.Actions), p.SummaryLine())
		return err
	}
	var b strings.Builder
	if err := plan.WriteText(&b, p); err != nil {
		return err
	}
	text := b.String()
	if o.colour {
		text = paint(text)
	}
	_, err := io.WriteString(o.w, text)
	return err
}

// progress reports the actions as they are done: a live line on a terminal (done of
// total, the kind of object, elapsed), a "done" line each elsewhere, nothing with
// --quiet. Its finish ends the live line, or writes the "done" lines not written yet.
func (o output) progress(total int) (done func(a plan.Action), finish func()) {
	switch {
	case o.quiet:
		return func(plan.Action) {}, func() {}
	case !o.terminal:
		fmt.Fprintln(o.w)
		w := newLagWriter(o.w, progressLag)
		return func(a plan.Action) { fmt.Fprintf(w, "  %s: done\n", a.Summary()) }, w.Flush
	}
	bar := progressbar.NewOptions(total, progressbar.OptionSetWriter(o.w), progressbar.OptionShowCount(),
		progressbar.OptionSetElapsedTime(true), progressbar.OptionSetPredictTime(false), progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish(), progressbar.OptionEnableColorCodes(o.colour),
		progressbar.OptionSetDescription("starting"))
	return func(a plan.Action) {
			bar.Describe(string(a.Type()))
			bar.Add(1)
		}, func() {
			bar.Finish()
			bar.Exit()
		}
}

// progressLag is how long a "done" line may wait to be written with the next ones.
const progressLag = 100 * time.Millisecond

// lagWriter passes what is written to it on to w at once when it passed nothing on in
// the last lag, and otherwise keeps it, to pass on together with what follows, lag
// after its last write: a line per action of a large plan, written each in a call of
// its own to a pipe, cost the apply a write and the reader's wakeup per action. The
// first line still comes at once, the others no later than a glance at a log would
// notice.
type lagWriter struct {
	mu    sync.Mutex
	w     io.Writer
	lag   time.Duration
	last  time.Time // when it last wrote
	buf   []byte
	timer *time.Timer // set while buf holds bytes to write
}

func newLagWriter(w io.Writer, lag time.Duration) *lagWriter { return &lagWriter{w: w, lag: lag} }

// Write passes p on now, or keeps it for the write due lag after the last.
func (l *lagWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.timer == nil && time.Since(l.last) >= l.lag {
		l.last = time.Now()
		return l.w.Write(p)
	}
	l.buf = append(l.buf, p...)
	if l.timer == nil {
		l.timer = time.AfterFunc(l.lag-time.Since(l.last), l.Flush)
	}
	return len(p), nil
}

// Flush writes what is kept, now.
func (l *lagWriter) Flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
	if len(l.buf) > 0 {
		l.last = time.Now()
		l.w.Write(l.buf) // progress, as the first line's write: not checked
		l.buf = l.buf[:0]
	}
}
