//go:build (linux || freebsd || openbsd || netbsd) && !android

package tray

import (
	"errors"
	"log/slog"

	"fyne.io/systray"
	"github.com/godbus/dbus/v5"
)

// presets says the item's icon, title and tooltip are set before
// systray.Run (see prepare), not in onReady.
const presets = true

const watcherName = "org.kde.StatusNotifierWatcher"

// checkHost reports whether a tray can exist at all: there must be a session
// bus, because systray.Quit panics when there was none at start-up. A bus
// without a tray host is only worth a warning: keepRegistered shows the icon
// once a host starts.
func checkHost(log *slog.Logger) error {
	conn, err := dbus.SessionBus()
	if err != nil {
		return errors.Join(ErrNoTray, err)
	}
	var has bool
	if err := conn.BusObject().Call("org.freedesktop.DBus.NameHasOwner", 0, watcherName).Store(&has); err == nil && !has {
		log.Warn("no tray host is running yet: the icon appears when one starts")
	}
	return nil
}

// prepare works around fyne.io/systray v1.12.2's D-Bus backend; call it
// before systray.Run.
func prepare(log *slog.Logger, icon []byte, title, tooltip string) {
	// Set in onReady, these are lost in ~3% of starts: the setters can land
	// between the library snapshotting and publishing the item's properties
	// (fyne-io/systray#35). Before Run they only store the values.
	systray.SetIcon(icon)
	systray.SetTitle(title)
	systray.SetTooltip(tooltip)
	keepRegistered(log)
}

// keepRegistered registers the item with every tray host
// (StatusNotifierWatcher) that appears. systray does this too, but it
// subscribes only after its first failed attempt (a host starting just after
// the app, as at login, is missed), and its loop ends for good on the first
// signal with fewer than three arguments on the shared session connection,
// such as the NotificationClosed a notification daemon sends: after that a
// panel restart left no icon.
func keepRegistered(log *slog.Logger) {
	conn, err := dbus.SessionBus() // the connection systray exports the item on
	if err != nil {
		return
	}
	err = conn.AddMatchSignal(
		dbus.WithMatchSender("org.freedesktop.DBus"),
		dbus.WithMatchObjectPath("/org/freedesktop/DBus"),
		dbus.WithMatchInterface("org.freedesktop.DBus"),
		dbus.WithMatchMember("NameOwnerChanged"),
		dbus.WithMatchArg(0, watcherName),
	)
	if err != nil {
		log.Warn("tray: cannot watch for tray hosts", "err", err)
		return
	}
	ch := make(chan *dbus.Signal, 16)
	conn.Signal(ch)
	// Runs until the connection closes at exit, which closes ch.
	go func() {
		for sig := range ch {
			if sig.Name != "org.freedesktop.DBus.NameOwnerChanged" || len(sig.Body) != 3 {
				continue // every signal of the connection arrives here
			}
			name, _ := sig.Body[0].(string)
			owner, _ := sig.Body[2].(string)
			if name != watcherName || owner == "" {
				continue
			}
			call := conn.Object(watcherName, "/StatusNotifierWatcher").
				Call(watcherName+".RegisterStatusNotifierItem", 0, "/StatusNotifierItem")
			if call.Err != nil {
				log.Warn("tray: cannot register with the new tray host", "err", call.Err)
			}
		}
	}()
}
