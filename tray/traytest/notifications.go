//go:build linux

package traytest

import (
	"sync"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// Notification is one recorded Notify call.
type Notification struct {
	AppName, AppIcon, Summary, Body string
	ReplacesID                      uint32
	Timeout                         int32
}

// Notifications is a fake notification daemon.
type Notifications struct {
	conn       *dbus.Conn
	mu         sync.Mutex // guards the fields below
	got        []Notification
	changed    chan struct{} // closed and replaced on every Notify
	closeAfter bool
}

// StartNotifications owns org.freedesktop.Notifications on addr.
func StartNotifications(t testing.TB, addr string) *Notifications {
	t.Helper()
	conn := Connect(t, addr)
	s := &Notifications{conn: conn, changed: make(chan struct{})}
	const iface = "org.freedesktop.Notifications"
	if err := conn.Export(s, "/org/freedesktop/Notifications", iface); err != nil {
		t.Fatal(err)
	}
	own(t, conn, iface)
	return s
}

// CloseAfterNotify makes the server answer every Notify with a
// NotificationClosed signal sent to the caller only, as dunst does when a
// notification expires.
func (s *Notifications) CloseAfterNotify() {
	s.mu.Lock()
	s.closeAfter = true
	s.mu.Unlock()
}

// Notify implements the daemon method.
func (s *Notifications) Notify(sender dbus.Sender, appName string, replacesID uint32, appIcon, summary, body string,
	actions []string, hints map[string]dbus.Variant, timeout int32) (uint32, *dbus.Error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, Notification{appName, appIcon, summary, body, replacesID, timeout})
	id := uint32(len(s.got))
	close(s.changed)
	s.changed = make(chan struct{})
	if s.closeAfter {
		msg := &dbus.Message{Type: dbus.TypeSignal, Headers: map[dbus.HeaderField]dbus.Variant{
			dbus.FieldPath:        dbus.MakeVariant(dbus.ObjectPath("/org/freedesktop/Notifications")),
			dbus.FieldInterface:   dbus.MakeVariant("org.freedesktop.Notifications"),
			dbus.FieldMember:      dbus.MakeVariant("NotificationClosed"),
			dbus.FieldDestination: dbus.MakeVariant(string(sender)),
			dbus.FieldSignature:   dbus.MakeVariant(dbus.SignatureOf(uint32(0), uint32(0))),
		}, Body: []any{id, uint32(1)}}
		go s.conn.Send(msg, nil)
	}
	return id, nil
}

// GetCapabilities implements the daemon method.
func (s *Notifications) GetCapabilities() ([]string, *dbus.Error) { return []string{"body"}, nil }

// GetServerInformation implements the daemon method.
func (s *Notifications) GetServerInformation() (string, string, string, string, *dbus.Error) {
	return "traytest", "localrouter", "1.0", "1.2", nil
}

// CloseNotification implements the daemon method.
func (s *Notifications) CloseNotification(id uint32) *dbus.Error { return nil }

// All returns every notification received so far.
func (s *Notifications) All() []Notification {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Notification(nil), s.got...)
}

// Wait returns the first notification (old or new) that ok accepts.
func (s *Notifications) Wait(t testing.TB, timeout time.Duration, ok func(Notification) bool) Notification {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		for _, n := range s.got {
			if ok(n) {
				s.mu.Unlock()
				return n
			}
		}
		ch, got := s.changed, append([]Notification(nil), s.got...)
		s.mu.Unlock()
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no matching notification within %v; got %+v", timeout, got)
		}
	}
}
