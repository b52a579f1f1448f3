package main

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// logSink writes each log line to stderr and to the log file independently.
// io.MultiWriter stops at the first failing writer, so a stderr whose reader
// went away (`localrouter | tee`, a restarting log shipper, a closed
// terminal) would also end file logging.
type logSink struct {
	stderr, file io.Writer
}

// Write reports only the file's error: a dead stderr is the case this type
// exists for, and the file is the log that is kept.
func (s logSink) Write(p []byte) (int, error) {
	s.stderr.Write(p)
	return s.file.Write(p)
}

// logBuffer takes log lines off the request path: Write appends to memory
// and one goroutine writes them out, so a request never waits for a disk
// or a terminal (two synchronous writes per request were the largest cost
// of the log line under load, issue 16). Lines keep their order. It is
// bounded: beyond maxBuffered unwritten bytes lines are dropped and
// counted, and the count is logged when the writer catches up. Close
// writes everything still held, so a clean shutdown loses nothing; a crash
// loses at most what arrived since the last write, a few milliseconds.
type logBuffer struct {
	out     io.Writer
	mu      sync.Mutex
	buf     []byte
	dropped int
	closed  bool
	wake    chan struct{} // 1-buffered: lines are waiting
	done    chan struct{}
}

const maxBuffered = 4 << 20

func newLogBuffer(out io.Writer) *logBuffer {
	b := &logBuffer{out: out, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go b.run()
	return b
}

// Write never blocks on out. slog's handlers call it once per record.
func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	switch {
	case b.closed:
		// After Close (a deferred log line): write through.
		b.mu.Unlock()
		return b.out.Write(p)
	case len(b.buf)+len(p) > maxBuffered:
		b.dropped++
		b.mu.Unlock()
		return len(p), nil
	default:
		b.buf = append(b.buf, p...)
	}
	select { // under the lock: Close closes wake under it too
	case b.wake <- struct{}{}:
	default:
	}
	b.mu.Unlock()
	return len(p), nil
}

// logEvery spaces the writer's turns: a line wakes it, and the lines of
// the next few milliseconds wait for its next turn rather than wake it
// each, which under load was a wakeup of another thread per request.
const logEvery = 10 * time.Millisecond

func (b *logBuffer) run() {
	defer close(b.done)
	var spare []byte
	for range b.wake {
		spare = b.flush(spare)
		time.Sleep(logEvery)
	}
}

// flush writes what is held, swapping buffers so that writers append to
// the other one meanwhile; it returns the emptied buffer for the next swap.
func (b *logBuffer) flush(spare []byte) []byte {
	b.mu.Lock()
	out, dropped := b.buf, b.dropped
	b.buf, b.dropped = spare[:0], 0
	b.mu.Unlock()
	if len(out) > 0 {
		b.out.Write(out)
	}
	if dropped > 0 {
		fmt.Fprintf(b.out, "time=%s level=WARN msg=\"log lines dropped: the log could not be written as fast as they came\" dropped=%d\n",
			time.Now().Format(time.RFC3339Nano), dropped)
	}
	if cap(out) > 64<<10 {
		return nil // let a burst's buffer go
	}
	return out
}

// Close writes out every line held and makes later writes synchronous.
func (b *logBuffer) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.wake)
	b.mu.Unlock()
	<-b.done
	b.flush(nil)
	return nil
}
