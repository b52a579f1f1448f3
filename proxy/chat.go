package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/sse"
	"github.com/localrouter/localrouter/strategy"
)

// streamBuffer lets the upstream reader run a few events ahead of a slow
// client.
const streamBuffer = 16

// errShuttingDown is the cause Serve cancels the requests still running
// when the shutdown grace period ends with; lastWords is how long they then
// have to send their clients a final error before the connections close.
var errShuttingDown = errors.New("LocalRouter is shutting down")

const lastWords = time.Second

// shuttingDown reports whether r was cut because the server is shutting down.
func shuttingDown(r *http.Request) bool {
	return context.Cause(r.Context()) == errShuttingDown
}

func shutdownError() *apiError {
	return newAPIError(http.StatusServiceUnavailable, "server_error", "shutting_down", "",
		"LocalRouter is shutting down: the request was still running when the shutdown grace period ended; retry it")
}

// chat serves POST /v1/chat/completions.
func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	st := s.state.Load()
	rec := requestLog{start: start, stream: false}
	defer func() { rec.write(s.log, r) }()

	body, aerr := readBody(w, r, st.maxBody)
	if aerr != nil {
		rec.fail(aerr.status, aerr)
		writeError(w, aerr)
		return
	}
	req, err := providers.ParseRequest(body)
	if err != nil {
		aerr := errorFor(err)
		rec.fail(aerr.status, aerr)
		writeError(w, aerr)
		return
	}
	rec.stream = req.Stream
	if req.Facts().Messages == 0 {
		aerr := newAPIError(http.StatusBadRequest, "invalid_request_error", "missing_messages", "messages",
			"messages must be a non-empty array")
		rec.fail(aerr.status, aerr)
		writeError(w, aerr)
		return
	}

	facts := req.Facts()
	sreq := &strategy.Request{
		Model: req.Model, Stream: req.Stream, Messages: facts.Messages, PromptChars: facts.PromptChars,
		EstTokens: facts.EstTokens, HasImages: facts.HasImages, HasTools: facts.HasTools,
		Header: strategy.HeaderFunc(r.Header),
	}
	live := s.live()
	d, err := st.router.Decide(sreq, live)
	if err != nil {
		if on, why := st.mockMode(s); on {
			// In mock mode a route that cannot resolve still gets an answer.
			d = strategy.Decision{Side: st.up.table.Default, Provider: "mock", Model: req.Model, Reason: why}
		} else {
			aerr := errorFor(err)
			if why, ok := st.skippedFor(req.Model); ok {
				aerr = newAPIError(http.StatusNotFound, "invalid_request_error", "model_not_found", "model", why)
			}
			// Even a request that found no route says so in the header.
			w.Header().Set("X-LocalRouter-Route", "none ("+aerr.Error()+")")
			rec.fail(aerr.status, aerr)
			writeError(w, aerr)
			return
		}
	}
	rec.overhead = time.Since(start)
	w.Header().Set("X-LocalRouter-Overhead", strconv.FormatInt(rec.overhead.Microseconds(), 10))

	err = s.forward(w, r, st, d, req, &rec)
	if err != nil && isRetryable(err) && r.Context().Err() == nil {
		if alt, ok := st.router.Fallback(sreq, d, live); ok {
			s.recordFallback(d, alt, err)
			d = alt
			err = s.forward(w, r, st, d, req, &rec)
		}
	}
	if err != nil {
		s.upstreamFailed(w, r, err, &rec)
	}
}

// forward sends req to d's provider and relays the answer. It returns an
// error only when nothing has been written, so the caller may still fall
// back or send a real error status.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, st *state, d strategy.Decision, req *providers.ChatCompletionRequest, rec *requestLog) error {
	if on, _ := st.mockMode(s); on && d.Provider != "mock" {
		d.Reason += ", mock"
	}
	route := d.String()
	rec.route = route
	w.Header().Set("X-LocalRouter-Route", route)
	p, ok := s.provider(st, d)
	if !ok {
		return newAPIError(http.StatusNotFound, "invalid_request_error", "model_not_found", "model",
			"provider "+d.Provider+" is not available")
	}
	req.Model = d.Model
	var err error
	if req.Stream {
		err = s.relay(w, r, p, req, rec)
	} else {
		err = s.complete(w, r, p, req, rec)
	}
	if d.Side == strategy.Local && isUnreachable(err) {
		// Don't wait for the next probe to stop sending requests there.
		s.setLocalDown(true)
	}
	return err
}

// isRetryable reports whether the other side may succeed where this one
// failed before answering: refused, timed out, 5xx or 429 (DESIGN §5).
func isRetryable(err error) bool {
	var pe *providers.Error
	if !errors.As(err, &pe) {
		return false
	}
	switch {
	case pe.Status == http.StatusTooManyRequests || pe.Status >= 500:
		return true
	case pe.Status == 0:
		return pe.Stage == providers.StageConnect || pe.Timeout || pe.Stage == providers.StageStream
	}
	return false
}

func isUnreachable(err error) bool {
	var pe *providers.Error
	return errors.As(err, &pe) && pe.Stage == providers.StageConnect
}

func (s *Server) complete(w http.ResponseWriter, r *http.Request, p providers.Provider, req *providers.ChatCompletionRequest, rec *requestLog) error {
	resp, err := p.ChatCompletion(r.Context(), req)
	if err != nil {
		return err
	}
	body, err := resp.Body()
	if err != nil {
		return err
	}
	rec.usage = resp.Usage
	rec.status = http.StatusOK
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	w.Write(body)
	return nil
}

// relay streams p's answer to w.
func (s *Server) relay(w http.ResponseWriter, r *http.Request, p providers.Provider, req *providers.ChatCompletionRequest, rec *requestLog) error {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	ch := make(chan *providers.ChatCompletionStreamResponse, streamBuffer)
	errc := make(chan error, 1)
	go func() {
		errc <- p.ChatCompletionStream(ctx, req, ch)
		close(ch)
	}()

	rc := http.NewResponseController(w)
	started := false
	buf := make([]byte, 0, 512) // room for a typical event
	var scratch []byte
	var writeErr error
	for chunk := range ch {
		if writeErr != nil {
			continue // drain so the provider can return
		}
		if !started {
			started = true
			h := w.Header()
			h.Set("Content-Type", "text/event-stream")
			h.Set("Cache-Control", "no-cache")
			h.Set("X-Accel-Buffering", "no")
			w.WriteHeader(http.StatusOK)
		}
		if chunk.Usage != nil {
			rec.usage = chunk.Usage
		}
		data := chunk.Raw // an OpenAI-compatible upstream's data, as it came
		if data == nil {
			var err error
			if scratch, err = chunk.AppendJSON(scratch[:0]); err != nil {
				s.log.Error("encode stream chunk", "err", err)
				continue
			}
			data = scratch
		}
		// One data line per line of the data: an upstream that split its
		// JSON over several lines had them joined by the reader, and a raw
		// newline inside one data line would break the client's framing.
		buf = sse.AppendEvent(buf[:0], data)
		// Flush unless the next event is already waiting: events that arrived
		// together leave together, and none ever waits for a later one.
		if _, writeErr = w.Write(buf); writeErr == nil && len(ch) == 0 {
			writeErr = rc.Flush()
		}
		if writeErr != nil {
			cancel() // the client is gone: stop the upstream at once
		}
		rec.chunks++
	}
	err := <-errc

	switch {
	case writeErr != nil || r.Context().Err() != nil && !shuttingDown(r):
		rec.status = statusClientClosed
		rec.err = "client closed the stream"
	case err == nil:
		if !started {
			w.Header().Set("Content-Type", "text/event-stream")
			w.Header().Set("Cache-Control", "no-cache")
		}
		io.WriteString(w, "data: [DONE]\n\n")
		rc.Flush()
		rec.status = http.StatusOK
	case !started:
		return err
	case shuttingDown(r):
		aerr := shutdownError()
		w.Write(streamErrorEvent(aerr))
		rc.Flush()
		rec.status = aerr.status
		rec.err = "stream cut by the shutdown"
	default:
		// The status line is gone; all that is left is to say so in-band.
		aerr := errorFor(err)
		w.Write(streamErrorEvent(aerr))
		rc.Flush()
		rec.status = aerr.status
		rec.err = "stream failed after it began: " + err.Error()
	}
	return nil
}

func (s *Server) upstreamFailed(w http.ResponseWriter, r *http.Request, err error, rec *requestLog) {
	if shuttingDown(r) {
		aerr := shutdownError()
		rec.fail(aerr.status, aerr)
		writeError(w, aerr)
		return
	}
	if r.Context().Err() != nil {
		rec.status = statusClientClosed
		rec.err = "client closed the request"
		return
	}
	aerr := errorFor(err)
	var pe *providers.Error
	if errors.As(err, &pe) && pe.Header != nil {
		if ra := pe.Header.Get("Retry-After"); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
	}
	rec.fail(aerr.status, err)
	writeError(w, aerr)
}

// readBody reads the whole body up to max bytes. Reading it all before the
// upstream call also sidesteps golang/go#40747: net/http may close an inbound
// body that a proxy is still streaming out once response headers are written.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, *apiError) {
	tooLarge := newAPIError(http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large", "",
		"request body is larger than server.max_body ("+strconv.FormatInt(max, 10)+" bytes)")
	if r.ContentLength > max {
		return nil, tooLarge
	}
	rd := http.MaxBytesReader(w, r.Body, max)
	var body []byte
	var err error
	if r.ContentLength > 0 {
		body = make([]byte, r.ContentLength)
		_, err = io.ReadFull(rd, body)
	} else {
		body, err = io.ReadAll(rd)
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		if errors.Is(err, os.ErrDeadlineExceeded) { // the server's ReadTimeout
			return nil, newAPIError(http.StatusRequestTimeout, "invalid_request_error", "request_timeout", "",
				"the request body did not arrive in time: the client stopped sending it")
		}
		return nil, newAPIError(http.StatusBadRequest, "invalid_request_error", "body_read_failed", "", "cannot read request body: "+err.Error())
	}
	return body, nil
}

// requestLog gathers what the one log line per request says.
type requestLog struct {
	start    time.Time
	stream   bool
	route    string
	status   int
	overhead time.Duration
	usage    *providers.Usage
	chunks   int
	err      string
}

func (l *requestLog) fail(status int, err error) {
	l.status = status
	l.err = err.Error()
}

func (l *requestLog) write(log *slog.Logger, r *http.Request) {
	level := slog.LevelInfo
	switch {
	case l.status == statusClientClosed:
		level = slog.LevelDebug
	case l.status >= 500 || l.err != "":
		level = slog.LevelWarn
	}
	if !log.Enabled(r.Context(), level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("path", r.URL.Path),
		slog.Int("status", l.status),
		slog.Bool("stream", l.stream),
		slog.Duration("latency", time.Since(l.start)),
		slog.Int64("overhead_us", l.overhead.Microseconds()),
	}
	if l.route != "" {
		attrs = append(attrs, slog.String("route", l.route))
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
	log.LogAttrs(context.WithoutCancel(r.Context()), level, "request", attrs...)
}
