package main

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer that a timer's goroutine may write to.
type syncBuffer struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	return s.b.Write(p)
}

func (s *syncBuffer) String() (string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String(), s.writes
}

// TestLagWriterGathersLines checks that a lagWriter writes its first line at once and
// the next ones together, in one write: at Flush, or on their own after the lag.
func TestLagWriterGathersLines(t *testing.T) {
	var out syncBuffer
	w := newLagWriter(&out, time.Hour)
	w.Write([]byte("  + netns a: done\n"))
	if got, writes := out.String(); got != "  + netns a: done\n" || writes != 1 {
		t.Fatalf("the first line: %q in %d writes, want it at once", got, writes)
	}
	for _, line := range []string{"  + netns b: done\n", "  + netns c: done\n"} {
		w.Write([]byte(line))
	}
	if _, writes := out.String(); writes != 1 {
		t.Fatal("the next lines written before the lag or a Flush")
	}
	w.Flush()
	if got, writes := out.String(); got != "  + netns a: done\n  + netns b: done\n  + netns c: done\n" || writes != 2 {
		t.Fatalf("after Flush: %q in %d writes, want the next two lines in one", got, writes)
	}
	w.Flush()
	if _, writes := out.String(); writes != 2 {
		t.Fatalf("a Flush with nothing kept wrote")
	}

	var late syncBuffer
	w = newLagWriter(&late, 10*time.Millisecond)
	w.Write([]byte("  + netns d: done\n"))
	w.Write([]byte("  + netns e: done\n"))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if got, _ := late.String(); got == "  + netns d: done\n  + netns e: done\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a line kept is not written on its own after the lag")
		}
	}
}
