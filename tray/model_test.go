package tray

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var now = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// base is a healthy state following a remote strategy that says remote.
func base() State {
	return State{
		Route: Route{Side: "remote", Provider: "google", Model: "gemini-3-flash", Reason: "strategy"}, Side: "remote", Override: OverrideAuto,
		LocalUp: true, StrategySource: "remote", StrategyFetchedAt: now.Add(-3 * time.Minute),
		Listen: "http://127.0.0.1:8080/v1", ConfigPath: "/home/u/.config/localrouter/config.yaml", Notifications: true,
	}
}

func with(f func(*State)) State { s := base(); f(&s); return s }

func TestMenuModelTitleAndIcon(t *testing.T) {
	for _, tc := range []struct {
		name        string
		s           State
		title, icon string
	}{
		{"remote", base(), "Remote · gemini-3-flash", "remote"},
		{"local", with(func(s *State) {
			s.Route, s.Side = Route{Side: "local", Provider: "ollama", Model: "qwen3", Reason: "strategy"}, "local"
		}), "Local · qwen3", "local"},
		{"forced local", with(func(s *State) {
			s.Route, s.Override = Route{Side: "local", Provider: "ollama", Model: "qwen3", Reason: "override"}, "local"
		}), "Local · qwen3", "local"},
		{"mock", with(func(s *State) { s.Mock = true }), "Mock · gemini-3-flash", "mock"},
		{"mock without route", with(func(s *State) { s.Mock, s.Route, s.MockReason = true, Route{}, "no usable provider" }), "Mock · no usable provider", "mock"},
		{"strategy failing", with(func(s *State) { s.StrategyError = "GET: 503" }), "Remote · gemini-3-flash", "error"},
		{"local side down", with(func(s *State) {
			s.Route, s.Side, s.LocalUp = Route{Side: "local", Provider: "ollama", Model: "qwen3", Reason: "strategy"}, "local", false
		}), "Local · qwen3", "error"},
		{"local down but remote chosen", with(func(s *State) { s.LocalUp = false }), "Remote · gemini-3-flash", "remote"},
		{"local only", with(func(s *State) {
			s.Private, s.Route = true, Route{Side: "local", Provider: "ollama", Model: "qwen3", Reason: "strategy, private: local only"}
		}), "Local only · qwen3", "local"},
		{"local only, local side down", with(func(s *State) { s.Private, s.Route, s.LocalUp = true, Route{}, false }), "Local only · no model", "error"},
		{"mock beats local only", with(func(s *State) { s.Private, s.Mock = true, true }), "Mock · gemini-3-flash", "mock"},
		{"no route", with(func(s *State) { s.Route = Route{} }), "Remote · no model", "remote"},
		{"model with slash", with(func(s *State) {
			s.Route = Route{Side: "remote", Provider: "openrouter", Model: "meta/llama-4", Reason: "strategy"}
		}), "Remote · meta/llama-4", "remote"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := menuModel(tc.s, now, false)
			if m.Title != tc.title || m.Icon != tc.icon {
				t.Errorf("got title %q icon %q, want %q %q", m.Title, m.Icon, tc.title, tc.icon)
			}
			if got := m.Rows[itemTitle]; got.Label != tc.title || got.Enabled {
				t.Errorf("title row %+v, want label %q, disabled", got, tc.title)
			}
		})
	}
}

func TestMenuModelStrategyLine(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    State
		want string
	}{
		{"remote", base(), "Strategy: remote, 3 min ago"},
		{"just now", with(func(s *State) { s.StrategyFetchedAt = now.Add(-10 * time.Second) }), "Strategy: remote, just now"},
		{"hours", with(func(s *State) { s.StrategyFetchedAt = now.Add(-5 * time.Hour) }), "Strategy: remote, 5 h ago"},
		{"days", with(func(s *State) { s.StrategyFetchedAt = now.Add(-72 * time.Hour) }), "Strategy: remote, 3 d ago"},
		{"cache", with(func(s *State) { s.StrategySource = "cache" }), "Strategy: cached copy, 3 min ago"},
		{"cache never fetched", with(func(s *State) { s.StrategySource, s.StrategyFetchedAt = "cache", time.Time{} }), "Strategy: cached copy, never fetched"},
		{"config", with(func(s *State) { s.StrategySource = "config" }), "Strategy: config defaults"},
		{"error", with(func(s *State) { s.StrategyError = "connection refused" }), "Strategy error: connection refused"},
		{"long error", with(func(s *State) {
			s.StrategyError = "Get \"https://example.com/strategy.json\": dial tcp 93.184.216.34:443: i/o timeout"
		}), "Strategy error: Get \"https://example.com/strategy.json\": dial tcp 93.184.21…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := menuModel(tc.s, now, false).Rows[itemStrategy]
			if got.Label != tc.want || got.Enabled {
				t.Errorf("got %q (enabled %v), want %q, disabled", got.Label, got.Enabled, tc.want)
			}
		})
	}
}

// TestMenuModelRows checks the whole fixed menu: labels, order, checks, enabled.
func TestMenuModelRows(t *testing.T) {
	type r struct {
		Label            string
		Enabled, Checked bool
	}
	rows := func(m model) []r {
		var out []r
		for _, x := range m.Rows {
			out = append(out, r{x.Label, x.Enabled, x.Checked})
		}
		return out
	}
	menu := func(override string, mock, launch bool) []r {
		return []r{
			{"Remote · gemini-3-flash", false, false},
			{"Strategy: remote, 3 min ago", false, false},
			{"Today: no requests yet", false, false},
			{"http://127.0.0.1:8080/v1", true, false},
			{"Follow remote strategy", true, override == OverrideAuto},
			{"Force local", true, override == OverrideLocal},
			{"Force remote", true, override == OverrideRemote},
			{"Local only", true, false},
			{"Mock mode", true, mock},
			{"Launch at login", true, launch},
			{"Refresh strategy now", true, false},
			{"Open dashboard", true, false},
			{"Connect a client…", true, false},
			{"Open config", true, false},
			{"Open log", true, false},
			{"Quit", true, false},
		}
	}
	for _, tc := range []struct {
		name   string
		s      State
		launch bool
		want   []r
	}{
		{"follow", base(), false, menu(OverrideAuto, false, false)},
		{"force remote, launch at login", with(func(s *State) { s.Override = OverrideRemote }), true, menu(OverrideRemote, false, true)},
		{"unknown override follows", with(func(s *State) { s.Override = "" }), false, menu(OverrideAuto, false, false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, rows(menuModel(tc.s, now, tc.launch))); diff != "" {
				t.Errorf("menu (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("dashboard needs an address", func(t *testing.T) {
		if menuModel(with(func(s *State) { s.Listen = "" }), now, false).Rows[itemDashboard].Enabled {
			t.Error("Open dashboard enabled before the gateway listens")
		}
	})
	t.Run("checkboxes", func(t *testing.T) {
		m := menuModel(base(), now, false)
		for i, x := range m.Rows {
			want := item(i) >= itemFollow && item(i) <= itemLaunch
			if x.Checkable != want {
				t.Errorf("%q checkable = %v, want %v", x.Label, x.Checkable, want)
			}
		}
	})
	t.Run("config source cannot refresh", func(t *testing.T) {
		if menuModel(with(func(s *State) { s.StrategySource = "config" }), now, false).Rows[itemRefresh].Enabled {
			t.Error("Refresh strategy now enabled without a remote strategy")
		}
	})
}

func TestOpenCommand(t *testing.T) {
	for _, tc := range []struct{ goos, name string }{{"linux", "xdg-open"}, {"freebsd", "xdg-open"}, {"darwin", "open"}} {
		if name, args := openCommand(tc.goos, "/c/config.yaml"); name != tc.name || len(args) != 1 || args[0] != "/c/config.yaml" {
			t.Errorf("%s: got %s %v, want %s /c/config.yaml", tc.goos, name, args, tc.name)
		}
	}
}
