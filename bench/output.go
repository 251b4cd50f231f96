package main

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/netlab-go/netlab/bench/labgen"
)

// The output benchmark (make bench-output): for a star lab of each size, how many bytes
// each rendering of the whole plan is and the peak RSS of the netlab that printed it,
// and how much /etc/netns holds once the lab is applied. Every figure should grow
// linearly with N.

// outputRow is one lab size's figures: bytes and peak RSS (KiB) of each rendering, and
// the bytes under /etc/netns after apply.
type outputRow struct {
	n        int
	bytes    map[string]int64
	rss      map[string]int64
	etcNetns int64
}

// outputKinds are the renderings measured, as plan's arguments.
var outputKinds = []struct{ name, flag string }{{"text", "text"}, {"json", "json"}, {"sh", "sh"}, {"--out", ""}}

func (b *bench) measureOutput(n int) (outputRow, error) {
	star := filepath.Join(b.dir, fmt.Sprintf("star%d.yaml", n))
	if err := os.WriteFile(star, []byte(labgen.StarYAML(n)), 0o644); err != nil {
		return outputRow{}, err
	}
	r := outputRow{n: n, bytes: map[string]int64{}, rss: map[string]int64{}}
	for _, k := range outputKinds {
		args := []string{"plan", "-o", k.flag, star}
		saved := filepath.Join(b.dir, "saved.plan")
		if k.flag == "" {
			args = []string{"plan", "-o", "text", "--out", saved, star}
		}
		cmd := exec.Command(b.netlab, args...)
		var count countWriter
		cmd.Stdout, cmd.Stderr = &count, os.Stderr
		if err := cmd.Run(); err != nil {
			return r, fmt.Errorf("netlab %s: %w", strings.Join(args, " "), err)
		}
		r.bytes[k.name] = count.n
		if k.flag == "" {
			st, err := os.Stat(saved)
			if err != nil {
				return r, err
			}
			r.bytes[k.name] = st.Size()
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			r.rss[k.name] = ru.Maxrss
		}
	}
	if _, err := timed(b.netlab, "apply", star); err != nil {
		return r, err
	}
	size, err := duBytes("/etc/netns")
	if err != nil {
		return r, err
	}
	r.etcNetns = size
	if _, err := timed(b.netlab, "destroy", star); err != nil {
		return r, err
	}
	return r, waitClean()
}

// countWriter counts what is written to it.
type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

var _ io.Writer = (*countWriter)(nil)

// duBytes is the size of the files under dir, each inode counted once, as du does.
func duBytes(dir string) (int64, error) {
	seen := map[uint64]bool{}
	var total int64
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && !seen[st.Ino] {
			seen[st.Ino] = true
			total += info.Size()
		}
		return nil
	})
	return total, err
}

func renderOutput(rows []outputRow) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured by `make bench-output` on %d CPUs (%s), %s; the whole plan of an empty kernel, star lab.\n\n", runtime.NumCPU(), cpuModel(), time.Now().UTC().Format("2006-01-02"))
	b.WriteString("| N | text | -o json | -o sh | --out file | peak RSS (largest of the four) | /etc/netns after apply |\n|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		peak := int64(0)
		for _, v := range r.rss {
			peak = max(peak, v)
		}
		fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %.1f MiB | %s |\n", r.n, mb(r.bytes["text"]), mb(r.bytes["json"]), mb(r.bytes["sh"]), mb(r.bytes["--out"]),
			float64(peak)/1024, mb(r.etcNetns))
	}
	return b.String()
}

func mb(n int64) string {
	if n < 1<<20 {
		return fmt.Sprintf("%.0f KB", float64(n)/1000)
	}
	return fmt.Sprintf("%.1f MB", float64(n)/1e6)
}
