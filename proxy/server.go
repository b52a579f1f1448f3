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
	"sync/atomic"
	"syscall"
	"time"

	"github.com/localrouter/localrouter/config"
	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/mock"
	"github.com/localrouter/localrouter/strategy"
)

// Router decides where a request goes. *strategy.Engine implements it.
type Router interface {
	Decide(strategy.Request) (strategy.Decision, error)
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
}

// Server serves the API. Build it with New, run it with Run.
type Server struct {
	version string
	log     *slog.Logger
	grace   time.Duration
	handler http.Handler

	// state is replaced whole when the configuration changes; handlers load
	// it once per request and never lock.
	state atomic.Pointer[state]
	mock  atomic.Bool
}

// state is everything derived from one configuration.
type state struct {
	cfg        *config.Config
	router     Router
	up         *upstreams
	mock       *mock.Provider
	mockReason string // why mock mode is forced, or "" when it is not
	maxBody    int64
}

// New builds a Server from o.Config.
func New(o Options) (*Server, error) {
	s := &Server{version: o.Version, log: o.Logger, grace: o.ShutdownGrace}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.grace <= 0 {
		s.grace = 5 * time.Second
	}
	st, err := s.newState(o.Config)
	if err != nil {
		return nil, err
	}
	s.state.Store(st)
	s.mock.Store(o.Mock)
	st.up.logSkipped(s.log)
	if on, why := st.mockMode(s); on {
		s.log.Warn("serving from the mock provider", "reason", why, "config", o.Config.Path)
	}

	mux := http.NewServeMux()
	for _, prefix := range []string{"/v1", ""} {
		mux.HandleFunc("POST "+prefix+"/chat/completions", s.chat)
		mux.HandleFunc(prefix+"/chat/completions", methodNotAllowed("POST"))
		mux.HandleFunc("GET "+prefix+"/models", s.models)
		mux.HandleFunc(prefix+"/models", methodNotAllowed("GET"))
	}
	mux.HandleFunc("GET /health", s.health)
	mux.HandleFunc("/health", methodNotAllowed("GET"))
	mux.HandleFunc("/", notFound)
	s.handler = newGuard(o.Config.Server.Host, o.Config.Server.AllowedOrigins, string(o.Config.Server.APIKey)).wrap(mux)
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
	st := &state{cfg: cfg, router: eng, up: up, mock: mock.New(cfg.Mock.TokenDelay), maxBody: int64(cfg.Server.MaxBody)}
	if len(up.byName) == 0 {
		st.mockReason = "no usable provider: set an api_key or base_url in the config"
	}
	return st, nil
}

// Handler returns the server's HTTP handler, guard included.
func (s *Server) Handler() http.Handler { return s.handler }

// SetMock turns mock mode on or off.
func (s *Server) SetMock(on bool) { s.mock.Store(on) }

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
	return ln, err
}

// Serve serves on ln until ctx ends, then lets running requests and streams
// finish for the shutdown grace period before closing them.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler: s.handler,
		// No WriteTimeout: it would cut long streams.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), s.grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		s.log.Warn("shutdown: streams still running after the grace period were closed", "grace", s.grace)
		err = srv.Close()
	}
	<-errc
	return err
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, newAPIError(http.StatusMethodNotAllowed, "invalid_request_error", "method_not_allowed", "",
			r.Method+" is not allowed on "+r.URL.Path+": use "+allow))
	}
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, newAPIError(http.StatusNotFound, "invalid_request_error", "unknown_url", "",
		"unknown URL "+r.URL.Path+": LocalRouter serves /v1/chat/completions, /v1/models and /health"))
}
