// Package ui serves LocalRouter's web page, /ui (DESIGN §12): the
// live request log, tokens and cost per day, and the gateway's health. The
// page is hand-written HTML, CSS and JavaScript embedded in the binary, with
// charts drawn as SVG by its own script: it loads nothing from elsewhere and
// works offline.
//
// The handler reads the usage store and its live feed through the small
// interfaces below; the proxy mounts it behind its guard and serves
// /ui/api/status itself.
package ui

import (
	"context"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/localrouter/localrouter/assets"
	"github.com/localrouter/localrouter/proxy/usage"
)

// Store is what the page reads of the usage database; *usage.Store
// implements it.
type Store interface {
	Recent(ctx context.Context, f usage.Filter) ([]usage.Record, error)
	Get(ctx context.Context, id int64) (usage.Record, bool, error)
	Summary(ctx context.Context, since time.Time, by string) ([]usage.Bucket, error)
	Totals(ctx context.Context, since time.Time) (usage.Totals, error)
}

// Feed delivers each record as its request finishes; *usage.Recorder
// implements it. The returned func ends the subscription.
type Feed interface {
	Subscribe() (<-chan usage.Record, func())
}

// Options configure New.
type Options struct {
	// Store answers the page's queries; nil shows that usage recording
	// is off, and why (Off).
	Store Store
	// Off says why there is no Store; default that usage.enabled is false.
	Off string
	// Feed updates the live log; nil leaves it to the page's reloads.
	Feed Feed
	// Logger gets query failures; default slog.Default().
	Logger *slog.Logger
	// Now is the clock the windows (today, 7 days, 30 days) start from;
	// default time.Now.
	Now func() time.Time
}

// keepAlive is how often an idle live feed sends a comment, so that a
// connection the browser or a proxy between would drop stays open.
const keepAlive = 15 * time.Second

type handler struct {
	o   Options
	mux *http.ServeMux
}

// New returns the dashboard's handler for the paths under /ui/.
func New(o Options) http.Handler {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Off == "" {
		o.Off = offByConfig
	}
	h := &handler{o: o, mux: http.NewServeMux()}
	static, _ := fs.Sub(assets.UI, "ui")
	files := http.FileServerFS(static)
	h.mux.Handle("GET /ui/{$}", page(files, "/"))
	h.mux.Handle("GET /ui/app.js", page(files, "/app.js"))
	h.mux.Handle("GET /ui/app.css", page(files, "/app.css"))
	h.mux.HandleFunc("GET /ui/api/records", h.records)
	h.mux.HandleFunc("GET /ui/api/records/{id}", h.record)
	h.mux.HandleFunc("GET /ui/api/usage", h.usage)
	h.mux.HandleFunc("GET /ui/api/events", h.events)
	h.mux.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "unknown dashboard URL "+r.URL.Path)
	})
	return h
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// page serves one embedded file with headers that keep the page to itself:
// it may load only from the gateway, and no other site may frame it.
func page(files http.Handler, name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-cache")
		r2 := r.Clone(r.Context())
		r2.URL.Path = name
		files.ServeHTTP(w, r2)
	})
}

// record is a usage.Record as the page reads it.
type record struct {
	ID           int64     `json:"id"`
	Time         time.Time `json:"time"`
	Door         string    `json:"door"`
	Path         string    `json:"path"`
	Client       string    `json:"client"`
	Session      string    `json:"session"`
	Side         string    `json:"side"`
	Provider     string    `json:"provider"`
	Model        string    `json:"model"`
	Reason       string    `json:"reason"`
	Status       int       `json:"status"`
	Stream       bool      `json:"stream"`
	Fallback     bool      `json:"fallback"`
	Estimated    bool      `json:"estimated"`
	LatencyMS    float64   `json:"latency_ms"`
	TTFBMS       float64   `json:"ttfb_ms"`
	InputTokens  int       `json:"input_tokens"`
	OutputTokens int       `json:"output_tokens"`
	CostUSD      float64   `json:"cost_usd"`
	SavedUSD     float64   `json:"saved_usd"`
	Error        string    `json:"error,omitempty"`
	// RemoteProvider/RemoteModel price SavedUSD: the remote route the
	// request would have taken.
	RemoteProvider string `json:"remote_provider,omitempty"`
	RemoteModel    string `json:"remote_model,omitempty"`
}

func toRecord(r usage.Record) record {
	return record{ID: r.ID, Time: r.Time, Door: r.Door, Path: r.Path, Client: r.Client, Session: r.Session, Side: r.Side,
		Provider: r.Provider, Model: r.Model, Reason: r.Reason, Status: r.Status, Stream: r.Stream, Fallback: r.Fallback,
		Estimated: r.Estimated, LatencyMS: ms(r.Latency), TTFBMS: ms(r.TTFB), InputTokens: r.InputTokens,
		OutputTokens: r.OutputTokens, CostUSD: r.CostUSD, SavedUSD: r.SavedUSD, Error: r.Error,
		RemoteProvider: r.RemoteProvider, RemoteModel: r.RemoteModel}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

const offByConfig = "usage recording is off (usage.enabled: false in the config)"

// records serves GET /ui/api/records?side=&provider=&client=&errors=1&before=&limit=.
func (h *handler) records(w http.ResponseWriter, r *http.Request) {
	if h.o.Store == nil {
		h.off(w)
		return
	}
	q := r.URL.Query()
	f := usage.Filter{Side: q.Get("side"), Provider: q.Get("provider"), Client: q.Get("client"), ErrorsOnly: q.Get("errors") == "1"}
	var err error
	if s := q.Get("before"); s != "" {
		if f.BeforeID, err = strconv.ParseInt(s, 10, 64); err != nil || f.BeforeID < 0 {
			writeError(w, http.StatusBadRequest, "before must be a record id")
			return
		}
	}
	if s := q.Get("limit"); s != "" {
		if f.Limit, err = strconv.Atoi(s); err != nil || f.Limit < 1 {
			writeError(w, http.StatusBadRequest, "limit must be a positive number")
			return
		}
	}
	recs, err := h.o.Store.Recent(r.Context(), f)
	if err != nil {
		h.failed(w, "records", err)
		return
	}
	out := make([]record, 0, len(recs))
	for _, rec := range recs {
		out = append(out, toRecord(rec))
	}
	writeJSON(w, map[string]any{"records": out})
}

// record serves GET /ui/api/records/{id}: one record in full.
func (h *handler) record(w http.ResponseWriter, r *http.Request) {
	if h.o.Store == nil {
		h.off(w)
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "a record id is a number")
		return
	}
	rec, ok, err := h.o.Store.Get(r.Context(), id)
	if err != nil {
		h.failed(w, "record", err)
		return
	}
	if !ok {
		writeError(w, http.StatusNotFound, "no record "+strconv.FormatInt(id, 10)+" (retention may have pruned it)")
		return
	}
	writeJSON(w, toRecord(rec))
}

// windows are the page's time ranges.
var windows = map[string]int{"today": 0, "7d": 6, "30d": 29}

// since is the start of window w: local midnight today, or that many days
// before it, so that a window holds whole days as the day buckets count them.
func since(now time.Time, days int) time.Time {
	y, m, d := now.Date()
	return time.Date(y, m, d-days, 0, 0, 0, 0, now.Location())
}

// bucket is a usage.Bucket as the page reads it.
type bucket struct {
	Key          string  `json:"key"`
	Side         string  `json:"side"`
	Requests     int64   `json:"requests"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	Errors       int64   `json:"errors"`
	Fallbacks    int64   `json:"fallbacks"`
	CostUSD      float64 `json:"cost_usd"`
	SavedUSD     float64 `json:"saved_usd"`
}

// totals is a usage.Totals as the page reads it.
type totals struct {
	Requests      int64   `json:"requests"`
	LocalRequests int64   `json:"local_requests"`
	InputTokens   int64   `json:"input_tokens"`
	OutputTokens  int64   `json:"output_tokens"`
	Errors        int64   `json:"errors"`
	Fallbacks     int64   `json:"fallbacks"`
	CostUSD       float64 `json:"cost_usd"`
	SavedUSD      float64 `json:"saved_usd"`
}

// usage serves GET /ui/api/usage?range=today|7d|30d: the window's totals
// and its sums per day, provider, model and client, each split by side.
func (h *handler) usage(w http.ResponseWriter, r *http.Request) {
	if h.o.Store == nil {
		h.off(w)
		return
	}
	win := r.URL.Query().Get("range")
	if win == "" {
		win = "7d"
	}
	days, ok := windows[win]
	if !ok {
		writeError(w, http.StatusBadRequest, "range must be today, 7d or 30d")
		return
	}
	from := since(h.o.Now(), days)
	t, err := h.o.Store.Totals(r.Context(), from)
	if err != nil {
		h.failed(w, "totals", err)
		return
	}
	var dayKeys []string
	for d := from; !d.After(h.o.Now()); d = d.AddDate(0, 0, 1) {
		dayKeys = append(dayKeys, d.Format(time.DateOnly))
	}
	out := map[string]any{"range": win, "since": from, "days": dayKeys, "estimated": true,
		"totals": totals{Requests: t.Requests, LocalRequests: t.LocalRequests, InputTokens: t.InputTokens, OutputTokens: t.OutputTokens,
			Errors: t.Errors, Fallbacks: t.Fallbacks, CostUSD: t.CostUSD, SavedUSD: t.SavedUSD}}
	for _, by := range []string{"day", "provider", "model", "client"} {
		bs, err := h.o.Store.Summary(r.Context(), from, by)
		if err != nil {
			h.failed(w, "summary", err)
			return
		}
		list := make([]bucket, 0, len(bs))
		for _, b := range bs {
			list = append(list, bucket{Key: b.Key, Side: b.Side, Requests: b.Requests, InputTokens: b.InputTokens,
				OutputTokens: b.OutputTokens, Errors: b.Errors, Fallbacks: b.Fallbacks, CostUSD: b.CostUSD, SavedUSD: b.SavedUSD})
		}
		out["by_"+by] = list
	}
	writeJSON(w, out)
}

// events serves GET /ui/api/events: each record as its request finishes,
// as Server-Sent Events ("record" events, JSON data).
func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	if h.o.Feed == nil {
		h.off(w)
		return
	}
	recs, stop := h.o.Feed.Subscribe()
	defer stop()
	rc := http.NewResponseController(w)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	// The first bytes tell the page the feed is live before any record.
	if _, err := w.Write([]byte(": live\n\n")); err != nil || rc.Flush() != nil {
		return
	}
	tick := time.NewTicker(keepAlive)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if _, err := w.Write([]byte(": keep-alive\n\n")); err != nil || rc.Flush() != nil {
				return
			}
		case rec, ok := <-recs:
			if !ok {
				return
			}
			b, err := json.Marshal(toRecord(rec))
			if err != nil {
				continue
			}
			msg := make([]byte, 0, len(b)+32)
			msg = append(msg, "event: record\nid: "...)
			msg = strconv.AppendInt(msg, rec.ID, 10)
			msg = append(msg, "\ndata: "...)
			msg = append(append(msg, b...), "\n\n"...)
			if _, err := w.Write(msg); err != nil || rc.Flush() != nil {
				return
			}
		}
	}
}

// off answers a query the page makes of a store it does not have.
func (h *handler) off(w http.ResponseWriter) {
	writeError(w, http.StatusServiceUnavailable, h.o.Off+": the dashboard has no records to show")
}

func (h *handler) failed(w http.ResponseWriter, what string, err error) {
	h.o.Logger.Warn("dashboard query failed", "query", what, "err", err)
	writeError(w, http.StatusInternalServerError, "the usage database could not answer: "+err.Error())
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

// writeError answers in the API's error shape, which the page shows.
func writeError(w http.ResponseWriter, status int, msg string) {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"message": msg, "type": "invalid_request_error"}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}
