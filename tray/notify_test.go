package tray

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNotes(t *testing.T) {
	local := with(func(s *State) {
		s.Route, s.Side = Route{Side: "local", Provider: "ollama", Model: "qwen3", Reason: "strategy"}, "local"
	})
	for _, tc := range []struct {
		name      string
		prev, cur State
		want      []note
	}{
		{"nothing changed", base(), base(), nil},
		{"poll with a new fetch time", base(), with(func(s *State) { s.StrategyFetchedAt = now }), nil},
		{"strategy flip", base(), local, []note{{Title: "Route: Local · qwen3", Body: "The remote strategy changed the route."}}},
		{"override", base(), with(func(s *State) {
			s.Route, s.Override = Route{Side: "local", Provider: "ollama", Model: "qwen3", Reason: "override"}, "local"
		}),
			[]note{{Title: "Route: Local · qwen3", Body: "Routing: Force local."}}},
		{"mock on", base(), with(func(s *State) { s.Mock = true }),
			[]note{{Title: "Route: Mock · gemini-3-flash", Body: "Mock mode is on: answers are canned."}}},
		{"mock off", with(func(s *State) { s.Mock = true }), base(),
			[]note{{Title: "Route: Remote · gemini-3-flash", Body: "Mock mode is off: requests reach real models again."}}},
		{"strategy failing", base(), with(func(s *State) { s.StrategyError = "503" }),
			[]note{{Title: "Strategy source failing", Body: "503\nRouting keeps the last good strategy."}}},
		{"still failing", with(func(s *State) { s.StrategyError = "503" }), with(func(s *State) { s.StrategyError = "timeout" }), nil},
		{"recovered", with(func(s *State) { s.StrategyError = "503" }), base(),
			[]note{{Title: "Strategy source recovered", Body: "The remote strategy answers again."}}},
		{"fallback", base(), with(func(s *State) {
			s.FallbackAt, s.FallbackFrom, s.FallbackTo, s.FallbackErr = now, "remote:google/gemini-3-flash (strategy)", "local:ollama/qwen3 (fallback)", "503"
		}), []note{{Title: "Fallback to local:ollama/qwen3 (fallback)", Body: "remote:google/gemini-3-flash (strategy) failed: 503", fallback: true}}},
		{"reload rejected", base(), with(func(s *State) { s.ReloadError = "config.yaml:3: bad port" }),
			[]note{{Title: "Config change rejected", Body: "config.yaml:3: bad port\nThe running config stays in force."}}},
		{"local degraded", local, with(func(s *State) {
			s.Route, s.Side, s.LocalDegraded = Route{Side: "remote", Provider: "google", Model: "gemini-3-flash", Reason: "strategy, local degraded"}, "remote", true
		}), []note{{Title: "Route: Remote · gemini-3-flash", Body: "The local model server answered with an error: requests go remote until it is tried again."}}},
		{"local degraded, route unchanged", base(), with(func(s *State) { s.LocalDegraded = true }),
			[]note{{Title: "Local model failing", Body: "The local model server answered with an error: requests go remote until it is tried again."}}},
		{"still degraded", with(func(s *State) { s.LocalDegraded = true }), with(func(s *State) { s.LocalDegraded = true }), nil},
		{"back-off over", with(func(s *State) {
			s.Route, s.Side, s.LocalDegraded = Route{Side: "remote", Provider: "google", Model: "gemini-3-flash", Reason: "strategy, local degraded"}, "remote", true
		}), local, []note{{Title: "Route: Local · qwen3", Body: "The local side is tried again."}}},
		{"same reload error", with(func(s *State) { s.ReloadError = "x" }), with(func(s *State) { s.ReloadError = "x" }), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, notes(tc.prev, tc.cur), cmp.AllowUnexported(note{})); diff != "" {
				t.Errorf("notes (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNotifierFilter(t *testing.T) {
	local := with(func(s *State) {
		s.Route, s.Side = Route{Side: "local", Provider: "ollama", Model: "qwen3", Reason: "strategy"}, "local"
	})
	fallback := func(s State, at time.Time) State {
		s.FallbackAt, s.FallbackTo, s.FallbackErr = at, "local", "503"
		return s
	}
	t.Run("notifications off", func(t *testing.T) {
		var n notifier
		off := local
		off.Notifications = false
		if got := n.filter(base(), off, now); len(got) != 0 {
			t.Errorf("got %v, want none", got)
		}
	})
	t.Run("never the same twice in a row", func(t *testing.T) {
		var n notifier
		a := n.filter(base(), local, now)
		b := n.filter(base(), local, now)
		if len(a) != 1 || len(b) != 0 {
			t.Errorf("got %d then %d notes, want 1 then 0", len(a), len(b))
		}
		if got := n.filter(local, base(), now); len(got) != 1 {
			t.Errorf("flip back: got %d notes, want 1", len(got))
		}
	})
	t.Run("fallback at most once a minute", func(t *testing.T) {
		var n notifier
		s1 := fallback(base(), now)
		s2 := fallback(base(), now.Add(10*time.Second))
		s2.FallbackErr = "timeout"
		s3 := fallback(base(), now.Add(70*time.Second))
		s3.FallbackErr = "refused" // the same note twice in a row is never shown
		got := [3]int{len(n.filter(base(), s1, now)), len(n.filter(s1, s2, now.Add(10*time.Second))), len(n.filter(s2, s3, now.Add(70*time.Second)))}
		if got != [3]int{1, 0, 1} {
			t.Errorf("got %v notes, want [1 0 1]", got)
		}
	})
}
