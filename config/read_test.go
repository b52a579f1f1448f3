package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// specialFile is something other than a good config at a config path.
type specialFile struct {
	name string
	// make creates it at path.
	make func(t *testing.T, path string)
	// want is in the error, as well as the path.
	want string
}

// specialFiles are the things Load and Watch must refuse to read, each of
// which used to exhaust memory, block for ever, or be read whole.
func specialFiles() []specialFile {
	return append([]specialFile{
		{"a directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "not a regular file"},
		{"an oversized file", func(t *testing.T, path string) {
			// Valid YAML, so only the size can reject it.
			data := []byte("server:\n  port: 8080\n" + strings.Repeat("# padding padding padding padding\n", (4<<20)/34+1))
			writeFile(t, path, data)
		}, "larger than 4 MiB"},
	}, unixSpecialFiles()...)
}

func TestLoadRefusesSpecialFiles(t *testing.T) {
	for _, tt := range specialFiles() {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			tt.make(t, path)
			c, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded (port %d), want an error", c.Server.Port)
			}
			checkFileError(t, err, path, tt.want)
		})
	}
}

func TestWatchRefusesSpecialFiles(t *testing.T) {
	for _, tt := range specialFiles() {
		t.Run("replaced by "+tt.name, func(t *testing.T) {
			path, calls := startWatch(t, portConfig(8081))
			// Made beside it, then moved in at once: writing 4 MiB in place
			// could outlast the watcher's grace for a missing file.
			tmp := filepath.Join(filepath.Dir(path), "new")
			tt.make(t, tmp)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(tmp, path); err != nil {
				t.Fatal(err)
			}
			a := next(t, calls)
			if a.err == nil || a.c != nil {
				t.Fatalf("apply got %+v, want only an error", a)
			}
			checkFileError(t, a.err, path, tt.want)
			// A good file afterwards is applied: the watch survived.
			if err := os.RemoveAll(path); err != nil {
				t.Fatal(err)
			}
			writeFile(t, path, portConfig(8082))
			nextPort(t, calls, path, 8082)
		})
		t.Run("there at the start: "+tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			tt.make(t, path)
			calls := watchPath(t, path) // fails if Watch cannot start
			if err := os.RemoveAll(path); err != nil {
				t.Fatal(err)
			}
			writeFile(t, path, portConfig(8082))
			nextPort(t, calls, path, 8082)
		})
	}
}

// checkFileError checks that err is a config error naming path and saying
// want.
func checkFileError(t *testing.T, err error, path, want string) {
	t.Helper()
	var fe *fieldError
	if !errors.As(err, &fe) || fe.file != path {
		t.Errorf("got %v (%T), want a config error for %s", err, err, path)
	}
	if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), want) {
		t.Errorf("got %q, want it to name %s and say %q", err, path, want)
	}
}

// TestReadTimeout: a read stuck in a hung file system gives an error naming
// the file instead of blocking start-up or the watcher for good.
func TestReadTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	stuck := func(string) ([]byte, error) {
		<-release
		return nil, nil
	}
	data, err := readWithin("/mnt/hung/config.yaml", time.Millisecond, stuck)
	if err == nil {
		t.Fatalf("got %q, want a timeout error", data)
	}
	checkFileError(t, err, "/mnt/hung/config.yaml", "took more than 1ms")
}
