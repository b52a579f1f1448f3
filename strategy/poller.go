package strategy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Limits on a strategy document. They bound the work a compromised or
// broken strategy server can make every client do.
const (
	maxBody      = 1 << 20 // bytes of a strategy answer
	maxRules     = 64
	maxRuleWhen  = 1024 // characters of one rule's condition
	maxRedirects = 10   // as net/http's default policy
)

const (
	defaultInterval = 60 * time.Second
	defaultTimeout  = 5 * time.Second
)

// Sources of the strategy snapshot, as reported in PollStatus.Source.
const (
	SourceRemote = "remote" // fetched from the strategy URL by this process
	SourceCache  = "cache"  // loaded from the disk cache at start-up
	SourceConfig = "config" // nothing fetched or cached: routing uses the config
)

// Strategy is the remote strategy document (DESIGN §4).
type Strategy struct {
	Strategy    Side       `json:"strategy"` // must be "local" or "remote"
	LocalModel  string     `json:"local_model"`
	RemoteModel string     `json:"remote_model"`
	UpdatedAt   string     `json:"updated_at"`
	Rules       []RuleSpec `json:"rules,omitempty"`
}

// RuleSpec is a routing rule as written in a strategy or the config: when
// the expr condition When holds, the request goes to Use (local, remote or
// provider/model). It is compiled elsewhere; here it is only checked for shape.
type RuleSpec struct {
	When string `json:"when"`
	Use  string `json:"use"`
}

// ParseStrategy decodes a strategy document. Unknown fields are ignored, so
// the server can add fields older clients don't know; but the strategy must
// be "local" or "remote" and every rule must have a condition and a target,
// because a half-understood strategy must not change routing.
func ParseStrategy(b []byte) (*Strategy, error) {
	var s Strategy
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if s.Strategy != Local && s.Strategy != Remote {
		return nil, fmt.Errorf("strategy must be %q or %q, got %q", Local, Remote, s.Strategy)
	}
	if len(s.Rules) > maxRules {
		return nil, fmt.Errorf("at most %d rules are allowed, got %d", maxRules, len(s.Rules))
	}
	for i, r := range s.Rules {
		switch {
		case strings.TrimSpace(r.When) == "":
			return nil, fmt.Errorf("rule %d: when is empty", i+1)
		case utf8.RuneCountInString(r.When) > maxRuleWhen:
			return nil, fmt.Errorf("rule %d: when is longer than %d characters", i+1, maxRuleWhen)
		case strings.TrimSpace(r.Use) == "":
			return nil, fmt.Errorf("rule %d: use is empty", i+1)
		}
	}
	if len(s.Rules) == 0 {
		// "rules": [] and no rules at all are the same strategy.
		s.Rules = nil
	}
	return &s, nil
}

// equal reports whether a and b route the same way.
func (a *Strategy) equal(b *Strategy) bool {
	return a.Strategy == b.Strategy && a.LocalModel == b.LocalModel &&
		a.RemoteModel == b.RemoteModel && a.UpdatedAt == b.UpdatedAt &&
		slices.Equal(a.Rules, b.Rules)
}

// PollerOptions configures a Poller.
type PollerOptions struct {
	// URL is the strategy document's address: https://, or http:// to a
	// loopback or private IP address (or localhost).
	URL string
	// Interval is the time between polls; each wait varies by up to ±10%
	// so many clients don't hit the server in lockstep. Default 60s.
	Interval time.Duration
	// Timeout bounds one fetch, body included. Default 5s.
	Timeout time.Duration
	// Headers are sent with every request (e.g. Authorization). Their
	// values are secrets: they never appear in logs or errors.
	Headers map[string]string
	// CachePath is where the last good strategy is kept across restarts;
	// "" disables the disk cache.
	CachePath string
	// Client makes the requests; nil means a default client. The poller
	// replaces its CheckRedirect so the redirect rules hold for any client.
	Client *http.Client
	// Validate is called on every candidate strategy before it is accepted
	// (the rule compiler hooks in here); an error rejects the answer exactly
	// like invalid JSON. May be nil.
	Validate func(*Strategy) error
	// Logger receives poll failures and strategy changes; nil means slog.Default().
	Logger *slog.Logger
}

// PollStatus describes where the current strategy came from, for /health
// and the tray.
type PollStatus struct {
	Source    string    // SourceRemote, SourceCache or SourceConfig
	URL       string    // the strategy URL, password redacted
	FetchedAt time.Time // last successful fetch (200 or 304); zero if none yet
	CheckedAt time.Time // last attempt; zero if none yet
	Error     string    // last attempt's error, "" after a success; never contains header values
	// Stale reports that the last attempt failed, so the snapshot may be
	// older than what the source would now give.
	Stale bool
}

// Poller keeps the remote strategy up to date. A failed, slow, oversized or
// invalid answer never changes the snapshot: routing stays on the last good
// strategy, which also survives restarts through the disk cache.
type Poller struct {
	url       string // redacted, for messages
	target    *url.URL
	interval  time.Duration
	timeout   time.Duration
	headers   map[string]string
	cachePath string
	client    *http.Client
	validate  func(*Strategy) error
	log       *slog.Logger

	// cur is read on every request, so it is an atomic pointer rather than
	// state under mu.
	cur atomic.Pointer[Strategy]

	// sem serializes fetches, Run's and Refresh's, so that the validators
	// sent, the snapshot and the cache always come from one answer. It is a
	// channel rather than a mutex so a waiting Refresh can give up with its ctx.
	sem chan struct{}
	// Held under sem:
	etag, lastModified string // from the last accepted 200
	cached             []byte // what CachePath holds, to skip rewriting it

	mu     sync.Mutex // guards status, subs and nextID
	status PollStatus
	subs   map[int]chan struct{}
	nextID int
}

// NewPoller returns a Poller for o. It fails for a URL that is not http(s),
// or is http:// to a host that is neither loopback nor private: a plain-text
// strategy from the internet could be rewritten on the way. The disk cache,
// when present and valid, becomes the initial snapshot. No request is made
// until Run or Refresh.
func NewPoller(o PollerOptions) (*Poller, error) {
	u, err := checkURL(o.URL)
	if err != nil {
		return nil, err
	}
	p := &Poller{
		url:       u.Redacted(),
		target:    u,
		interval:  o.Interval,
		timeout:   o.Timeout,
		headers:   maps.Clone(o.Headers),
		cachePath: o.CachePath,
		validate:  o.Validate,
		log:       o.Logger,
		sem:       make(chan struct{}, 1),
		subs:      map[int]chan struct{}{},
	}
	if p.interval <= 0 {
		p.interval = defaultInterval
	}
	if p.timeout <= 0 {
		p.timeout = defaultTimeout
	}
	if p.log == nil {
		p.log = slog.Default()
	}
	c := &http.Client{}
	if o.Client != nil {
		c2 := *o.Client
		c = &c2
	}
	c.CheckRedirect = checkRedirect
	p.client = c
	p.status = PollStatus{Source: SourceConfig, URL: p.url}
	p.loadCache()
	return p, nil
}

// checkURL parses raw and applies the scheme rule.
func checkURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error quotes the URL, which may hold a password.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("strategy url: %w", err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("strategy url %s: scheme must be https (or http to a local address)", u.Redacted())
	case u.Hostname() == "":
		return nil, fmt.Errorf("strategy url %s: no host", u.Redacted())
	case u.Scheme == "http" && !isLocalHost(u.Hostname()):
		return nil, fmt.Errorf("strategy url %s: plain http is only allowed to a loopback or private address; use https", u.Redacted())
	}
	return u, nil
}

// isLocalHost reports whether host is localhost or a loopback or private IP
// address. Other names are refused even if they resolve to such an address
// today, since DNS can change its answer.
func isLocalHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return false
	}
	a = a.Unmap()
	return a.IsLoopback() || a.IsPrivate()
}

// checkRedirect follows redirects only within the strategy URL's origin
// (scheme, host and port), so a redirect cannot send the configured headers
// (tokens) elsewhere or drop to plain text. net/http copies our headers to
// any redirect on the same host name, whatever the port, and another port
// can be another program or another user's server.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	to, from := req.URL, via[0].URL
	switch {
	case !strings.EqualFold(to.Hostname(), from.Hostname()):
		return fmt.Errorf("redirect to another host (%s) refused", to.Hostname())
	case from.Scheme == "https" && to.Scheme != "https":
		return errors.New("redirect from https to http refused")
	case to.Scheme != from.Scheme || originPort(to) != originPort(from):
		return fmt.Errorf("redirect to another origin (%s://%s) refused", to.Scheme, to.Host)
	}
	return nil
}

// originPort returns u's port, or its scheme's default when u has none, so
// that https://h and https://h:443 are one origin.
func originPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// Current returns the strategy in force, or nil when none is known (routing
// then follows the config). It never locks. The result is shared: callers
// must not modify it.
func (p *Poller) Current() *Strategy { return p.cur.Load() }

// Status returns where the current strategy came from and how the last
// fetch went.
func (p *Poller) Status() PollStatus {
	p.mu.Lock()
	s := p.status
	p.mu.Unlock()
	s.Stale = s.Error != "" && p.cur.Load() != nil
	return s
}

// Subscribe returns a channel that receives a signal when the strategy
// changes or the last fetch's error appears or clears; the receiver then
// reads Current and Status. Signals coalesce: the channel holds at most one
// and sending never blocks the poller. The returned func unsubscribes; the
// channel is not closed, so a select on it never spins.
func (p *Poller) Subscribe() (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	p.mu.Lock()
	id := p.nextID
	p.nextID++
	p.subs[id] = ch
	p.mu.Unlock()
	return ch, func() {
		p.mu.Lock()
		delete(p.subs, id)
		p.mu.Unlock()
	}
}

// notifyLocked signals every subscriber. p.mu must be held, so a signal
// never races an unsubscribe and always follows the state it announces.
func (p *Poller) notifyLocked() {
	for _, ch := range p.subs {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Run fetches the strategy at once, then every Interval (±10%), until ctx
// ends; it then returns ctx.Err(). Failed fetches are logged and reported
// by Status; they never stop Run. Call Run at most once.
func (p *Poller) Run(ctx context.Context) error {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		_ = p.fetch(ctx) // logged and kept in Status
		t.Reset(p.nextDelay())
	}
}

// nextDelay is the poll interval with up to ±10% jitter.
func (p *Poller) nextDelay() time.Duration {
	j := int64(p.interval / 10)
	if j <= 0 {
		return p.interval
	}
	return p.interval + time.Duration(rand.Int64N(2*j+1)-j)
}

// Refresh fetches the strategy now and returns the fetch's error. It is safe
// to call concurrently with Run; if a fetch is already under way, Refresh
// waits for it and then fetches again.
func (p *Poller) Refresh(ctx context.Context) error { return p.fetch(ctx) }

// fetch makes one attempt and records its outcome, unless ctx ended first:
// the caller going away says nothing about the strategy server.
func (p *Poller) fetch(ctx context.Context) error {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.sem }()

	s, body, notModified, err := p.get(ctx)
	if err != nil && ctx.Err() != nil {
		return fmt.Errorf("strategy %s: %w", p.url, ctx.Err())
	}
	now := time.Now()
	if err != nil {
		p.fail(now, err)
		return err
	}
	if !notModified {
		p.saveCache(body)
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	changed := false
	if s != nil {
		if old := p.cur.Load(); old == nil || !old.equal(s) {
			p.cur.Store(s)
			changed = true
			p.log.Info("strategy changed", "url", p.url, "strategy", s.Strategy,
				"local_model", s.LocalModel, "remote_model", s.RemoteModel,
				"updated_at", s.UpdatedAt, "rules", len(s.Rules))
		}
	}
	recovered := p.status.Error != ""
	if recovered {
		p.log.Info("strategy poll recovered", "url", p.url)
	}
	// The first good fetch after a start from the cache changes what the
	// status shows even when the strategy is the same.
	sourceChanged := p.status.Source != SourceRemote
	p.status.Source = SourceRemote
	p.status.FetchedAt = now
	p.status.CheckedAt = now
	p.status.Error = ""
	if changed || recovered || sourceChanged {
		p.notifyLocked()
	}
	return nil
}

// fail records a failed attempt; the snapshot stays as it was.
func (p *Poller) fail(now time.Time, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	prev := p.status.Error
	p.status.CheckedAt = now
	p.status.Error = err.Error()
	if p.status.Error == prev {
		// The same failure every interval is news only once.
		p.log.Debug("strategy poll failed again", "url", p.url, "err", err)
		return
	}
	p.log.Warn("strategy poll failed; keeping the last good strategy", "url", p.url, "err", err)
	if prev == "" {
		p.notifyLocked()
	}
}

// get makes one conditional GET. It returns the accepted strategy and its
// raw body, or notModified for a 304. Held under p.sem.
func (p *Poller) get(ctx context.Context) (s *Strategy, body []byte, notModified bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	defer func() {
		if err != nil && ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("no answer within %v: %w", p.timeout, context.DeadlineExceeded)
		}
		if err != nil {
			err = fmt.Errorf("strategy %s: %w", p.url, err)
		}
	}()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.target.String(), nil)
	if err != nil {
		return nil, nil, false, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "LocalRouter")
	for k, v := range p.headers {
		req.Header.Set(k, v)
	}
	conditional := p.etag != "" || p.lastModified != ""
	if p.etag != "" {
		req.Header.Set("If-None-Match", p.etag)
	}
	if p.lastModified != "" {
		req.Header.Set("If-Modified-Since", p.lastModified)
	}

	resp, err := p.client.Do(req)
	if err != nil {
		// url.Error repeats the URL unredacted; the deferred wrap adds
		// the redacted one.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, false, err
	}
	defer resp.Body.Close()

	switch {
	case resp.StatusCode == http.StatusNotModified && conditional:
		return nil, nil, true, nil
	case resp.StatusCode != http.StatusOK:
		return nil, nil, false, fmt.Errorf("status %d", resp.StatusCode)
	}
	body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, nil, false, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxBody {
		return nil, nil, false, errors.New("body larger than 1 MiB")
	}
	s, err = p.accept(body)
	if err != nil {
		return nil, nil, false, err
	}
	p.etag = resp.Header.Get("ETag")
	p.lastModified = resp.Header.Get("Last-Modified")
	return s, body, false, nil
}

// accept parses and validates a candidate strategy.
func (p *Poller) accept(body []byte) (*Strategy, error) {
	s, err := ParseStrategy(body)
	if err != nil {
		return nil, err
	}
	if p.validate != nil {
		if err := p.validate(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// loadCache installs the cached strategy, if any, as the initial snapshot.
// A bad cache is only logged: the first fetch will replace it.
func (p *Poller) loadCache() {
	if p.cachePath == "" {
		return
	}
	b, err := readCache(p.cachePath)
	if errors.Is(err, os.ErrNotExist) {
		return
	}
	var s *Strategy
	if err == nil {
		s, err = p.accept(b)
	}
	if err != nil {
		p.log.Warn("ignoring strategy cache", "path", p.cachePath, "err", err)
		return
	}
	p.cached = b
	p.cur.Store(s)
	p.status.Source = SourceCache
}

// readCache reads the cache file, which only ever holds an answer that
// passed the body cap, and is a regular file unless someone else put
// something there.
func readCache(path string) ([]byte, error) {
	return readRegularFile(path, maxBody)
}

// saveCache writes body to the cache file unless it already holds it. It
// replaces the file by rename so a crash never leaves half a strategy. A
// failure is only logged: routing does not depend on the cache. Held under p.sem.
func (p *Poller) saveCache(body []byte) {
	if p.cachePath == "" || bytes.Equal(body, p.cached) {
		return
	}
	if err := writeFileAtomic(p.cachePath, body); err != nil {
		p.log.Warn("cannot save strategy cache", "path", p.cachePath, "err", err)
		return
	}
	p.cached = body
}

func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".strategy-*.tmp") // mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
