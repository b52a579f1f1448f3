package tray

import (
	"sync"
	"time"
)

// fakeCore is a gateway stand-in: the strategy says remote until Refresh
// flips it.
type fakeCore struct {
	mu       sync.Mutex // guards the fields below
	override string
	mock     bool
	private  bool
	strategy string // "local" or "remote"
	fetched  time.Time
	config   string

	changes chan struct{}
	quit    func()
	slow    time.Duration // how long State takes
}

func newFakeCore(configPath string, quit func()) *fakeCore {
	return &fakeCore{override: OverrideAuto, strategy: "remote", fetched: time.Now(), config: configPath,
		changes: make(chan struct{}, 1), quit: quit}
}

func (c *fakeCore) State() State {
	time.Sleep(c.slow)
	c.mu.Lock()
	defer c.mu.Unlock()
	side, reason := c.strategy, "strategy"
	if c.override != OverrideAuto {
		side, reason = c.override, "override"
	}
	route := Route{Side: "remote", Provider: "google", Model: "gemini-3-flash", Reason: reason}
	if side == "local" {
		route = Route{Side: "local", Provider: "ollama", Model: "qwen3", Reason: reason}
	}
	if c.private && side != "local" {
		route = Route{Side: "local", Provider: "ollama", Model: "qwen3", Reason: reason + ", private: local only"}
	}
	return State{Route: route, Side: side, Override: c.override, Mock: c.mock, Private: c.private, LocalUp: true,
		StrategySource: "remote", StrategyFetchedAt: c.fetched, Listen: "http://127.0.0.1:8080/v1",
		ConfigPath: c.config, Notifications: true}
}

func (c *fakeCore) Changes() <-chan struct{} { return c.changes }

func (c *fakeCore) changed() {
	select {
	case c.changes <- struct{}{}:
	default:
	}
}

func (c *fakeCore) SetOverride(o string) error {
	c.mu.Lock()
	c.override = o
	c.mu.Unlock()
	c.changed()
	return nil
}

func (c *fakeCore) SetMock(on bool) {
	c.mu.Lock()
	c.mock = on
	c.mu.Unlock()
	c.changed()
}

func (c *fakeCore) SetPrivate(on bool) {
	c.mu.Lock()
	c.private = on
	c.mu.Unlock()
	c.changed()
}

func (c *fakeCore) Refresh() {
	c.mu.Lock()
	c.strategy = map[string]string{"local": "remote", "remote": "local"}[c.strategy]
	c.fetched = time.Now()
	c.mu.Unlock()
	c.changed()
}

func (c *fakeCore) Quit() { c.quit() }
