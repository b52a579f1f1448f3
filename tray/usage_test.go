package tray

import (
	"testing"
	"time"
)

func TestUsageLine(t *testing.T) {
	for _, c := range []struct {
		name  string
		today Today
		want  string
	}{
		{"design's example", Today{Requests: 412, Local: 342, Tokens: 1_934_000, SavedUSD: 4.1}, "Today: 412 requests · 1.9M tokens · 83% local · ≈ $4.10 saved"},
		{"one", Today{Requests: 1, Tokens: 950}, "Today: 1 request · 950 tokens · 0% local · ≈ $0.00 saved"},
		{"thousands", Today{Requests: 3, Local: 3, Tokens: 12_345, SavedUSD: 0.004}, "Today: 3 requests · 12.3k tokens · 100% local · ≈ $0.00 saved"},
		{"billions", Today{Requests: 9, Local: 1, Tokens: 2_400_000_000}, "Today: 9 requests · 2.4B tokens · 11% local · ≈ $0.00 saved"},
		{"none yet", Today{}, "Today: no requests yet"},
		{"mended", Today{Notice: "usage.db was corrupt: moved aside"}, "Usage: usage.db was corrupt: moved aside"},
		{"mended, then counting", Today{Notice: "usage.db was corrupt", Requests: 2, Tokens: 10}, "Today: 2 requests · 10 tokens · 0% local · ≈ $0.00 saved"},
		{"off", Today{Off: true}, "Usage: not recorded (usage.enabled is off)"},
		{"failing", Today{Error: "usage.db: disk I/O error", Requests: 4}, "Usage: not recorded: usage.db: disk I/O error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := usageLine(c.today); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
			m := menuModel(State{Today: c.today}, time.Now(), false)
			if got := m.Rows[itemUsage]; got.Label != c.want || got.Enabled {
				t.Errorf("menu row %+v, want %q, disabled", got, c.want)
			}
		})
	}
}
