package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// waitFor bounds every wait for something that should happen. It is
// generous because the machine running the tests may be busy; a passing
// test never waits this long.
const waitFor = 10 * time.Second

// quietFor is how long a test watches for calls that should not come: well
// beyond quietPeriod, so a reload that was wrongly triggered has happened.
const quietFor = 400 * time.Millisecond

// applied is one call of Watch's apply.
type applied struct {
	c   *Config
	err error
}

// portConfig is a valid config that differs from others by its port.
func portConfig(port int) []byte {
	return fmt.Appendf(nil, "server:\n  port: %d\n", port)
}

// writeFile writes data to path in place, as os.WriteFile does: truncate,
// then write.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// saveAtomic saves data to path as editors and Ensure do: a temporary file
// in the same directory renamed over path.
func saveAtomic(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.CreateTemp(filepath.Dir(path), ".watch-*.tmp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		t.Fatal(err)
	}
}

// startWatch writes initial to a new config file, watches it until the test
// ends, and returns the file's path and the calls of apply. It returns once
// the watch is in place.
func startWatch(t *testing.T, initial []byte) (string, <-chan applied) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, path, initial)
	return path, watchPath(t, path)
}

// watchPath watches path until the test ends and returns the calls of
// apply, once the watch is in place.
func watchPath(t *testing.T, path string) <-chan applied {
	t.Helper()
	return watchWith(t, path, watchHooks{})
}

// watchWith is watchPath with hooks; it sets h.ready itself.
func watchWith(t *testing.T, path string, h watchHooks) <-chan applied {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	calls := make(chan applied, 16)
	ready := make(chan struct{})
	done := make(chan error, 1)
	h.ready = func() { close(ready) }
	go func() {
		done <- watch(ctx, path, func(c *Config, err error) {
			calls <- applied{c, err}
		}, h)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("Watch returned %v, want context.Canceled", err)
			}
		case <-time.After(waitFor):
			t.Errorf("Watch did not return after cancel")
		}
	})
	select {
	case <-ready:
	case err := <-done:
		t.Fatalf("Watch returned %v before watching", err)
	case <-time.After(waitFor):
		t.Fatal("Watch did not start")
	}
	return calls
}

// next returns the next call of apply.
func next(t *testing.T, calls <-chan applied) applied {
	t.Helper()
	select {
	case a := <-calls:
		return a
	case <-time.After(waitFor):
		t.Fatal("apply was not called")
		return applied{}
	}
}

// nextPort waits for apply to be called with a config and checks its port.
func nextPort(t *testing.T, calls <-chan applied, path string, port int) {
	t.Helper()
	a := next(t, calls)
	if a.err != nil {
		t.Fatalf("apply got error %v, want port %d", a.err, port)
	}
	if a.c.Server.Port != port || a.c.Path != path {
		t.Fatalf("apply got port %d, path %q; want %d, %q", a.c.Server.Port, a.c.Path, port, path)
	}
}

// noCall checks that apply is not called for a while.
func noCall(t *testing.T, calls <-chan applied) {
	t.Helper()
	select {
	case a := <-calls:
		t.Fatalf("apply called with %+v, want no call", a)
	case <-time.After(quietFor):
	}
}

func TestWatchEditInPlace(t *testing.T) {
	path, calls := startWatch(t, portConfig(8081))
	writeFile(t, path, portConfig(8082))
	nextPort(t, calls, path, 8082)
	writeFile(t, path, portConfig(8083))
	nextPort(t, calls, path, 8083)
}

func TestWatchAtomicSave(t *testing.T) {
	path, calls := startWatch(t, portConfig(8081))
	saveAtomic(t, path, portConfig(8082))
	nextPort(t, calls, path, 8082)
	// The file is a new inode now; the watch must still see it.
	saveAtomic(t, path, portConfig(8083))
	nextPort(t, calls, path, 8083)
	writeFile(t, path, portConfig(8084))
	nextPort(t, calls, path, 8084)
}

func TestWatchBrokenThenFixed(t *testing.T) {
	path, calls := startWatch(t, portConfig(8081))
	writeFile(t, path, []byte("server:\n  port: 8082\n  host: a: b\n"))
	a := next(t, calls)
	if a.err == nil || a.c != nil {
		t.Fatalf("apply got %+v, want only an error", a)
	}
	if want := path + ":3"; !strings.Contains(a.err.Error(), want) {
		t.Errorf("error %q does not name %s", a.err, want)
	}

	// The same error from new content is not reported again.
	writeFile(t, path, []byte("server:\n  port: 8082\n  host: a: b\n# still broken\n"))
	noCall(t, calls)

	writeFile(t, path, portConfig(8083))
	nextPort(t, calls, path, 8083)
}

func TestWatchRevertAfterError(t *testing.T) {
	// The caller kept 8081 through the error, but must still hear that the
	// file is good again.
	path, calls := startWatch(t, portConfig(8081))
	writeFile(t, path, []byte("server: [\n"))
	if a := next(t, calls); a.err == nil {
		t.Fatalf("apply got %+v, want an error", a)
	}
	writeFile(t, path, portConfig(8081))
	nextPort(t, calls, path, 8081)
}

func TestWatchDebounce(t *testing.T) {
	path, calls := startWatch(t, portConfig(8081))
	for port := 8082; port <= 8086; port++ {
		writeFile(t, path, portConfig(port))
	}
	saveAtomic(t, path, portConfig(8087))
	nextPort(t, calls, path, 8087)
	noCall(t, calls)
}

func TestWatchIdenticalContent(t *testing.T) {
	path, calls := startWatch(t, portConfig(8081))
	// Rewriting what Watch found at the start changes nothing.
	writeFile(t, path, portConfig(8081))
	noCall(t, calls)

	// Positive control: the watch is working.
	writeFile(t, path, portConfig(8082))
	nextPort(t, calls, path, 8082)

	writeFile(t, path, portConfig(8082))
	saveAtomic(t, path, portConfig(8082))
	now := time.Now()
	if err := os.Chtimes(path, now, now); err != nil {
		t.Fatal(err)
	}
	noCall(t, calls)

	// Had the rewrites called apply late, that call would come first.
	writeFile(t, path, portConfig(8083))
	nextPort(t, calls, path, 8083)
}

func TestWatchRemoveRecreate(t *testing.T) {
	path, calls := startWatch(t, portConfig(8081))
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, portConfig(8082))
	nextPort(t, calls, path, 8082)
	noCall(t, calls)
}

func TestWatchMissing(t *testing.T) {
	path, calls := startWatch(t, portConfig(8081))
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	a := next(t, calls)
	if !errors.Is(a.err, fs.ErrNotExist) || a.c != nil {
		t.Fatalf("apply got %+v, want only fs.ErrNotExist", a)
	}
	if !strings.Contains(a.err.Error(), path) {
		t.Errorf("error %q does not name %s", a.err, path)
	}
	noCall(t, calls) // reported once

	// Back with its old content, which is news after the error.
	writeFile(t, path, portConfig(8081))
	nextPort(t, calls, path, 8081)
}

func TestWatchEmptyFile(t *testing.T) {
	for _, tt := range emptyFiles {
		t.Run(tt.name, func(t *testing.T) {
			path, calls := startWatch(t, portConfig(8081))
			writeFile(t, path, []byte(tt.content))
			a := next(t, calls)
			if a.err == nil || a.c != nil {
				t.Fatalf("apply got %+v, want only an error", a)
			}
			if want := "config " + path + ": the file has no settings"; !strings.HasPrefix(a.err.Error(), want) {
				t.Errorf("got %q, want it to start %q", a.err, want)
			}
			writeFile(t, path, portConfig(8082))
			nextPort(t, calls, path, 8082)
		})
	}
}

// TestWatchTruncateThenWrite: a save in place truncates the file and then
// writes it. A reload that falls between the two finds no settings; it must
// wait for the write rather than reject the file.
func TestWatchTruncateThenWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, path, portConfig(8081))
	waiting := make(chan struct{}, 1)
	calls := watchWith(t, path, watchHooks{waiting: func() { waiting <- struct{}{} }})
	writeFile(t, path, nil)
	select {
	case <-waiting: // the empty file has been read
	case a := <-calls:
		t.Fatalf("apply called with %+v for a file just truncated", a)
	case <-time.After(waitFor):
		t.Fatal("the truncated file was not read")
	}
	// Renamed in, so that no reload can find the file empty again.
	saveAtomic(t, path, portConfig(8082))
	nextPort(t, calls, path, 8082)
}

func TestWatchSymlinkSwap(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symlinks need privileges on Windows")
	}
	// The layout of a Kubernetes ConfigMap volume: config.yaml ->
	// ..data/config.yaml, ..data -> a timestamped directory, swapped by
	// renaming a new symlink over ..data.
	dir := t.TempDir()
	mkdata := func(name string, port int) {
		t.Helper()
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name, "config.yaml"), portConfig(port))
	}
	link := func(target, name string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	mkdata("..v1", 8081)
	link("..v1", "..data")
	link("..data/config.yaml", "config.yaml")
	path := filepath.Join(dir, "config.yaml")
	calls := watchPath(t, path)

	mkdata("..v2", 8082)
	link("..v2", "..data_tmp")
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	// No event names config.yaml: only the new target tells.
	nextPort(t, calls, path, 8082)
	if err := os.RemoveAll(filepath.Join(dir, "..v1")); err != nil {
		t.Fatal(err)
	}
	noCall(t, calls)

	// An edit in place of the file the symlinks lead to.
	writeFile(t, filepath.Join(dir, "..v2", "config.yaml"), portConfig(8083))
	nextPort(t, calls, path, 8083)
}

func TestWatchCancel(t *testing.T) {
	defer goleak.VerifyNone(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	writeFile(t, path, portConfig(8081))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := make(chan applied, 16)
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- watch(ctx, path, func(c *Config, err error) {
			calls <- applied{c, err}
		}, watchHooks{ready: func() { close(ready) }})
	}()
	<-ready
	writeFile(t, path, portConfig(8082))
	nextPort(t, calls, path, 8082)
	// Cancel with a reload pending, so the timer is running too.
	writeFile(t, path, portConfig(8083))
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Watch returned %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second): // a guard against a hang, not a timing check
		t.Fatal("Watch did not return within 10s of cancel")
	}
}

func TestWatchSetupError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "config.yaml")
	done := make(chan error, 1)
	go func() {
		done <- Watch(context.Background(), path, func(*Config, error) {
			t.Error("apply called")
		})
	}()
	select {
	case err := <-done:
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Watch returned %v, want fs.ErrNotExist", err)
		}
	case <-time.After(waitFor):
		t.Fatal("Watch did not return a setup error")
	}
}
