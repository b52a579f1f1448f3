//go:build unix

package strategy

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Whatever sits at the cache path, start-up neither blocks nor reads
// without bound: anything but a regular file (after symlinks) is ignored.
func TestPollCacheNotRegularIgnored(t *testing.T) {
	tests := []struct {
		name string
		make func(t *testing.T, path string) // puts something at path
	}{
		{name: "fifo", make: func(t *testing.T, path string) {
			if err := syscall.Mkfifo(path, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}},
		{name: "symlink to a fifo", make: func(t *testing.T, path string) {
			fifo := filepath.Join(t.TempDir(), "fifo")
			if err := syscall.Mkfifo(fifo, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
			symlink(t, fifo, path)
		}},
		{name: "symlink to /dev/zero", make: func(t *testing.T, path string) {
			if _, err := os.Stat("/dev/zero"); err != nil {
				t.Skip("no /dev/zero")
			}
			symlink(t, "/dev/zero", path)
		}},
		{name: "directory", make: func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "strategy.json")
			tt.make(t, path)
			var logs pollLogBuffer
			type result struct {
				p   *Poller
				err error
			}
			done := make(chan result, 1)
			go func() {
				p, err := NewPoller(PollerOptions{URL: "http://127.0.0.1:9/s", CachePath: path, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
				done <- result{p, err}
			}()
			var r result
			select {
			case r = <-done:
			case <-time.After(pollWait):
				// Give a blocked open its writer so the goroutine ends.
				if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
					f.Close()
				}
				<-done
				t.Fatal("NewPoller blocked on the cache file")
			}
			if r.err != nil {
				t.Fatalf("got %v, want a poller despite the cache", r.err)
			}
			if got := r.p.Current(); got != nil {
				t.Errorf("got %+v, want no strategy", got)
			}
			if got := r.p.Status().Source; got != SourceConfig {
				t.Errorf("got source %q, want config", got)
			}
			if l := logs.String(); !strings.Contains(l, "ignoring strategy cache") || !strings.Contains(l, "not a regular file") {
				t.Errorf("got logs %q, want the cache ignored as not a regular file", l)
			}
		})
	}
}

// A symlink to a good cache file is followed: only what it points at matters.
func TestPollCacheSymlinkFollowed(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real.json")
	if err := os.WriteFile(real, []byte(pollRemoteJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "strategy.json")
	symlink(t, real, path)
	p := newTestPoller(t, PollerOptions{URL: "http://127.0.0.1:9/s", CachePath: path})
	if got := p.Current(); !sameStrategy(got, pollWantRemote) {
		t.Errorf("got %+v, want the cached %+v", got, pollWantRemote)
	}
}

func symlink(t *testing.T, target, path string) {
	t.Helper()
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}
