package tray

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"fyne.io/systray"
	"github.com/gen2brain/beeep"
)

// ErrNoTray means no tray can be shown (no D-Bus session bus on Linux);
// the caller keeps serving without one.
var ErrNoTray = errors.New("tray: no session bus: running without a tray")

// Options configure Run.
type Options struct {
	// Logger gets the tray's warnings; default slog.Default().
	Logger *slog.Logger
	// LogPath is the file "Open log" opens.
	LogPath string
	// LaunchArgs follow the executable's absolute path in the launch-at-login
	// entry, e.g. ["--config", "/path/config.yaml"]; default none.
	LaunchArgs []string
	// Notify shows a desktop notification; default beeep.Notify.
	Notify func(title, body string) error
	// Open opens a file with the user's default application; default
	// xdg-open, open, or the Windows shell.
	Open func(path string) error
	// Copy puts text on the clipboard; default the platform's clipboard tool.
	Copy func(text string) error
	// Dashboard returns the address Open dashboard opens, called per click
	// (with server.api_key set it carries a fresh one-time token); default
	// /ui/ at State.Listen's host.
	Dashboard func() string
	// Clients are the coding tools Connect a client… lists; clicking one
	// calls Connect, which writes its settings as `localrouter setup`
	// does and says what it wrote and how to undo it (shown as a
	// notification). Without Connect the entry is hidden.
	Clients []Client
	Connect func(name string) (string, error)
}

// Client is one entry of Connect a client….
type Client struct {
	Name  string // what Connect gets: "codex"
	Title string // what the menu shows: "Codex"
}

// refreshEvery re-reads the state without a change event, so the
// strategy's age and the launch-at-login entry on disk stay current.
const refreshEvery = 30 * time.Second

// Run shows the tray until ctx ends or the user quits, and must be called
// on the main goroutine (macOS requires it). It returns ErrNoTray at once
// when no tray can exist.
func Run(ctx context.Context, core Core, o Options) error {
	a := newApp(ctx, core, o)
	if err := checkHost(a.log); err != nil {
		return err
	}
	a.state = core.State()
	a.shown = menuModel(a.state, time.Now(), a.launch.enabled())
	if presets {
		prepare(a.log, iconBytes(a.shown.Icon), a.shown.Title, a.shown.Title)
	}
	systray.Run(a.onReady, nil)
	return nil
}

// app is the running tray. After onReady only its loop goroutine touches
// it and only that goroutine calls systray.
type app struct {
	ctx    context.Context
	core   Core
	o      Options
	log    *slog.Logger
	launch launcher

	state    State // last state read
	shown    model // what the tray shows
	items    [numItems]*systray.MenuItem
	notifier notifier
	notes    chan note // to the notification goroutine
}

func newApp(ctx context.Context, core Core, o Options) *app {
	a := &app{ctx: ctx, core: core, o: o, log: o.Logger, notes: make(chan note, 8)}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.o.Notify == nil {
		beeep.AppName = appName
		a.o.Notify = func(title, body string) error { return beeep.Notify(title, body, "") }
	}
	if a.o.Open == nil {
		a.o.Open = openPath
	}
	if a.o.Copy == nil {
		a.o.Copy = copyText
	}
	if exe, err := os.Executable(); err == nil {
		a.launch.exec = append([]string{exe}, o.LaunchArgs...)
	} else {
		a.log.Warn("launch at login unavailable: executable path unknown", "err", err)
	}
	return a
}

// onReady creates the fixed menu once and starts the loop. It must return
// quickly: systray answers the host's GetLayout only after it has.
func (a *app) onReady() {
	if !presets {
		setIcon(a.shown.Icon)
		systray.SetTitle(a.shown.Title)
		systray.SetTooltip(a.shown.Title)
	}
	for i, r := range a.shown.Rows {
		if separatorBefore[i] {
			systray.AddSeparator()
		}
		if r.Checkable {
			a.items[i] = systray.AddMenuItemCheckbox(menuLabel(r.Label), r.Tooltip, r.Checked)
		} else {
			a.items[i] = systray.AddMenuItem(menuLabel(r.Label), r.Tooltip)
		}
		if !r.Enabled {
			a.items[i].Disable()
		}
	}
	a.addClients()
	go a.notify()
	go a.loop()
}

// loop handles clicks and change events; it is the only goroutine that
// calls systray after onReady. systray sends a click only to a receiver
// already waiting and drops it otherwise, and the loop is not always
// waiting (an update sends D-Bus signals), so clicks reach it through
// forwardClicks. Slow work (fetching, opening, notifying) runs elsewhere.
func (a *app) loop() {
	tick := time.NewTicker(refreshEvery)
	defer tick.Stop()
	changes := a.core.Changes()
	clicks := a.forwardClicks()
	for {
		select {
		case <-a.ctx.Done():
			systray.Quit()
			return
		case <-changes:
			a.update(false)
		case <-tick.C:
			a.update(false)
		case i := <-clicks:
			if !a.click(i) {
				return
			}
		}
	}
}

// forwardClicks passes each item's clicks, as they come, to the channel it
// returns.
func (a *app) forwardClicks() <-chan item {
	clicks := make(chan item, 16)
	for i, it := range a.items {
		a.onClick(it, func() {
			select {
			case clicks <- item(i):
			case <-a.ctx.Done():
			}
		})
	}
	return clicks
}

// onClick runs f for each click on it, on a goroutine that is always
// receiving them, until the tray ends.
func (a *app) onClick(it *systray.MenuItem, f func()) {
	go func() {
		for {
			select {
			case <-a.ctx.Done():
				return
			case <-it.ClickedCh:
				f()
			}
		}
	}()
}

// click does what item i is for; false means the user quit.
func (a *app) click(i item) bool {
	switch i {
	case itemListen:
		go a.copyListen(a.state.Listen)
	case itemFollow:
		a.setOverride(OverrideAuto)
	case itemLocal:
		a.setOverride(OverrideLocal)
	case itemRemote:
		a.setOverride(OverrideRemote)
	case itemPrivate:
		a.core.SetPrivate(!a.state.Private)
		a.update(true)
	case itemMock:
		a.core.SetMock(!a.state.Mock)
		a.update(true)
	case itemLaunch:
		on := !a.launch.enabled()
		if err := a.launch.set(on); err != nil {
			a.log.Warn("launch at login", "on", on, "err", err)
		}
		a.update(true)
	case itemRefresh:
		go a.core.Refresh()
	case itemDashboard:
		go a.openDashboard(a.state.Listen)
	case itemConfig:
		go a.open(a.state.ConfigPath)
	case itemLog:
		go a.open(a.o.LogPath)
	case itemQuit:
		a.core.Quit()
		systray.Quit()
		return false
	}
	// The title, strategy and usage lines are disabled; Connect opens its
	// submenu.
	return true
}

func (a *app) setOverride(o string) {
	if err := a.core.SetOverride(o); err != nil {
		a.log.Warn("override", "override", o, "err", err)
	}
	// Re-apply every check even if nothing changed: some hosts flip a
	// checkmark locally on click.
	a.update(true)
}

// update reads a fresh state, shows it and queues the notifications its
// transitions deserve. force re-applies every checkmark.
func (a *app) update(force bool) {
	now := time.Now()
	s := a.core.State()
	m := menuModel(s, now, a.launch.enabled())
	a.apply(m, force)
	for _, n := range a.notifier.filter(a.state, s, now) {
		select {
		case a.notes <- n:
		default:
			a.log.Warn("notification dropped", "title", n.Title)
		}
	}
	a.state = s
}

// apply changes only what differs from what is shown (each change is a
// D-Bus signal to the host).
func (a *app) apply(m model, force bool) {
	for i, r := range m.Rows {
		old, it := a.shown.Rows[i], a.items[i]
		if r.Label != old.Label {
			it.SetTitle(menuLabel(r.Label))
		}
		if r.Enabled != old.Enabled {
			if r.Enabled {
				it.Enable()
			} else {
				it.Disable()
			}
		}
		if r.Checkable && (force || r.Checked != old.Checked) {
			if r.Checked {
				it.Check()
			} else {
				it.Uncheck()
			}
		}
	}
	if m.Icon != a.shown.Icon {
		setIcon(m.Icon)
	}
	if m.Title != a.shown.Title {
		systray.SetTooltip(m.Title)
		systray.SetTitle(m.Title)
	}
	a.shown = m
}

// notify shows queued notifications one at a time, off the loop.
func (a *app) notify() {
	for {
		select {
		case <-a.ctx.Done():
			return
		case n := <-a.notes:
			if err := a.o.Notify(n.Title, n.Body); err != nil {
				a.log.Warn("notification failed", "err", err)
			}
		}
	}
}

func (a *app) open(path string) {
	if path == "" {
		return
	}
	if err := a.o.Open(path); err != nil {
		a.log.Warn("cannot open file", "path", path, "err", err)
	}
}

// openDashboard opens the dashboard in the default browser. The address is
// never logged: it may hold a one-time token.
func (a *app) openDashboard(listen string) {
	url := strings.TrimSuffix(listen, "/v1") + "/ui/"
	if a.o.Dashboard != nil {
		url = a.o.Dashboard()
	}
	if err := a.o.Open(url); err != nil {
		a.log.Warn("cannot open the dashboard", "err", err)
	}
}

func (a *app) copyListen(url string) {
	if err := a.o.Copy(url); err != nil && !errors.Is(err, errNoClipboard) {
		a.log.Warn("cannot copy the address", "err", err)
	}
}

// addClients fills Connect a client…'s submenu, once: the list is fixed.
// Connecting makes no systray call, so an entry's clicks are handled where
// they are received.
func (a *app) addClients() {
	parent := a.items[itemConnect]
	if a.o.Connect == nil || len(a.o.Clients) == 0 {
		parent.Hide()
		return
	}
	for _, c := range a.o.Clients {
		it := parent.AddSubMenuItem(menuLabel(c.Title), fmt.Sprintf(menuConnectToTip, c.Title))
		a.onClick(it, func() { go a.connect(c) })
	}
}

// connect writes c's settings and says so; the user asked, so the note
// shows whatever the notifications setting.
func (a *app) connect(c Client) {
	n := note{Title: fmt.Sprintf(noteConnected, c.Title)}
	msg, err := a.o.Connect(c.Name)
	if err != nil {
		a.log.Warn("connect a client", "client", c.Name, "err", err)
		n = note{Title: fmt.Sprintf(noteConnectFailed, c.Title), Body: err.Error()}
	} else {
		n.Body = msg
	}
	select {
	case a.notes <- n:
	case <-a.ctx.Done():
	}
}
