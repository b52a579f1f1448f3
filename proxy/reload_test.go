package proxy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/localrouter/localrouter/config"
)

// TestReloadReadsTheFile edits the config with the watcher off, as when it
// cannot see the file: Reload (SIGHUP) applies the edit.
func TestReloadReadsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	write := func(maxBody string) {
		t.Helper()
		yaml := strings.ReplaceAll(oneProvider, "UPSTREAM", "http://127.0.0.1:9/v1") + "server:\n  max_body: " + maxBody + "\n"
		if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("1KiB")
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Config: cfg, Version: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	changes, unsubscribe := s.Subscribe()
	defer unsubscribe()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ln) }()
	defer func() {
		cancel()
		<-done
	}()

	write("2KiB")
	s.Reload()
	guard := time.After(10 * time.Second) // turns a hang into a failure
	for s.state.Load().maxBody != 2048 {
		select {
		case <-changes:
		case <-guard:
			t.Fatalf("max_body is %d after Reload, want 2048", s.state.Load().maxBody)
		}
	}
}
