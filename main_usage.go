package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/localrouter/localrouter/config"
	"github.com/localrouter/localrouter/proxy"
	"github.com/localrouter/localrouter/proxy/usage"
)

// usageStore is the usage database as the gateway runs it. A database that
// cannot be opened costs the records, never the gateway: err says why, in
// /health and the tray.
type usageStore struct {
	enabled  bool
	path     string
	store    *usage.Store    // nil when disabled or broken
	recorder *usage.Recorder // nil when disabled or broken
	prices   *usage.Prices   // priced even without a store, for /metrics
	err      string
	notice   string
}

// usagePath is usage.path, else usage.db in the cache dir.
func usagePath(cfg *config.Config, cacheDir string) string {
	if cfg.Usage.Path != "" {
		return cfg.Usage.Path
	}
	if cacheDir == "" {
		return ""
	}
	return filepath.Join(cacheDir, "usage.db")
}

func openUsage(cfg *config.Config, cacheDir string, log *slog.Logger) *usageStore {
	u := &usageStore{enabled: cfg.Usage.Enabled, path: usagePath(cfg, cacheDir)}
	overrides := map[string]usage.Price{}
	for k, p := range cfg.Usage.Prices {
		overrides[k] = usage.Price{Input: p.Input, Output: p.Output}
	}
	var err error
	if u.prices, err = usage.LoadPrices(overrides); err != nil {
		log.Warn("no prices: costs are not estimated", "err", err)
	}
	if !u.enabled {
		return u
	}
	if u.path == "" {
		u.err = "no cache directory for usage.db: set usage.path"
	} else if u.store, err = usage.Open(u.path); err != nil {
		u.err = err.Error()
	}
	if u.err != "" {
		log.Warn("usage is not recorded; serving goes on", "err", u.err)
		return u
	}
	if moved := u.store.Moved(); moved != "" {
		u.notice = "usage.db was corrupt: moved aside to " + moved + ", a new one started"
		log.Warn("usage database was corrupt; started a new one", "moved_to", moved)
	}
	u.recorder = usage.NewRecorder(u.store, u.prices, usage.WithRetention(cfg.Usage.Retention), usage.WithLogger(log))
	return u
}

// options adds the usage parts to o.
func (u *usageStore) options(o proxy.Options) proxy.Options {
	if u.recorder != nil {
		o.Usage = u.recorder // a nil *usage.Recorder would be a non-nil Recorder
	}
	o.Prices, o.UsageStatus = u.prices, u.status
	o.UI = u.dashboard(o.Logger)
	return o
}

func (u *usageStore) status() proxy.UsageStatus {
	st := proxy.UsageStatus{Enabled: u.enabled, Path: u.path, Error: u.err, Notice: u.notice}
	if u.recorder != nil {
		st.Dropped = u.recorder.Dropped()
		if e := u.recorder.Err(); e != "" {
			st.Error = e
		}
	}
	return st
}

// close stores what is still queued; the server has drained by then.
func (u *usageStore) close() {
	if u.recorder != nil {
		u.recorder.Close()
	}
}

// today keeps today's totals for the tray's usage line: it reads the store
// every few seconds, never per request, and signals when they change.
type today struct {
	u       *usageStore
	changed chan struct{} // 1-buffered

	mu  sync.Mutex // guards cur
	cur usage.Totals
}

const todayEvery = 3 * time.Second

func (t *today) run(ctx context.Context) {
	tick := time.NewTicker(todayEvery)
	defer tick.Stop()
	// An idle gateway asks the database nothing: today's totals change
	// only with a write or at midnight.
	stored, day := int64(-1), time.Time{}
	for {
		if t.u.store != nil {
			now := time.Now()
			midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.Local)
			if n := t.u.recorder.Stored(); n != stored || !midnight.Equal(day) {
				if tot, err := t.u.store.Totals(ctx, midnight); err == nil {
					stored, day = n, midnight
					t.set(tot)
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (t *today) set(tot usage.Totals) {
	t.mu.Lock()
	moved := tot != t.cur
	t.cur = tot
	t.mu.Unlock()
	if moved {
		select {
		case t.changed <- struct{}{}:
		default:
		}
	}
}

func (t *today) totals() usage.Totals {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur
}

// usageCommand is `localrouter usage`: the usage database's figures, read
// while the gateway may be writing to it.
func usageCommand(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("localrouter usage", flag.ContinueOnError)
	configFlag := fs.String("config", "", "config file (default $LOCALROUTER_CONFIG_PATH, else the user config dir)")
	sinceFlag := fs.String("since", "7d", `window: a duration ("7d", "24h") or "today"`)
	by := fs.String("by", "day", "group by day, provider, model, client or side")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	since, err := parseSince(*sinceFlag, time.Now())
	if err != nil {
		return err
	}
	cfg := config.Default()
	if path, err := config.ResolvePath(*configFlag); err != nil {
		return err
	} else if _, err := os.Stat(path); err == nil {
		if cfg, err = config.Load(path); err != nil {
			return err
		}
	}
	cacheDir := ""
	if dir, err := os.UserCacheDir(); err == nil {
		cacheDir = filepath.Join(dir, "localrouter")
	}
	path := usagePath(cfg, cacheDir)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("no usage recorded yet: %s does not exist", path)
	}
	s, err := usage.OpenReadOnly(path)
	if err != nil {
		return err
	}
	defer s.Close()
	ctx := context.Background()
	buckets, err := s.Summary(ctx, since, *by)
	if err != nil {
		return err
	}
	tot, err := s.Totals(ctx, since)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeUsageJSON(stdout, since, *by, tot, buckets)
	}
	return writeUsageTable(stdout, since, *by, tot, buckets)
}

// parseSince reads --since: "today", whole days ("7d") or a Go duration.
func parseSince(s string, now time.Time) (time.Time, error) {
	if s == "today" {
		return time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, now.Location()), nil
	}
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if n, err = strconv.Atoi(days); err == nil && n >= 0 {
			d = time.Duration(n) * 24 * time.Hour
		} else {
			err = errors.New("bad day count")
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf(`--since %q: want "today", days ("7d") or a duration ("12h")`, s)
	}
	return now.Add(-d), nil
}

// usageTotals and usageBucket are the JSON the command prints.
type usageTotals struct {
	Requests      int64   `json:"requests"`
	LocalRequests int64   `json:"local_requests"`
	InputTokens   int64   `json:"input_tokens"`
	OutputTokens  int64   `json:"output_tokens"`
	Errors        int64   `json:"errors"`
	Fallbacks     int64   `json:"fallbacks"`
	CostUSD       float64 `json:"cost_usd"`
	SavedUSD      float64 `json:"saved_usd"`
}

type usageBucket struct {
	Key  string `json:"key"`
	Side string `json:"side"`
	usageTotals
}

func writeUsageJSON(w io.Writer, since time.Time, by string, t usage.Totals, bs []usage.Bucket) error {
	out := struct {
		Since string `json:"since"`
		By    string `json:"by"`
		// CostsEstimated: costs are estimates from a price table, never a bill.
		CostsEstimated bool          `json:"costs_estimated"`
		Totals         usageTotals   `json:"totals"`
		Buckets        []usageBucket `json:"buckets"`
	}{Since: since.Format(time.RFC3339), By: by, CostsEstimated: true, Buckets: []usageBucket{},
		Totals: usageTotals{t.Requests, t.LocalRequests, t.InputTokens, t.OutputTokens, t.Errors, t.Fallbacks, t.CostUSD, t.SavedUSD}}
	for _, b := range bs {
		local := int64(0)
		if b.Side == "local" {
			local = b.Requests
		}
		out.Buckets = append(out.Buckets, usageBucket{b.Key, b.Side,
			usageTotals{b.Requests, local, b.InputTokens, b.OutputTokens, b.Errors, b.Fallbacks, b.CostUSD, b.SavedUSD}})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func writeUsageTable(w io.Writer, since time.Time, by string, t usage.Totals, bs []usage.Bucket) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tside\trequests\tinput tokens\toutput tokens\terrors\tfallbacks\t≈ cost $\t≈ saved $\t\n", by)
	for _, b := range bs {
		key := b.Key
		if key == "" {
			key = "(none)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%.4f\t%.4f\t\n", key, orNone(b.Side), b.Requests, b.InputTokens, b.OutputTokens,
			b.Errors, b.Fallbacks, b.CostUSD, b.SavedUSD)
	}
	fmt.Fprintf(tw, "total\t\t%d\t%d\t%d\t%d\t%d\t%.4f\t%.4f\t\n", t.Requests, t.InputTokens, t.OutputTokens, t.Errors, t.Fallbacks,
		t.CostUSD, t.SavedUSD)
	if err := tw.Flush(); err != nil {
		return err
	}
	share := 0.0
	if t.Requests > 0 {
		share = 100 * float64(t.LocalRequests) / float64(t.Requests)
	}
	_, err := fmt.Fprintf(w, "\nSince %s: %.0f%% local. Costs are estimates from a price table (models.dev), not a bill.\n",
		since.Format("2006-01-02 15:04"), share)
	return err
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
