package proxy

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/proxy/usage"
	"github.com/localrouter/localrouter/strategy"
)

// Recorder takes one usage record per routed request (DESIGN §12).
// *usage.Recorder implements it; Record must not block.
type Recorder interface {
	Record(usage.Record)
}

// requestLog gathers what the one log line and the one usage record per
// request say.
type requestLog struct {
	start    time.Time
	endpoint string // the door: chat, messages, ...
	client   string // the calling tool, when its User-Agent says
	session  string
	stream   bool
	route    string
	status   int
	overhead time.Duration
	usage    *providers.Usage
	chunks   int
	err      string

	// req is what routing saw, nil when the request never reached it (bad
	// JSON, too large): only such a request leaves no usage record. router
	// and live are what decided it, to ask where it would have gone remote.
	req    *strategy.Request
	router Router
	live   strategy.Live
	dec    strategy.Decision // the route taken, after fallback; zero when none was found
	ttfb   time.Duration     // until the first byte of a stream; a whole answer's is its latency
	// fallback is set when the first route failed; failedProvider and
	// failedStatus say how, for the upstream error counter.
	fallback       bool
	failedProvider string
	failedStatus   int
}

func (l *requestLog) fail(status int, err error) {
	l.status = status
	l.err = err.Error()
}

// fellBack notes that dec failed with err and the request went elsewhere.
func (l *requestLog) fellBack(dec strategy.Decision, err error) {
	l.fallback, l.failedProvider, l.failedStatus = true, dec.Provider, errorFor(err).status
}

func (l *requestLog) write(log *slog.Logger, r *http.Request) {
	level := slog.LevelInfo
	switch {
	case l.status == statusClientClosed:
		level = slog.LevelDebug
	case l.status >= 500 || l.err != "":
		level = slog.LevelWarn
	}
	h := log.Handler()
	if !h.Enabled(r.Context(), level) {
		return
	}
	// The record goes to the handler itself: Logger.LogAttrs would also
	// walk the stack for a source location that is never printed.
	var buf [14]slog.Attr
	attrs := append(buf[:0],
		slog.String("path", r.URL.Path),
		slog.String("endpoint", l.endpoint),
		slog.Int("status", l.status),
		slog.Bool("stream", l.stream),
		slog.Duration("latency", time.Since(l.start)),
		slog.Int64("overhead_us", l.overhead.Microseconds()),
	)
	if l.route != "" {
		attrs = append(attrs, slog.String("route", l.route))
	}
	if l.client != "" {
		attrs = append(attrs, slog.String("client", l.client))
	}
	if l.session != "" {
		attrs = append(attrs, slog.String("session", l.session))
	}
	if l.usage != nil {
		attrs = append(attrs, slog.Int("prompt_tokens", l.usage.PromptTokens), slog.Int("completion_tokens", l.usage.CompletionTokens))
	}
	if l.stream {
		attrs = append(attrs, slog.Int("chunks", l.chunks))
	}
	if l.err != "" {
		attrs = append(attrs, slog.String("err", l.err))
	}
	rec := slog.NewRecord(time.Now(), level, "request", 0)
	rec.AddAttrs(attrs...)
	h.Handle(r.Context(), rec)
}

// remoteRouter is a Router that can say where a request would have gone
// on the remote side; *strategy.Engine is one.
type remoteRouter interface {
	RemoteFor(*strategy.Request, strategy.Decision, strategy.Live) (strategy.Decision, bool)
}

// record sends the request's usage record to the metrics and the usage
// store. It runs once the answer is written, on the request's goroutine:
// it builds a value and queues it, nothing more.
func (s *Server) record(l *requestLog, r *http.Request, w http.ResponseWriter) {
	if l.req == nil {
		return
	}
	now := time.Now()
	u := usage.Record{Time: now, Door: doorName(r.URL.Path, l.endpoint), Path: r.URL.Path, Client: l.client,
		Session: l.session, Side: string(l.dec.Side), Provider: l.dec.Provider, Model: l.dec.Model, Reason: l.dec.Reason,
		Status: l.status, Stream: l.stream, Fallback: l.fallback, Latency: now.Sub(l.start), TTFB: l.ttfb, Error: l.err}
	if !l.stream || u.TTFB == 0 {
		u.TTFB = u.Latency
	}
	if l.usage != nil {
		u.InputTokens, u.OutputTokens = l.usage.PromptTokens, l.usage.CompletionTokens
	} else if l.dec.Provider != "" && (l.status < 400 || l.chunks > 0) {
		// The upstream said nothing: the prompt's estimate, and for the
		// answer one token per streamed event (what providers send) or a
		// quarter of a whole answer's bytes. A request refused before any
		// answer used no tokens.
		u.Estimated = true
		u.InputTokens = l.req.EstTokens
		if l.stream {
			u.OutputTokens = l.chunks
		} else if n, err := strconv.Atoi(w.Header().Get("Content-Length")); err == nil && l.status < 400 {
			u.OutputTokens = n / 4
		}
	}
	if l.dec.Side == strategy.Local {
		if rr, ok := l.router.(remoteRouter); ok {
			if alt, ok := rr.RemoteFor(l.req, l.dec, l.live); ok {
				u.RemoteProvider, u.RemoteModel = alt.Provider, alt.Model
			}
		}
	}
	if s.prices != nil {
		s.prices.Fill(&u)
	}
	s.metrics.observe(&u, l.failedProvider, l.failedStatus)
	if s.usage != nil {
		s.usage.Record(u)
	}
}

// doorName is the front door a record names: the door's endpoint, with
// Ollama's own API told apart from the OpenAI doors it shares them with.
func doorName(path, endpoint string) string {
	switch path {
	case "/api/chat":
		return "ollama-chat"
	case "/api/generate":
		return "ollama-generate"
	case "/api/embed", "/api/embeddings":
		return "ollama-embed"
	}
	return endpoint
}
