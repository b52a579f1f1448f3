package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
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

// textLine is what slog's TextHandler writes for r.
func textLine(t testing.TB, r slog.Record) string {
	var buf bytes.Buffer
	if err := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}).Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func fastLine(t testing.TB, r slog.Record) string {
	var buf bytes.Buffer
	if err := newLineHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}).Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func TestLineHandlerWritesWhatTextHandlerWrites(t *testing.T) {
	at := time.Date(2026, 12, 4, 19, 38, 54, 120_000_000, time.FixedZone("CET", 3600))
	records := []slog.Record{}
	add := func(tm time.Time, level slog.Level, msg string, attrs ...slog.Attr) {
		r := slog.NewRecord(tm, level, msg, 0)
		r.AddAttrs(attrs...)
		records = append(records, r)
	}
	// The request line as proxy/reqlog.go writes it.
	add(at, slog.LevelInfo, "request", slog.String("path", "/v1/chat/completions"), slog.String("endpoint", "chat"),
		slog.Int("status", 200), slog.Bool("stream", true), slog.Duration("latency", 1234567*time.Nanosecond),
		slog.Int64("overhead_us", 41), slog.String("route", "local/ollama/qwen3-coder:30b (rule: tools)"),
		slog.String("client", "claude-code"), slog.String("session", "0b3c…"), slog.Int("prompt_tokens", 1200),
		slog.Int("completion_tokens", 33), slog.Int("chunks", 34), slog.String("err", `upstream said "no"`))
	for _, s := range []string{"", " ", "a=b", `back\slash`, "tab\there", "new\nline", "\x7f", "\x00", "café", "☕ 😀",
		"\u2028", "\u00a0", "\u200b", "\xff", "x\xc3", "ok"} {
		add(at, slog.LevelWarn, s, slog.String(s+"k", s), slog.String("v", s))
	}
	for _, d := range []time.Duration{0, 1, 999, 1500 * time.Microsecond, -3 * time.Second, 90 * time.Hour} {
		add(at, slog.LevelDebug, "d", slog.Duration("d", d), slog.Float64("f", float64(d)/7), slog.Uint64("u", uint64(d)))
	}
	for _, l := range []slog.Level{slog.LevelDebug - 2, slog.LevelInfo + 1, slog.LevelError + 4} {
		add(at, l, "levels", slog.Bool("b", false))
	}
	for _, tm := range []time.Time{at.Add(999_999_999), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC), time.Now()} {
		add(tm, slog.LevelInfo, "times")
	}
	// What the fast path leaves to the TextHandler, which must still get it right.
	add(time.Time{}, slog.LevelInfo, "no time", slog.Int("n", 1))
	add(at, slog.LevelInfo, "any", slog.Any("err", errors.New("boom")), slog.Time("t", at))
	add(at, slog.LevelInfo, "group", slog.Group("g", slog.Int("a", 1)), slog.String("", "empty key"))
	for _, r := range records {
		if got, want := fastLine(t, r), textLine(t, r); got != want {
			t.Errorf("lineHandler wrote\n%q\nTextHandler writes\n%q", got, want)
		}
	}
}

func TestLineHandlerDerivedLoggers(t *testing.T) {
	var fast, text bytes.Buffer
	lf := slog.New(newLineHandler(&fast, nil)).With("component", "tray").WithGroup("g")
	lt := slog.New(slog.NewTextHandler(&text, nil)).With("component", "tray").WithGroup("g")
	lf.Info("hi", "n", 1)
	lt.Info("hi", "n", 1)
	// The times differ by the calls' moments; the rest must not.
	cut := func(s string) string { _, rest, _ := strings.Cut(s, " "); return rest }
	if cut(fast.String()) != cut(text.String()) || !strings.Contains(fast.String(), "component=tray g.n=1") {
		t.Errorf("derived logger wrote %q, TextHandler %q", fast.String(), text.String())
	}
	if slog.New(newLineHandler(&fast, &slog.HandlerOptions{Level: slog.LevelWarn})).Enabled(context.Background(), slog.LevelInfo) {
		t.Error("the level option is ignored")
	}
}

// Options the hand-written line knows nothing of leave the line to the
// TextHandler.
func TestLineHandlerOptionsItCannotWrite(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(newLineHandler(&buf, &slog.HandlerOptions{AddSource: true}))
	l.Info("hi", "n", 1)
	if !strings.Contains(buf.String(), "source=") {
		t.Errorf("AddSource: got %q, want a source", buf.String())
	}
	buf.Reset()
	upper := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == "n" {
			a.Key = "N"
		}
		return a
	}
	slog.New(newLineHandler(&buf, &slog.HandlerOptions{ReplaceAttr: upper})).Info("hi", "n", 1)
	if !strings.Contains(buf.String(), " N=1") {
		t.Errorf("ReplaceAttr: got %q, want N=1", buf.String())
	}
}

func FuzzLineHandler(f *testing.F) {
	f.Add("request", "path", "/v1/chat/completions", int64(200), uint64(7), 0.5, true, int64(1234567), 0, int64(1764877134120000000))
	f.Add("", "", "", int64(-1), uint64(0), -0.0, false, int64(-1), -4, int64(0))
	f.Add("a b", "k=v", "\"q\"\n\xff", int64(1)<<62, ^uint64(0), 1e300, false, int64(1)<<62, 12, int64(-62135596800000000))
	f.Fuzz(func(t *testing.T, msg, key, s string, n int64, u uint64, fl float64, b bool, d int64, level int, unixNano int64) {
		r := slog.NewRecord(time.Unix(0, unixNano).In(time.FixedZone("", (level%24)*3600)), slog.Level(level), msg, 0)
		r.AddAttrs(slog.String(key, s), slog.Int64("n", n), slog.Uint64(key+"u", u), slog.Float64("f", fl), slog.Bool("b", b),
			slog.Duration("d", time.Duration(d)), slog.String(s, msg))
		if got, want := fastLine(t, r), textLine(t, r); got != want {
			t.Errorf("lineHandler wrote\n%q\nTextHandler writes\n%q", got, want)
		}
	})
}

// BenchmarkRequestLine writes proxy/reqlog.go's request line through the
// TextHandler and through lineHandler (go test -run - -bench RequestLine .).
func BenchmarkRequestLine(b *testing.B) {
	r := slog.NewRecord(time.Now(), slog.LevelInfo, "request", 0)
	r.AddAttrs(slog.String("path", "/v1/chat/completions"), slog.String("endpoint", "chat"), slog.Int("status", 200),
		slog.Bool("stream", false), slog.Duration("latency", 1234567*time.Nanosecond), slog.Int64("overhead_us", 41),
		slog.String("route", "remote:openai/gpt-4o-mini (default)"), slog.String("client", "claude-code"),
		slog.Int("prompt_tokens", 1200), slog.Int("completion_tokens", 33))
	for _, h := range []struct {
		name string
		h    slog.Handler
	}{
		{"TextHandler", slog.NewTextHandler(io.Discard, nil)},
		{"lineHandler", newLineHandler(io.Discard, nil)},
	} {
		b.Run(h.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h.h.Handle(context.Background(), r)
			}
		})
	}
}
