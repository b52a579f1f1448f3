package config

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// maxFileSize caps what Load and Watch read. A config is a few KiB; the cap
// keeps a path that leads somewhere endless (a huge log, a device that
// slipped past the checks) from exhausting memory.
const maxFileSize = 4 << 20

// readTimeout bounds one read of the config file. Without it a hung network
// mount blocks start-up, or the watcher and with it every later reload, for
// good.
const readTimeout = 10 * time.Second

// readFile returns the content of the config file at path, which must be,
// once symlinks are followed, a regular file of at most maxFileSize bytes.
// A FIFO would block the read until some writer came along, and /dev/zero
// never ends.
func readFile(path string) ([]byte, error) {
	return readWithin(path, readTimeout, readRegular)
}

// readWithin runs read(path) and gives up on it after timeout.
func readWithin(path string, timeout time.Duration, read func(string) ([]byte, error)) ([]byte, error) {
	type result struct {
		data []byte
		err  error
	}
	done := make(chan result, 1) // buffered: a read given up on still finishes
	// Nothing interrupts a system call stuck in a file system, so on a
	// timeout this goroutine is left to finish on its own: it ends, closing
	// the file, when the call returns.
	go func() {
		data, err := read(path)
		done <- result{data, err}
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case r := <-done:
		return r.data, r.err
	case <-t.C:
		return nil, &fieldError{file: path, msg: fmt.Sprintf("reading the file took more than %v; is its file system hung?", timeout)}
	}
}

func readRegular(path string) ([]byte, error) {
	// Stat before opening: opening a FIFO can block, and opening a device
	// can do more than that.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := checkRegular(path, fi); err != nil {
		return nil, err
	}
	// path may have been replaced since the Stat. openFlags makes the open
	// of a FIFO return at once, and the Stat of the open file catches it.
	f, err := os.OpenFile(path, openFlags, 0)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := checkRegular(path, fi); err != nil {
		return nil, err
	}
	// The limit, not the size from Stat, is what counts: the file may grow
	// while it is read.
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if len(data) > maxFileSize {
		return nil, &fieldError{file: path, msg: "the file is larger than 4 MiB, which no config is; is the path right?"}
	}
	return data, nil
}

// checkRegular returns an error unless fi, from path, is a regular file.
func checkRegular(path string, fi fs.FileInfo) error {
	m := fi.Mode()
	if m.IsRegular() {
		return nil
	}
	what := "a special file"
	switch {
	case m.IsDir():
		what = "a directory"
	case m&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case m&fs.ModeSocket != 0:
		what = "a socket"
	case m&fs.ModeDevice != 0:
		what = "a device"
	}
	return &fieldError{file: path, msg: "not a regular file but " + what + "; the config must be a file"}
}
