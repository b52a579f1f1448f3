package main

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
)

type brokenPipe struct{}

func (brokenPipe) Write([]byte) (int, error) { return 0, errors.New("write |1: broken pipe") }

func TestLogSinkKeepsFileWhenStderrFails(t *testing.T) {
	var file bytes.Buffer
	log := slog.New(slog.NewTextHandler(logSink{brokenPipe{}, &file}, nil))
	log.Info("one")
	log.Info("two")
	if got := strings.Count(file.String(), "msg="); got != 2 {
		t.Errorf("log file got %d lines, want 2:\n%s", got, file.String())
	}
}

// slowWriter is a log destination that blocks until released.
type slowWriter struct {
	release chan struct{}
	mu      sync.Mutex
	b       bytes.Buffer
}

func (w *slowWriter) Write(p []byte) (int, error) {
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// TestLogBufferNeverBlocksAndKeepsEverything: 10,000 lines from many
// goroutines while the destination is stuck all return at once; released,
// every line is written, in each writer's order, by Close.
func TestLogBufferNeverBlocksAndKeepsEverything(t *testing.T) {
	w := &slowWriter{release: make(chan struct{})}
	lb := newLogBuffer(w)
	log := slog.New(slog.NewTextHandler(lb, nil))
	var wg sync.WaitGroup
	for g := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				log.Info("request", "g", g, "i", i)
			}
		}()
	}
	wg.Wait() // returns although nothing could be written yet
	close(w.release)
	lb.Close()
	lines := strings.Split(strings.TrimSpace(w.b.String()), "\n")
	if len(lines) != 10000 {
		t.Fatalf("%d lines written, want 10000", len(lines))
	}
	next := map[string]int{}
	for _, l := range lines {
		f := strings.Fields(l)
		g, i := f[len(f)-2], f[len(f)-1]
		if want := fmt.Sprintf("i=%d", next[g]); i != want {
			t.Fatalf("%s: %s came where %s should", g, i, want)
		}
		next[g]++
	}
	log.Info("after close") // written through, not lost
	if !strings.Contains(w.b.String(), "after close") {
		t.Error("a line logged after Close was lost")
	}
}

// TestLogBufferDropsBeyondItsBound: a destination stuck for good costs at
// most the bound in memory; the lines beyond it are counted and the count
// is logged once the destination takes lines again.
func TestLogBufferDropsBeyondItsBound(t *testing.T) {
	w := &slowWriter{release: make(chan struct{})}
	lb := newLogBuffer(w)
	line := []byte(strings.Repeat("x", 1023) + "\n")
	n := 2 * maxBuffered / len(line)
	for range n {
		lb.Write(line)
	}
	close(w.release)
	lb.Close()
	out := w.b.String()
	kept := strings.Count(out, "xxx\n")
	if kept == 0 || kept >= n {
		t.Fatalf("%d of %d lines kept, want some dropped and some kept", kept, n)
	}
	if !strings.Contains(out, "log lines dropped") || !strings.Contains(out, fmt.Sprintf("dropped=%d", n-kept)) {
		t.Errorf("no line says %d were dropped:\n%s", n-kept, out[len(out)-300:])
	}
}
