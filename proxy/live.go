package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/localrouter/localrouter/config"
	"github.com/localrouter/localrouter/strategy"
)

// probeInterval is how often local providers are asked for their model list.
// A down local side is then skipped without waiting for a request to time out.
const (
	probeInterval = 10 * time.Second
	probeTimeout  = 3 * time.Second
)

// Override values as the API and the tray spell them.
const (
	OverrideAuto   = "auto"
	OverrideLocal  = "local"
	OverrideRemote = "remote"
)

// live returns what routing needs besides the config, each part read once.
func (s *Server) live() strategy.Live {
	l := strategy.Live{LocalDown: s.localDown.Load(), LocalDegraded: s.lhealth.degraded(time.Now()), Sessions: s.sessions}
	if t := s.state.Load().truth.Load(); t != nil {
		l.Local = t
	}
	if p := s.poller.Load(); p != nil {
		l.Strategy = p.Current()
	}
	if o := s.override.Load(); o != nil {
		l.Override = strategy.Side(*o)
	}
	l.Private = s.private.Load()
	return l
}

// SetOverride forces a side ("local", "remote") or follows the strategy ("auto").
func (s *Server) SetOverride(o string) error {
	switch o {
	case OverrideAuto:
		s.override.Store(nil)
	case OverrideLocal, OverrideRemote:
		s.override.Store(&o)
	default:
		return errors.New(`override must be "auto", "local" or "remote"`)
	}
	s.saveState()
	s.notify()
	return nil
}

// Override returns the current override: auto, local or remote.
func (s *Server) Override() string {
	if o := s.override.Load(); o != nil {
		return *o
	}
	return OverrideAuto
}

// SetMock turns mock mode on or off.
func (s *Server) SetMock(on bool) {
	s.mock.Store(on)
	s.saveState()
	s.notify()
}

// persisted is what survives a restart beside the cached strategy (DESIGN §7).
type persisted struct {
	Override string `json:"override"`
	Mock     bool   `json:"mock"`
	Private  bool   `json:"private"` // Local only
}

func (s *Server) statePath() string {
	if s.cacheDir == "" {
		return ""
	}
	return filepath.Join(s.cacheDir, "state.json")
}

func (s *Server) loadState() (persisted, bool) {
	var p persisted
	path := s.statePath()
	if path == "" {
		return p, false
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return p, false
	}
	if err := json.Unmarshal(b, &p); err != nil {
		s.log.Warn("ignoring unreadable state file", "path", path, "err", err)
		return p, false
	}
	return p, true
}

func (s *Server) saveState() {
	path := s.statePath()
	if path == "" {
		return
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	b, _ := json.Marshal(persisted{Override: s.Override(), Mock: s.mock.Load(), Private: s.private.Load()})
	if err := writeFileAtomic(path, b); err != nil {
		s.log.Warn("cannot save override and mock mode", "path", path, "err", err)
	}
}

// writeFileAtomic replaces path with b so that a crash leaves the old file
// or the new one, never half of each.
func writeFileAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// Subscribe returns a channel that is signalled (never blocking, coalesced)
// whenever the status may have changed: strategy, override, mock mode, local
// health, a fallback, a config reload. Call Status for the new state. The
// function unsubscribes.
func (s *Server) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	s.subMu.Lock()
	s.subs[ch] = struct{}{}
	s.subMu.Unlock()
	return ch, func() {
		s.subMu.Lock()
		delete(s.subs, ch)
		s.subMu.Unlock()
	}
}

func (s *Server) notify() {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	for ch := range s.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Events the status reports, for the tray and scripts.
type events struct {
	mu           sync.Mutex // guards the fields below
	lastFallback *Fallback
	reloadError  string
	reloadedAt   time.Time
}

// Fallback records a request that went to the other side.
type Fallback struct {
	At   time.Time `json:"at"`
	From string    `json:"from"`
	To   string    `json:"to"`
	Err  string    `json:"error"`
}

func (s *Server) recordFallback(from, to strategy.Decision, err error) {
	s.ev.mu.Lock()
	s.ev.lastFallback = &Fallback{At: time.Now(), From: from.String(), To: to.String(), Err: err.Error()}
	s.ev.mu.Unlock()
	s.log.Warn("fallback", "from", from.String(), "to", to.String(), "err", err)
	s.notify()
}

// startPoller runs p (nil: none) under ctx in place of the running poller.
// It is called at start-up and after a reload that changed remote_strategy.
func (s *Server) startPoller(ctx context.Context, p *strategy.Poller) {
	s.pollMu.Lock()
	defer s.pollMu.Unlock()
	if s.pollStop != nil {
		s.pollStop()
		s.pollStop = nil
	}
	s.poller.Store(p)
	s.notify()
	if p == nil {
		return
	}
	pctx, cancel := context.WithCancel(ctx)
	s.pollStop = cancel
	changes, unsub := p.Subscribe()
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		p.Run(pctx)
	}()
	go func() {
		defer s.wg.Done()
		defer unsub()
		for {
			select {
			case <-changes:
				s.notify()
			case <-pctx.Done():
				return
			}
		}
	}()
}

func (s *Server) newPoller(cfg *config.Config) (*strategy.Poller, error) {
	rs := cfg.RemoteStrategy
	if rs.URL == "" {
		return nil, nil
	}
	headers := make(map[string]string, len(rs.Headers))
	for k, v := range rs.Headers {
		headers[k] = string(v)
	}
	cache := ""
	if s.cacheDir != "" {
		cache = filepath.Join(s.cacheDir, "strategy.json")
	}
	return strategy.NewPoller(strategy.PollerOptions{
		URL: rs.URL, Interval: rs.PollInterval, Timeout: rs.Timeout, Headers: headers,
		CachePath: cache, Logger: s.log,
		// A strategy may only choose among what this config has.
		Validate: func(st *strategy.Strategy) error { return s.state.Load().router.CheckStrategy(st) },
	})
}

// probe asks each local provider for its model list now and then; the local
// side is down when none answers.
func (s *Server) probe(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.probeOnce(ctx)
		t.Reset(probeInterval)
	}
}

func (s *Server) probeOnce(ctx context.Context) {
	s.probeLocal(ctx)
}

func (s *Server) setLocalDown(down bool) {
	if s.localDown.Swap(down) != down {
		if down {
			s.log.Warn("local side is down: requests for it go remote while fallback is on")
		} else {
			s.log.Info("local side is up")
		}
		s.notify()
	}
}

// reload applies a changed config file, or keeps the running one when the
// new file is broken (DESIGN §3).
func (s *Server) reload(ctx context.Context, cfg *config.Config, err error) {
	var st *state
	if err == nil {
		st, err = s.newState(cfg)
	}
	var p *strategy.Poller
	newSource := err == nil && !sameStrategySource(s.state.Load().cfg.RemoteStrategy, cfg.RemoteStrategy)
	if newSource {
		// A strategy URL the poller refuses makes the whole file wrong, as at start-up.
		if p, err = s.newPoller(cfg); err != nil {
			err = fmt.Errorf("config %s: remote_strategy: %w", cfg.Path, err)
		}
	}
	if err != nil {
		s.ev.mu.Lock()
		s.ev.reloadError = err.Error()
		s.ev.mu.Unlock()
		s.log.Error("config reload rejected: keeping the running config", "err", err)
		s.notify()
		return
	}
	s.state.Store(st)
	s.sessions.SetLimits(cfg.Routing.SessionMax, cfg.Routing.SessionTTL)
	st.up.logSkipped(s.log)
	s.ev.mu.Lock()
	s.ev.reloadError, s.ev.reloadedAt = "", time.Now()
	s.ev.mu.Unlock()
	s.log.Info("config reloaded", "path", cfg.Path)
	if l := s.listenedAs.Load(); l != nil && *l != cfg.Addr() {
		s.log.Warn("server.host/port changed: restart LocalRouter to listen on the new address", "listening", *l, "configured", cfg.Addr())
	}
	if newSource {
		s.startPoller(ctx, p)
	}
	go s.probeOnce(ctx)
	s.notify()
}

func sameStrategySource(a, b config.RemoteStrategy) bool {
	if a.URL != b.URL || a.PollInterval != b.PollInterval || a.Timeout != b.Timeout || len(a.Headers) != len(b.Headers) {
		return false
	}
	for k, v := range a.Headers {
		if b.Headers[k] != v {
			return false
		}
	}
	return true
}
