// Package proxy is LocalRouter's HTTP server: the OpenAI-compatible API,
// health and control endpoints, the security guard, and SSE relaying.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/localrouter/localrouter/config"
	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/mock"
	"github.com/localrouter/localrouter/proxy/usage"
	"github.com/localrouter/localrouter/strategy"
)

// Router decides where a request goes. *strategy.Engine implements it.
type Router interface {
	Decide(*strategy.Request, strategy.Live) (strategy.Decision, error)
	Fallback(*strategy.Request, strategy.Decision, strategy.Live) (strategy.Decision, bool)
	CheckStrategy(*strategy.Strategy) error
}

// Options configure a Server.
type Options struct {
	Config  *config.Config
	Version string
	Logger  *slog.Logger // default slog.Default()
	// Mock starts the server in mock mode (--mock).
	Mock bool
	// ShutdownGrace bounds how long running streams may finish on shutdown; default 5s.
	ShutdownGrace time.Duration
	// ReadTimeout bounds reading a request, headers and body, so that a
	// client that stalls mid-body cannot hold a connection; default 30s.
	// It never limits the answer: net/http clears the read deadline once
	// the body is read, and streams run as long as they last.
	ReadTimeout time.Duration
	// CacheDir holds the cached strategy and the persisted override and mock
	// mode (<os.UserCacheDir()>/localrouter); "" keeps nothing on disk.
	CacheDir string
	// Watch reloads the config when its file changes.
	Watch bool
	// Usage takes one record per routed request; nil keeps none. Prices
	// prices them, for it and for /metrics; nil prices nothing.
	Usage  Recorder
	Prices *usage.Prices
	// UsageStatus says how the usage store is doing, for /health and the
	// tray; nil when there is none.
	UsageStatus func() UsageStatus
	// Pprof serves Go's profiles under /debug/pprof/, behind the guard like
	// the API, for profiling the gateway under load (LOCALROUTER_PPROF=1).
	Pprof bool
	// UI serves the dashboard under /ui/ (the dashboard package); the
	// server guards it and adds /ui/api/status. Nil serves no dashboard.
	UI http.Handler
}

// Server serves the API. Build it with New, run it with Run.
type Server struct {
	version     string
	started     time.Time // what Ollama's /api/tags reports as the models' modified_at
	log         *slog.Logger
	grace       time.Duration
	readTimeout time.Duration
	handler     http.Handler

	cacheDir string
	watch    bool

	usage       Recorder      // nil: no usage records
	prices      *usage.Prices // nil: no costs
	usageStatus func() UsageStatus
	metrics     *metrics

	// state is replaced whole when the configuration changes; handlers load
	// it once per request and never lock.
	state     atomic.Pointer[state]
	mock      atomic.Bool
	override  atomic.Pointer[string] // nil = auto
	private   atomic.Bool            // Local only
	localDown atomic.Bool
	lhealth   localHealth                     // a local side that answers 5xx (localtruth.go)
	sessions  *strategy.Sessions              // outlives a config: a reload keeps the running sessions
	poller    atomic.Pointer[strategy.Poller] // nil without remote_strategy.url
	// listenedAs is the configured address Listen used, and bound the
	// address it got: a reload may change the config but not the socket.
	listenedAs, bound atomic.Pointer[string]

	pollMu   sync.Mutex // guards pollStop, serialising poller restarts
	pollStop context.CancelFunc

	saveMu sync.Mutex // serialises writes of the state file

	reloadMu sync.Mutex    // serialises reloads: the file watcher's and Reload's
	reloadc  chan struct{} // 1-buffered: a Reload waiting for Run

	ui *uiAuth // the dashboard's one-time tokens and sessions (ui.go)
	// uiQuit ends the dashboard's live feeds when shutdown begins, so
	// that an open page does not hold it up (ui.go).
	uiQuit    context.Context
	uiQuitNow context.CancelFunc

	subMu sync.Mutex // guards subs
	subs  map[chan struct{}]struct{}
	ev    events
	wg    sync.WaitGroup // background goroutines started by Run
}

// state is everything derived from one configuration.
type state struct {
	cfg        *config.Config
	router     Router
	up         *upstreams
	mock       *mock.Provider
	mockReason string // why mock mode is forced, or "" when it is not
	maxBody    int64
	guard      *guard
	secrets    *providers.SecretScanner // the built-in secrets and privacy.patterns
	// truth is what the local probe learned of this config's local
	// providers (localtruth.go); nil before the first probe.
	truth atomic.Pointer[localTruth]
}

// New builds a Server from o.Config.
func New(o Options) (*Server, error) {
	s := &Server{version: o.Version, started: time.Now(), log: o.Logger, grace: o.ShutdownGrace, readTimeout: o.ReadTimeout, cacheDir: o.CacheDir, watch: o.Watch,
		subs: map[chan struct{}]struct{}{}, reloadc: make(chan struct{}, 1), ui: newUIAuth()}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.usage, s.prices, s.usageStatus, s.metrics = o.Usage, o.Prices, o.UsageStatus, newMetrics()
	if s.grace <= 0 {
		s.grace = 5 * time.Second
	}
	if s.readTimeout <= 0 {
		s.readTimeout = 30 * time.Second
	}
	s.uiQuit, s.uiQuitNow = context.WithCancel(context.Background())
	st, err := s.newState(o.Config)
	if err != nil {
		return nil, err
	}
	s.sessions = strategy.NewSessions(o.Config.Routing.SessionMax, o.Config.Routing.SessionTTL)
	s.state.Store(st)
	if saved, ok := s.loadState(); ok {
		s.mock.Store(saved.Mock)
		s.private.Store(saved.Private)
		if saved.Override == OverrideLocal || saved.Override == OverrideRemote {
			s.override.Store(&saved.Override)
		}
	}
	if o.Mock {
		s.mock.Store(true)
	}
	if p, err := s.newPoller(o.Config); err != nil {
		return nil, fmt.Errorf("config %s: remote_strategy: %w", o.Config.Path, err)
	} else {
		// Routing uses the cached strategy from the first request on.
		s.poller.Store(p)
	}
	st.up.logSkipped(s.log)
	if on, why := st.mockMode(s); on {
		s.log.Warn("serving from the mock provider", "reason", why, "config", o.Config.Path)
	}

	mux := http.NewServeMux()
	responses := s.serve(responsesDoor{store: newResponseStore(storeMaxEntries, storeMaxBytes)})
	for _, prefix := range []string{"/v1", ""} {
		mux.HandleFunc("POST "+prefix+"/chat/completions", s.serve(chatDoor{}))
		mux.HandleFunc(prefix+"/chat/completions", methodNotAllowed("POST"))
		mux.HandleFunc("POST "+prefix+"/messages", s.serve(messagesDoor{}))
		mux.HandleFunc(prefix+"/messages", methodNotAllowed("POST"))
		mux.HandleFunc("POST "+prefix+"/messages/count_tokens", s.countTokens)
		mux.HandleFunc(prefix+"/messages/count_tokens", methodNotAllowed("POST"))
		mux.HandleFunc("POST "+prefix+"/completions", s.serve(completionsDoor{}))
		mux.HandleFunc(prefix+"/completions", methodNotAllowed("POST"))
		mux.HandleFunc("POST "+prefix+"/embeddings", s.serve(embeddingsDoor{}))
		mux.HandleFunc(prefix+"/embeddings", methodNotAllowed("POST"))
		mux.HandleFunc("POST "+prefix+"/responses", responses)
		mux.HandleFunc(prefix+"/responses", methodNotAllowed("POST"))
		mux.HandleFunc("GET "+prefix+"/models", s.models)
		mux.HandleFunc(prefix+"/models", methodNotAllowed("GET"))
	}
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("/health", methodNotAllowed("GET"))
	mux.HandleFunc("GET /localrouter/status", s.health)
	mux.HandleFunc("/localrouter/status", methodNotAllowed("GET"))
	mux.HandleFunc("PUT /localrouter/override", s.putOverride)
	mux.HandleFunc("/localrouter/override", methodNotAllowed("PUT"))
	mux.HandleFunc("PUT /localrouter/mock", s.putMock)
	mux.HandleFunc("PUT /localrouter/private", s.putPrivate)
	mux.HandleFunc("/localrouter/private", methodNotAllowed("PUT"))
	mux.HandleFunc("/localrouter/mock", methodNotAllowed("PUT"))
	mux.HandleFunc("POST /localrouter/refresh", s.refresh)
	mux.HandleFunc("/localrouter/refresh", methodNotAllowed("POST"))
	// Ollama's discovery endpoints. GET / also answers the HEAD / that
	// clients probe the root with before their first request (Claude
	// Code's gateway check).
	mux.HandleFunc("GET /{$}", ollamaRoot)
	mux.HandleFunc("GET /api/version", ollamaVersionInfo)
	mux.HandleFunc("GET /api/tags", s.ollamaTags(false))
	mux.HandleFunc("GET /api/ps", s.ollamaTags(true))
	mux.HandleFunc("POST /api/show", s.ollamaShow)
	mux.HandleFunc("POST /api/chat", s.serve(ollamaChatDoor{}))
	mux.HandleFunc("POST /api/generate", s.serve(ollamaGenerateDoor{}))
	mux.HandleFunc("POST /api/embed", s.serve(ollamaEmbedDoor{}))
	mux.HandleFunc("POST /api/embeddings", s.serve(ollamaEmbedDoor{legacy: true}))
	if o.UI != nil {
		mux.Handle("/ui/", s.untilShutdown(o.UI))
		mux.Handle("GET /ui", http.RedirectHandler("/ui/", http.StatusSeeOther))
		mux.HandleFunc("GET /ui/api/status", s.uiStatus)
	}
	mux.HandleFunc("POST /localrouter/dashboard", s.dashboardLink)
	mux.HandleFunc("/localrouter/dashboard", methodNotAllowed("POST"))
	mux.Handle("GET /metrics", s.metrics.handler())
	if o.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("/", notFound)
	// The guard comes from the current config, so a reload changes it too.
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.state.Load().guard.allow(w, r) {
			mux.ServeHTTP(w, r)
		}
	})
	return s, nil
}

func (s *Server) newState(cfg *config.Config) (*state, error) {
	up, err := buildUpstreams(cfg, "LocalRouter/"+s.version)
	if err != nil {
		return nil, err
	}
	eng, err := strategy.NewEngine(up.table)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", cfg.Path, err)
	}
	st := &state{cfg: cfg, router: eng, up: up, mock: mock.New(cfg.Mock.TokenDelay), maxBody: int64(cfg.Server.MaxBody),
		guard: newGuard(cfg.Server.Host, cfg.Server.AllowedOrigins, string(cfg.Server.APIKey))}
	st.guard.ui = s.ui
	if st.secrets, err = providers.NewSecretScanner(cfg.Privacy.Patterns); err != nil {
		return nil, fmt.Errorf("config %s: %w", cfg.Path, err)
	}
	if len(up.byName) == 0 {
		st.mockReason = "no usable provider: set an api_key or base_url in the config"
	}
	return st, nil
}

// Handler returns the server's HTTP handler, guard included.
func (s *Server) Handler() http.Handler { return s.handler }

// mockMode reports whether requests are answered by the mock, and why.
func (st *state) mockMode(s *Server) (bool, string) {
	if st.mockReason != "" {
		return true, st.mockReason
	}
	if s.mock.Load() {
		return true, "mock mode is on"
	}
	return false, ""
}

// provider returns the provider for d, or the mock standing in for it.
func (s *Server) provider(st *state, d strategy.Decision) (providers.Provider, bool) {
	if on, _ := st.mockMode(s); on {
		return st.mock.StandIn(string(d.Side) + ":" + d.Provider + "/" + d.Model), true
	}
	p, ok := st.up.byName[d.Provider]
	return p, ok
}

// Listen opens the configured address. A port already in use (another
// gateway on 8080 is common) gets a message that says how to change it.
func (s *Server) Listen() (net.Listener, error) {
	cfg := s.state.Load().cfg
	ln, err := net.Listen("tcp", cfg.Addr())
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("cannot listen on %s: the port is already in use (another gateway or LocalRouter?): stop it, or set server.port in %s", cfg.Addr(), cfg.Path)
	}
	if err != nil {
		return nil, err
	}
	addr, bound := cfg.Addr(), ln.Addr().String()
	s.listenedAs.Store(&addr)
	s.bound.Store(&bound)
	return ln, nil
}

// Run serves on ln and runs the strategy poller, the local health probe and
// the config watcher until ctx ends; then it lets running requests and
// streams finish for the shutdown grace period and waits for everything it
// started.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	bctx, stop := context.WithCancel(ctx)
	defer func() {
		stop()
		s.wg.Wait()
	}()
	if p := s.poller.Load(); p != nil {
		s.startPoller(bctx, p)
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.probe(bctx)
	}()
	if path := s.state.Load().cfg.Path; s.watch && path != "" {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := config.Watch(bctx, path, func(c *config.Config, err error) { s.reloadWith(bctx, c, err) }); err != nil && bctx.Err() == nil {
				s.log.Warn("config file not watched: edits need a restart or SIGHUP", "path", path, "err", err)
			}
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			select {
			case <-s.reloadc:
				s.reloadFile(bctx)
			case <-bctx.Done():
				return
			}
		}
	}()
	return s.Serve(ctx, ln)
}

// Reload reads the config file again and applies it as an edit of the file
// would be: a broken file is rejected and the running config stays. It
// returns at once; Run does the work, and Reloads made while one waits
// are one.
func (s *Server) Reload() {
	select {
	case s.reloadc <- struct{}{}:
	default:
	}
}

func (s *Server) reloadFile(ctx context.Context) {
	path := s.state.Load().cfg.Path
	if path == "" {
		s.log.Warn("config reload: this config has no file")
		return
	}
	s.log.Info("config reload requested", "path", path)
	cfg, err := config.Load(path)
	s.reloadWith(ctx, cfg, err)
}

func (s *Server) reloadWith(ctx context.Context, cfg *config.Config, err error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.reload(ctx, cfg, err)
}

// Serve serves on ln until ctx ends, then lets running requests and streams
// finish for the shutdown grace period before closing them; those still
// running then first tell their clients why (a final stream error event,
// or a 503).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	// Requests run under base, so that the streams still running when the
	// grace period ends learn why they are cut and can tell their clients.
	base, cut := context.WithCancelCause(context.Background())
	defer cut(nil)
	srv := &http.Server{
		Handler: s.handler,
		// No WriteTimeout: it would cut long streams. ReadTimeout runs from
		// the request's first byte until its body is read, and applies again
		// to each request on a kept-alive connection.
		ReadHeaderTimeout: min(10*time.Second, s.readTimeout),
		ReadTimeout:       s.readTimeout,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return base },
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.uiQuitNow()
	sctx, cancel := context.WithTimeout(context.Background(), s.grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("shutdown: streams still running after the grace period were closed", "grace", s.grace)
		cut(errShuttingDown)
		// A moment for each to send its final error event before the close.
		fctx, fcancel := context.WithTimeout(context.Background(), lastWords)
		srv.Shutdown(fctx)
		fcancel()
		err = srv.Close()
	}
	<-errc
	return err
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeErrorFor(w, r, newAPIError(http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed", "",
			r.Method+" is not allowed on "+r.URL.Path+": use "+allow))
	}
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeErrorFor(w, r, newAPIError(http.StatusNotFound, "invalid_request_error", "unknown_url", "",
		"unknown URL "+r.URL.Path+": LocalRouter serves /v1/chat/completions, /v1/messages, /v1/models, /health and /localrouter/{status,override,private,mock,refresh}"))
}
