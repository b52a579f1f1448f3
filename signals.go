package main

import (
	"os"
	"os/signal"
	"syscall"
)

// survivePipeErrors keeps a write to a broken stdout or stderr pipe from
// killing the process: Go's runtime dies of SIGPIPE on fds 1 and 2 unless the
// signal is notified (os/signal, "SIGPIPE"); the write then fails with EPIPE,
// as writes to sockets and other fds always do. Notify rather than
// signal.Ignore, because an ignored SIGPIPE is inherited by the programs the
// tray starts (xdg-open, notify-send), which expect the default.
func survivePipeErrors() {
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
}
