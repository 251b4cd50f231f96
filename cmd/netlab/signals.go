package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/netlab-go/netlab/reconcile"
)

// signalCause is the cause of the run's context when a signal stopped it.
type signalCause struct{ sig syscall.Signal }

func (c signalCause) Error() string { return "stopped by " + signalName(c.sig) }

func signalName(sig syscall.Signal) string {
	switch sig {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return sig.String()
}

// signalContext returns the context of the whole run, in place before any command
// starts: SIGINT, SIGTERM and SIGHUP cancel it with a signalCause, so that an apply or
// destroy stops at the next action boundary, with its record written. A second signal
// ends netlab at once, as kill -9 would (which leaves a record the next run converges
// from). SIGPIPE is caught too, so that a closed standard output is a write error (see
// pipeWriter), never a death in the middle of kernel work; and a command netlab exec
// runs gets the default for each (a caught signal's disposition is reset by execve).
func signalContext() context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	go func() {
		stopping := false
		for s := range sigs {
			sig := s.(syscall.Signal)
			switch {
			case sig == syscall.SIGPIPE:
			case stopping:
				fmt.Fprintf(os.Stderr, "netlab: %s again: exiting at once; the record names what was made\n", signalName(sig))
				os.Exit(128 + int(sig))
			default:
				stopping = true
				cancel(signalCause{sig})
			}
		}
	}()
	return ctx
}

// stoppedExit turns a run that a signal stopped (the cause of ctx) into its exit code
// (128+N) and message; again says how to go on. Other errors are returned as they are.
func stoppedExit(ctx context.Context, err error, again string) error {
	var stopped *reconcile.StoppedError
	cause, ok := context.Cause(ctx).(signalCause)
	if !ok || !errors.As(err, &stopped) && !errors.Is(err, context.Canceled) {
		return err
	}
	msg := cause.Error() + " before any change; nothing was changed"
	if errors.As(err, &stopped) {
		msg = fmt.Sprintf("%s %s; %s", cause.Error(), stoppedWhere(stopped), again)
	}
	return exitError{code: 128 + int(cause.sig), msg: msg}
}

func stoppedWhere(e *reconcile.StoppedError) string {
	if e.Settling {
		return fmt.Sprintf("after all %d actions, while the kernel was still letting go of what was deleted", e.Total)
	}
	return fmt.Sprintf("after %d of %d actions", e.Done, e.Total)
}

// pipeWriter is standard output as netlab writes to it: once a write fails (the reader
// of a pipe went away), the rest is dropped and the run goes on to its end, so that
// `netlab apply big.yaml | head` still builds the whole lab. Closed says whether that
// happened.
type pipeWriter struct {
	w      io.Writer
	mu     sync.Mutex
	closed bool
}

// Fd is the descriptor of the file written, for telling a terminal; ^0 when it is not
// a file.
func (p *pipeWriter) Fd() uintptr {
	if f, ok := p.w.(*os.File); ok {
		return f.Fd()
	}
	return ^uintptr(0)
}

func (p *pipeWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return len(b), nil
	}
	if _, err := p.w.Write(b); err != nil {
		p.closed = true
	}
	return len(b), nil
}

// Closed reports whether a write to the output failed.
func (p *pipeWriter) Closed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.closed
}
