//go:build linux

package traytest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

const watcherIface = "org.kde.StatusNotifierWatcher"

// Item is a registered StatusNotifierItem.
type Item struct {
	Service string          // bus name of the registering connection
	Path    dbus.ObjectPath // object path of the item
}

// Watcher is a fake tray host.
type Watcher struct {
	conn  *dbus.Conn
	mu    sync.Mutex // guards items and added
	items []Item
	added chan struct{} // closed and replaced on every registration
}

// StartWatcher owns org.kde.StatusNotifierWatcher on addr.
func StartWatcher(t testing.TB, addr string) *Watcher {
	t.Helper()
	conn := Connect(t, addr)
	w := &Watcher{conn: conn, added: make(chan struct{})}
	const path = "/StatusNotifierWatcher"
	if err := conn.Export(w, path, watcherIface); err != nil {
		t.Fatal(err)
	}
	if err := conn.Export(watcherProps{w}, path, "org.freedesktop.DBus.Properties"); err != nil {
		t.Fatal(err)
	}
	own(t, conn, watcherIface)
	return w
}

// Close makes the host go away, as a panel restart does.
func (w *Watcher) Close() { w.conn.Close() }

// RegisterStatusNotifierItem records an item; service is an object path
// (fyne.io/systray sends "/StatusNotifierItem") or a bus name.
func (w *Watcher) RegisterStatusNotifierItem(sender dbus.Sender, service string) *dbus.Error {
	it := Item{Service: string(sender), Path: "/StatusNotifierItem"}
	if strings.HasPrefix(service, "/") {
		it.Path = dbus.ObjectPath(service)
	} else if service != "" {
		it.Service = service
	}
	w.mu.Lock()
	w.items = append(w.items, it)
	added := w.added
	w.added = make(chan struct{})
	w.mu.Unlock()
	w.conn.Emit("/StatusNotifierWatcher", watcherIface+".StatusNotifierItemRegistered", it.Service+string(it.Path))
	close(added)
	return nil
}

// RegisterStatusNotifierHost implements the watcher method.
func (w *Watcher) RegisterStatusNotifierHost(service string) *dbus.Error { return nil }

type watcherProps struct{ w *Watcher }

func (p watcherProps) GetAll(iface string) (map[string]dbus.Variant, *dbus.Error) {
	p.w.mu.Lock()
	defer p.w.mu.Unlock()
	ids := []string{}
	for _, i := range p.w.items {
		ids = append(ids, i.Service+string(i.Path))
	}
	return map[string]dbus.Variant{
		"RegisteredStatusNotifierItems":  dbus.MakeVariant(ids),
		"IsStatusNotifierHostRegistered": dbus.MakeVariant(true),
		"ProtocolVersion":                dbus.MakeVariant(int32(0)),
	}, nil
}

func (p watcherProps) Get(iface, name string) (dbus.Variant, *dbus.Error) {
	all, _ := p.GetAll(iface)
	if v, ok := all[name]; ok {
		return v, nil
	}
	return dbus.Variant{}, dbus.MakeFailedError(fmt.Errorf("no property %s", name))
}

func (p watcherProps) Set(iface, name string, v dbus.Variant) *dbus.Error {
	return dbus.MakeFailedError(fmt.Errorf("property %s is read-only", name))
}

// WaitItem waits until an item has registered and returns the first one.
func (w *Watcher) WaitItem(t testing.TB, timeout time.Duration) Item {
	t.Helper()
	deadline := time.After(timeout)
	for {
		w.mu.Lock()
		ch := w.added
		if len(w.items) > 0 {
			it := w.items[0]
			w.mu.Unlock()
			return it
		}
		w.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no StatusNotifierItem registered within %v", timeout)
		}
	}
}
