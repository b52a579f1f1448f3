package tray

import (
	"errors"
	"io/fs"

	"github.com/emersion/go-autostart"
)

// launcher manages launch at login for one command line.
type launcher struct {
	exec []string // absolute executable path, then its arguments
}

// app builds a fresh autostart.App for every call: its Enable quotes
// App.Exec in place, so a reused value would be quoted twice.
func (l launcher) app() *autostart.App {
	return &autostart.App{
		Name:        "localrouter",
		DisplayName: appName,
		Exec:        append([]string(nil), l.exec...),
	}
}

// enabled reports whether the login entry exists on disk.
func (l launcher) enabled() bool { return len(l.exec) > 0 && l.app().IsEnabled() }

// set writes or removes the login entry.
func (l launcher) set(on bool) error {
	if len(l.exec) == 0 {
		return errors.New("launch at login: executable path unknown")
	}
	if on {
		return l.app().Enable()
	}
	if err := l.app().Disable(); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
