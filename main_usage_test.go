package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/localrouter/localrouter/proxy/usage"
)

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 5, 10, 15, 30, 0, 0, time.Local)
	for _, c := range []struct {
		in   string
		want time.Time
	}{
		{"today", time.Date(2026, 5, 10, 0, 0, 0, 0, time.Local)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
		{"0d", now},
		{"12h", now.Add(-12 * time.Hour)},
	} {
		if got, err := parseSince(c.in, now); err != nil || !got.Equal(c.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "week", "-3d", "-1h", "1.5d", "d"} {
		if _, err := parseSince(bad, now); err == nil {
			t.Errorf("parseSince(%q): no error", bad)
		}
	}
}

func TestUsageCommand(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "usage.db")
	cfg := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfg, []byte("usage: {path: "+db+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := run([]string{"usage", "--config", cfg}, &out); err == nil || !strings.Contains(err.Error(), "no usage recorded yet") {
		t.Errorf("without a database: %v", err)
	}
	s, err := usage.Open(db)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	err = s.Insert(context.Background(), []usage.Record{
		{Time: now, Door: "chat", Side: "local", Provider: "ollama", Model: "qwen3", Status: 200, InputTokens: 10, OutputTokens: 5, SavedUSD: 0.25},
		{Time: now, Door: "chat", Side: "remote", Provider: "deepseek", Model: "deepseek-chat", Status: 200, InputTokens: 20, OutputTokens: 8, CostUSD: 0.5},
		{Time: now.Add(-10 * 24 * time.Hour), Door: "chat", Side: "remote", Provider: "deepseek", Model: "deepseek-chat", Status: 200, InputTokens: 1000},
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run([]string{"usage", "--config", cfg, "--by", "provider", "--json"}, &out); err != nil {
		t.Fatal(err)
	}
	var got struct {
		CostsEstimated bool `json:"costs_estimated"`
		Totals         struct {
			Requests, LocalRequests, InputTokens int64
			CostUSD                              float64 `json:"cost_usd"`
			SavedUSD                             float64 `json:"saved_usd"`
		}
		Buckets []struct{ Key, Side string }
	}
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if !got.CostsEstimated || got.Totals.Requests != 2 || got.Totals.CostUSD != 0.5 || got.Totals.SavedUSD != 0.25 ||
		len(got.Buckets) != 2 || got.Buckets[0].Key != "deepseek" || got.Buckets[1].Key != "ollama" {
		t.Errorf("the last 7 days: %s", out.String())
	}
	out.Reset()
	if err := run([]string{"usage", "--config", cfg, "--since", "30d"}, &out); err != nil || !strings.Contains(out.String(), "remote") ||
		!strings.Contains(out.String(), "1030") || !strings.Contains(out.String(), "estimates") {
		t.Errorf("table for 30 days: %v\n%s", err, out.String())
	}
	if err := run([]string{"usage", "--config", cfg, "--by", "colour"}, &out); err == nil {
		t.Error("--by colour: no error")
	}
}
