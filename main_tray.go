package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/localrouter/localrouter/config"
	"github.com/localrouter/localrouter/config/clients"
	"github.com/localrouter/localrouter/proxy"
	"github.com/localrouter/localrouter/tray"
)

// runTray shows the tray until ctx ends or the user quits; without a tray
// it warns once and returns, and the caller keeps serving.
func runTray(ctx context.Context, quit context.CancelFunc, srv *proxy.Server, cfg *config.Config, cacheDir string, u *usageStore, log *slog.Logger) {
	changes, unsubscribe := srv.Subscribe()
	defer unsubscribe()
	day := &today{u: u, changed: make(chan struct{}, 1)}
	go day.run(ctx)
	core := &trayCore{srv: srv, changes: merge(ctx, changes, day.changed), quit: quit, log: log, today: day}
	o := tray.Options{Logger: log, LogPath: logPath(cacheDir), Dashboard: srv.DashboardURL}
	for _, c := range clients.Clients(clients.Env{}) {
		o.Clients = append(o.Clients, tray.Client{Name: c.Name, Title: c.Title})
	}
	o.Connect = func(name string) (string, error) { return clients.Connect(cfg.Path, name) } // what `localrouter setup <name>` runs
	if dir, err := os.UserConfigDir(); err != nil || cfg.Path != filepath.Join(dir, "localrouter", "config.yaml") {
		o.LaunchArgs = []string{"--config", cfg.Path}
	}
	if err := tray.Run(ctx, core, o); errors.Is(err, tray.ErrNoTray) {
		log.Warn("no tray: serving without one (use --headless to skip the tray)", "err", err)
	}
}

// trayCore adapts *proxy.Server to tray.Core. Only the tray's loop calls State.
type trayCore struct {
	srv     *proxy.Server
	changes <-chan struct{}
	quit    context.CancelFunc
	log     *slog.Logger
	today   *today
}

func (c *trayCore) State() tray.State {
	st := c.srv.Status()
	s := tray.State{Side: st.Side, Override: st.Override, Private: st.Private, Mock: st.Mock, MockReason: st.MockReason,
		LocalUp: st.LocalUp, LocalDegraded: st.LocalDegraded, StrategySource: st.Strategy.Source, StrategyError: st.Strategy.Error, Listen: st.Listen,
		ConfigPath: st.ConfigPath, ReloadError: st.ReloadError, Notifications: st.Notifications}
	if d := st.Decision; d != nil {
		s.Route = tray.Route{Side: string(d.Side), Provider: d.Provider, Model: d.Model, Reason: d.Reason}
	}
	if t := st.Strategy.FetchedAt; t != nil {
		s.StrategyFetchedAt = *t
	}
	if f := st.LastFallback; f != nil {
		s.FallbackAt, s.FallbackFrom, s.FallbackTo, s.FallbackErr = f.At, f.From, f.To, f.Err
	}
	if u := st.Usage; u != nil {
		t := c.today.totals()
		s.Today = tray.Today{Off: !u.Enabled, Error: u.Error, Notice: u.Notice, Requests: t.Requests, Local: t.LocalRequests,
			Tokens: t.InputTokens + t.OutputTokens, SavedUSD: t.SavedUSD}
	}
	return s
}

// merge signals out whenever a or b signals, coalesced, until ctx ends.
func merge(ctx context.Context, a, b <-chan struct{}) <-chan struct{} {
	out := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-a:
			case <-b:
			}
			select {
			case out <- struct{}{}:
			default:
			}
		}
	}()
	return out
}

func (c *trayCore) Changes() <-chan struct{}   { return c.changes }
func (c *trayCore) SetOverride(o string) error { return c.srv.SetOverride(o) }
func (c *trayCore) SetMock(on bool)            { c.srv.SetMock(on) }
func (c *trayCore) SetPrivate(on bool)         { c.srv.SetPrivate(on) }
func (c *trayCore) Quit()                      { c.quit() }

func (c *trayCore) Refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.srv.RefreshStrategy(ctx); err != nil {
		c.log.Warn("strategy refresh failed", "err", err)
	}
}

// logPath is the log file in dir (<os.UserCacheDir()>/localrouter).
func logPath(dir string) string { return filepath.Join(dir, "localrouter.log") }

// newLogFile opens the rotating log file in dir.
func newLogFile(dir string) io.WriteCloser {
	return &lumberjack.Logger{Filename: logPath(dir), MaxSize: 10, MaxBackups: 3} // MaxSize in MB
}
