package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/localrouter/localrouter/proxy"
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

// reloadOnHangup reloads the config on SIGHUP, as nginx does: a manual
// trigger for when the file watcher cannot see an edit, and no longer a
// signal that kills the gateway mid-stream. It stops reloading when ctx
// ends but keeps the signal caught, so a SIGHUP while streams drain does
// not cut them.
func reloadOnHangup(ctx context.Context, srv *proxy.Server) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for {
			select {
			case <-hup:
				srv.Reload()
			case <-ctx.Done():
				return
			}
		}
	}()
}
