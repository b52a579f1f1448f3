package strategy

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// readRegularFile reads the file at path, following symlinks, if it is a
// regular file of at most max bytes. Anything else is an error, never a wait:
// the cache is read at start-up, where a FIFO would block forever and a
// device could feed data without end.
func readRegularFile(path string, max int64) ([]byte, error) {
	// Opening a FIFO that has no writer blocks unless O_NONBLOCK; on a
	// regular file the flag changes nothing. (Windows ignores it and has
	// no FIFOs at a path.)
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// The opened file is checked, not the path, so a swap between the
	// check and the read cannot slip a FIFO or device in.
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", describeMode(fi.Mode()))
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return b, nil
}

// describeMode names the kind of file m is, for an error.
func describeMode(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "mode " + m.String()
}
