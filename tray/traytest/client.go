//go:build linux

package traytest

import (
	"fmt"
	"testing"
	"time"

	"github.com/godbus/dbus/v5"
)

// Client reads a StatusNotifierItem and its menu, as a tray host does.
type Client struct {
	conn    *dbus.Conn
	item    Item
	signals chan *dbus.Signal
}

// NewClient subscribes to every signal the item's connection emits, so
// WaitFor re-checks its condition as soon as something changes.
func NewClient(t testing.TB, addr string, item Item) *Client {
	t.Helper()
	conn := Connect(t, addr)
	c := &Client{conn: conn, item: item, signals: make(chan *dbus.Signal, 256)}
	if err := conn.AddMatchSignal(dbus.WithMatchSender(item.Service)); err != nil {
		t.Fatal(err)
	}
	conn.Signal(c.signals)
	return c
}

func (c *Client) prop(name string) (dbus.Variant, error) {
	return c.conn.Object(c.item.Service, c.item.Path).GetProperty("org.kde.StatusNotifierItem." + name)
}

// Title returns the item's Title, or the error text.
func (c *Client) Title() string {
	v, err := c.prop("Title")
	if err != nil {
		return "<error: " + err.Error() + ">"
	}
	s, _ := v.Value().(string)
	return s
}

// Pixmap is one icon image, ARGB32 in network byte order.
type Pixmap struct {
	W, H int32
	Pix  []byte
}

// ToolTip is the item's tooltip.
type ToolTip struct {
	IconName    string
	Icons       []Pixmap
	Title, Body string
}

// ToolTip returns the item's tooltip.
func (c *Client) ToolTip() (tt ToolTip, err error) {
	v, err := c.prop("ToolTip")
	if err == nil {
		err = v.Store(&tt)
	}
	return tt, err
}

// IconPixmap returns the item's icon images.
func (c *Client) IconPixmap() (px []Pixmap, err error) {
	v, err := c.prop("IconPixmap")
	if err == nil {
		err = v.Store(&px)
	}
	return px, err
}

// Node is one menu entry.
type Node struct {
	ID       int32
	Props    map[string]dbus.Variant
	Children []Node
}

// Label is the entry's label.
func (n Node) Label() string { s, _ := n.Props["label"].Value().(string); return s }

// Type is "separator" or "" for a normal entry.
func (n Node) Type() string { s, _ := n.Props["type"].Value().(string); return s }

// Enabled reports whether the entry is enabled (absent means true).
func (n Node) Enabled() bool {
	if v, ok := n.Props["enabled"]; ok {
		b, _ := v.Value().(bool)
		return b
	}
	return true
}

// Checkable reports whether the entry is a checkbox.
func (n Node) Checkable() bool {
	s, _ := n.Props["toggle-type"].Value().(string)
	return s == "checkmark"
}

// Checked reports whether the entry's checkmark is on.
func (n Node) Checked() bool { i, _ := n.Props["toggle-state"].Value().(int32); return i == 1 }

// Visible reports whether the entry is shown (absent means true).
func (n Node) Visible() bool {
	if v, ok := n.Props["visible"]; ok {
		b, _ := v.Value().(bool)
		return b
	}
	return true
}

// Find returns the first entry labelled label.
func (n Node) Find(label string) (Node, bool) {
	if n.Label() == label {
		return n, true
	}
	for _, ch := range n.Children {
		if m, ok := ch.Find(label); ok {
			return m, true
		}
	}
	return Node{}, false
}

func (c *Client) menuObject() (dbus.BusObject, error) {
	v, err := c.prop("Menu")
	if err != nil {
		return nil, err
	}
	p, ok := v.Value().(dbus.ObjectPath)
	if !ok {
		return nil, fmt.Errorf("Menu property is %s", v.Signature())
	}
	return c.conn.Object(c.item.Service, p), nil
}

// Menu fetches the whole menu with GetLayout(0, -1, []).
func (c *Client) Menu() (Node, error) {
	obj, err := c.menuObject()
	if err != nil {
		return Node{}, err
	}
	var rev uint32
	var raw struct {
		ID       int32
		Props    map[string]dbus.Variant
		Children []dbus.Variant
	}
	if err := obj.Call("com.canonical.dbusmenu.GetLayout", 0, int32(0), int32(-1), []string{}).Store(&rev, &raw); err != nil {
		return Node{}, err
	}
	return toNode(raw.ID, raw.Props, raw.Children)
}

func toNode(id int32, props map[string]dbus.Variant, kids []dbus.Variant) (Node, error) {
	n := Node{ID: id, Props: props}
	for _, k := range kids {
		f, ok := k.Value().([]any)
		if !ok || len(f) != 3 {
			return n, fmt.Errorf("unexpected menu child %s", k.Signature())
		}
		cid, _ := f[0].(int32)
		cp, _ := f[1].(map[string]dbus.Variant)
		cc, _ := f[2].([]dbus.Variant)
		child, err := toNode(cid, cp, cc)
		if err != nil {
			return n, err
		}
		n.Children = append(n.Children, child)
	}
	return n, nil
}

// Click sends the dbusmenu "clicked" event, as a tray host does. A click
// that quits the app may close its connection before the reply: NoReply is
// not a failure.
func (c *Client) Click(id int32) error {
	obj, err := c.menuObject()
	if err != nil {
		return err
	}
	err = obj.Call("com.canonical.dbusmenu.Event", 0, id, "clicked",
		dbus.MakeVariant(int32(0)), uint32(time.Now().Unix())).Err
	if e, ok := err.(dbus.Error); ok && e.Name == "org.freedesktop.DBus.Error.NoReply" {
		return nil
	}
	return err
}

// ClickLabel clicks the entry labelled label.
func (c *Client) ClickLabel(t testing.TB, label string) {
	t.Helper()
	m, err := c.Menu()
	if err != nil {
		t.Fatal(err)
	}
	n, ok := m.Find(label)
	if !ok {
		t.Fatalf("no menu entry %q", label)
	}
	if err := c.Click(n.ID); err != nil {
		t.Fatalf("click %q: %v", label, err)
	}
}

// WaitFor re-evaluates cond whenever the item emits a signal (and every
// 100 ms) until it holds; cond describes what it saw for the failure message.
func (c *Client) WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.After(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ok, seen := cond()
		if ok {
			return
		}
		select {
		case <-c.signals:
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out after %v waiting for %s; last seen: %s", timeout, what, seen)
		}
	}
}
