//go:build unix

package config

import (
	"os"
	"syscall"
)

// openFlags opens the config for reading. O_NONBLOCK makes opening a FIFO
// return at once instead of waiting for a writer; the mode check that
// follows rejects it. On a regular file it changes nothing.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK
