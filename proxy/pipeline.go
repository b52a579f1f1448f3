package proxy

import (
	"context"
	"errors"
	"io"
	"maps"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/strategy"
)

// A door is one inbound protocol (DESIGN §9): Chat Completions, Anthropic
// Messages, and the others to come. It reads a request into what routing
// needs and what a provider can take, and writes answers and errors in its
// own shape. Everything between — body cap, decision, fallback, request
// log, route and overhead headers, the stream loop — is the pipeline's,
// shared by every door.
type door interface {
	// endpoint names the door in rules and logs: "chat", "messages", ...
	endpoint() string
	// native is the protocol a provider must speak to take the client's
	// body as is, without translation.
	native() providers.Protocol
	// parse reads the client's body. Its errors are *apiError or
	// *providers.RequestError.
	parse(body []byte, r *http.Request) (*call, error)
	// writeError sends e in the door's shape.
	writeError(w http.ResponseWriter, e *apiError)
	// nativeStream returns what relays one stream passed through from a
	// native provider; model is the one the client asked for.
	nativeStream(model string) nativeStream
}

// nativeStream writes a stream a native provider sent: for a pass-through
// each upstream event unchanged, for a bridge each event translated; and,
// when the upstream fails midway, the in-band error that ends it in the
// door's protocol.
type nativeStream interface {
	contentType() string
	event(dst, ev []byte) ([]byte, error)
	end(dst []byte) []byte
	fail(dst []byte, e *apiError) []byte
}

// A bridge serves a call through another native protocol than the door's
// own, for what has no Chat Completions form: Ollama's /api/generate with a
// suffix through /v1/completions, /api/embed through /v1/embeddings.
type bridge interface {
	// via is the protocol the provider must speak.
	via() providers.Protocol
	// request is the path and body to send it, for model.
	request(model string) (path string, body []byte, err error)
	// answer translates a whole answer back.
	answer(body []byte) ([]byte, error)
	// stream translates one streamed answer back.
	stream() nativeStream
}

// call is one parsed request on its way through the pipeline.
type call struct {
	model  string // as the client asked
	stream bool
	facts  providers.Facts
	body   []byte // as the client sent it
	// path is where a native provider takes the body ("/v1/messages").
	path string
	// endpoint names the call in rules and logs when it is not the
	// door's (Ollama's /api/generate with a suffix is "completions").
	endpoint string
	// codec translates the call through Chat Completions, bridge through
	// another native protocol; a call with neither is served only by a
	// provider that speaks the door's protocol.
	codec  codec
	bridge bridge
	// unsignedThinking: the history holds thinking blocks another model
	// wrote (Messages), which Anthropic itself would refuse.
	unsignedThinking bool
	// session ties the request to the client's agent session, when it
	// says (a session header, a prompt cache key); sessions.go.
	session string
	// maxTokens is the answer's limit the client set, 0 when none: the
	// context guard adds it to the prompt estimate.
	maxTokens int
	// localMax is the max_tokens a translated request without one gets on
	// this route (localtruth.go); 0 leaves the provider's default.
	localMax int
	// dec is the route translate serves the call on.
	dec strategy.Decision
}

// codec translates one call to and from Chat Completions, the protocol
// every provider speaks.
type codec interface {
	// chat returns the request for a Chat Completions provider, for model.
	chat(model string) (*providers.ChatCompletionRequest, error)
	// answer encodes a non-streamed answer for the client.
	answer(resp *providers.ChatCompletionResponse, model string) ([]byte, error)
	// stream returns an encoder for one streamed answer.
	stream(model string) streamEncoder
}

// streamEncoder writes one streamed answer in a door's protocol. Each
// method appends to dst and returns it.
type streamEncoder interface {
	contentType() string
	// chunk encodes one provider chunk; the first call may prepend the
	// stream's opening events.
	chunk(dst []byte, c *providers.ChatCompletionStreamResponse) ([]byte, error)
	// end closes a stream the provider finished.
	end(dst []byte) []byte
	// fail closes a stream that failed after it began: the status line is
	// gone, so the error goes in-band.
	fail(dst []byte, e *apiError) []byte
}

// serve returns the handler of door d.
func (s *Server) serve(d door) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		st := s.state.Load()
		rec := requestLog{start: start, endpoint: d.endpoint()}
		defer s.finish(w, r, &rec)
		fail := func(err error) {
			aerr := errorFor(err)
			rec.fail(aerr.status, aerr)
			d.writeError(w, aerr)
		}

		body, aerr := readBody(w, r, st.maxBody)
		if aerr != nil {
			fail(aerr)
			return
		}
		c, err := d.parse(body, r)
		if err != nil {
			fail(err)
			return
		}
		rec.stream, rec.session = c.stream, c.session
		endpoint := d.endpoint()
		if c.endpoint != "" {
			endpoint, rec.endpoint = c.endpoint, c.endpoint
		}

		sreq := s.routingRequest(r, endpoint, c.model, c.stream, c.facts)
		sreq.MaxTokens, sreq.Session = c.maxTokens, c.session
		sreq.Private = s.privateWhy(r, st, c.body)
		rec.client = sreq.Client
		live := s.live()
		rec.req, rec.router, rec.live = sreq, st.router, live
		dec, err := st.router.Decide(sreq, live)
		if err != nil {
			if on, why := st.mockMode(s); on {
				// In mock mode a route that cannot resolve still gets an answer.
				dec = strategy.Decision{Side: st.up.table.Default, Provider: "mock", Model: c.model, Reason: why}
			} else {
				aerr := errorFor(err)
				if why, ok := st.skippedFor(c.model); ok {
					aerr = newAPIError(http.StatusNotFound, "invalid_request_error", "model_not_found", "model", why)
				}
				// Even a request that found no route says so in the header.
				w.Header().Set("X-LocalRouter-Route", "none ("+aerr.Error()+")")
				fail(aerr)
				return
			}
		}
		rec.overhead = time.Since(start)
		w.Header().Set("X-LocalRouter-Overhead", strconv.FormatInt(rec.overhead.Microseconds(), 10))

		err = s.forward(w, r, st, d, dec, c, &rec)
		if err != nil && r.Context().Err() == nil {
			if why, retry := fallbackWhy(dec, err); retry {
				if alt, ok := st.router.Fallback(sreq, dec, live); ok {
					alt.Reason += why
					s.recordFallback(dec, alt, err)
					rec.fellBack(dec, err)
					dec = alt
					err = s.forward(w, r, st, d, dec, c, &rec)
				}
			}
		}
		if err != nil {
			s.upstreamFailed(w, r, d, privateFailed(dec, err), &rec)
		}
	}
}

// finish counts a request, sends what is left of its answer, and logs it.
// net/http would send the answer's bytes only once the handler returns:
// the log line before them was 5 µs of a request's latency at 500/s on the
// bench machine. (A stream's last event is already out; only its chunked
// end waits for the handler.) The metrics come first, so that a client
// that has its answer finds it counted.
func (s *Server) finish(w http.ResponseWriter, r *http.Request, rec *requestLog) {
	s.record(rec, r, w)
	if rec.status != 0 && rec.status != statusClientClosed {
		// Every answer sets its Content-Length (writeBody, the doors'
		// errors) or is a stream, so this changes no framing.
		http.NewResponseController(w).Flush()
	}
	rec.write(s.log, r)
}

// routingRequest is what the router sees of a request to door endpoint.
func (s *Server) routingRequest(r *http.Request, endpoint, model string, stream bool, f providers.Facts) *strategy.Request {
	return &strategy.Request{
		Model: model, Stream: stream, Messages: f.Messages, PromptChars: f.PromptChars,
		EstTokens: f.EstTokens, HasImages: f.HasImages, HasTools: f.HasTools,
		Endpoint: endpoint, Client: clientOf(r.Header.Get("User-Agent")),
		Header: strategy.HeaderFunc(r.Header),
		Prefix: f.Prefix, ToolTurn: f.ToolTurn, Turns: f.Turns, Opening: f.Opening,
	}
}

// clients are the tools clientOf knows, by a word their User-Agent starts
// with or holds, most specific first.
var clients = []struct{ token, name string }{
	{"claude-cli", "claude-code"}, {"claude-code", "claude-code"},
	{"codex", "codex"}, // codex_exec, codex_cli_rs, codex_vscode
	{"githubcopilot", "copilot"}, {"copilot", "copilot"},
	{"continue", "continue"}, {"zed", "zed"}, {"jetbrains", "jetbrains"}, {"intellij", "jetbrains"},
	{"open-webui", "openwebui"}, {"openwebui", "openwebui"}, {"opencode", "opencode"},
	{"roo-code", "roo"}, {"kilo-code", "kilo"}, {"cline", "cline"}, {"aider", "aider"}, {"cursor", "cursor"},
}

// clientOf names the calling tool from its User-Agent, for rules (DESIGN
// §5: client); "" when it is none of the known ones. Matching costs half a
// microsecond, every request, and a tool sends the same User-Agent each
// time: the answers are kept, for a bounded number of them.
func clientOf(ua string) string {
	if ua == "" {
		return ""
	}
	seen := clientCache.Load()
	var known map[string]string
	if seen != nil {
		known = *seen
	}
	if name, ok := known[ua]; ok {
		return name
	}
	name := matchClient(ua)
	if len(known) < clientCacheMax {
		next := make(map[string]string, len(known)+1)
		maps.Copy(next, known)
		next[ua] = name
		clientCache.CompareAndSwap(seen, &next) // a lost race only costs a later match
	}
	return name
}

// clientCache maps User-Agents to client names; it is replaced whole, so
// reading it takes no lock.
var clientCache atomic.Pointer[map[string]string]

const clientCacheMax = 256

func matchClient(ua string) string {
	ua = strings.ToLower(ua)
	for _, c := range clients {
		if strings.Contains(ua, c.token) {
			return c.name
		}
	}
	return ""
}

// forward sends c to dec's provider and relays the answer. It returns an
// error only when nothing has been written, so the caller may still fall
// back or send a real error status.
func (s *Server) forward(w http.ResponseWriter, r *http.Request, st *state, d door, dec strategy.Decision, c *call, rec *requestLog) error {
	if on, _ := st.mockMode(s); on && dec.Provider != "mock" {
		dec.Reason += ", mock"
	}
	route := dec.String()
	rec.route, rec.dec = route, dec
	w.Header().Set("X-LocalRouter-Route", route)
	p, ok := s.provider(st, dec)
	if !ok {
		return newAPIError(http.StatusNotFound, "invalid_request_error", "model_not_found", "model",
			"provider "+dec.Provider+" is not available")
	}
	var err error
	c.dec = dec
	n, native := p.(providers.Native)
	switch {
	case native && d.native() != "" && n.Speaks(d.native()):
		err = s.passThrough(w, r, n, d, dec.Model, c, rec)
	case native && c.bridge != nil && n.Speaks(c.bridge.via()):
		err = s.bridged(w, r, n, dec.Model, c, rec)
	case c.codec != nil:
		c.localMax = s.localMaxTokens(st, dec)
		err = s.translate(w, r, p, dec.Model, c, rec)
	default:
		endpoint := c.endpoint
		if endpoint == "" {
			endpoint = d.endpoint()
		}
		return newAPIError(http.StatusBadRequest, "invalid_request_error", "unsupported_endpoint", "model",
			"the route "+route+" has no "+endpoint+" API: send "+endpoint+" requests to a provider that serves them "+
				"(an OpenAI-compatible server such as Ollama, vLLM or LM Studio), by a rule on endpoint or a model name")
	}
	if dec.Side == strategy.Local && isUnreachable(err) {
		// Don't wait for the next probe to stop sending requests there.
		s.setLocalDown(true)
	}
	s.noteLocalFailure(st, dec, err)
	return err
}

// translate serves c through the provider's Chat Completions interface.
func (s *Server) translate(w http.ResponseWriter, r *http.Request, p providers.Provider, model string, c *call, rec *requestLog) error {
	if d, ok := c.codec.(interface{ direct() []byte }); ok {
		if b := d.direct(); b != nil {
			// A request the door answers itself, such as Ollama's load.
			writeBody(w, http.StatusOK, "application/json", b)
			rec.status = http.StatusOK
			return nil
		}
	}
	req, err := c.codec.chat(model)
	if err != nil {
		return err
	}
	req = withLocalMax(req, c.localMax)
	if !c.stream {
		resp, err := p.ChatCompletion(r.Context(), req)
		if err != nil {
			return err
		}
		rec.usage = resp.Usage
		body, err := c.codec.answer(resp, model)
		if err != nil {
			return err
		}
		writeBody(w, http.StatusOK, "application/json", body)
		rec.status = http.StatusOK
		return nil
	}
	enc := c.codec.stream(model)
	// cut tells a local model that died mid-answer from other stream
	// failures (localtruth.go); its produce and fail run in turn.
	cut := &streamCut{}
	return relay(w, r, rec, enc.contentType(), func(ctx context.Context, out providers.Sink[*providers.ChatCompletionStreamResponse]) error {
		cut.err = p.ChatCompletionStream(ctx, req, out)
		return cut.err
	}, func(dst []byte, chunk *providers.ChatCompletionStreamResponse) ([]byte, error) {
		if chunk.Usage != nil {
			rec.usage = chunk.Usage
		}
		cut.saw(chunk)
		return enc.chunk(dst, chunk)
	}, enc.end, func(dst []byte, e *apiError) []byte {
		return enc.fail(dst, s.localStreamFailure(r.Context(), c.dec, cut, e))
	})
}

// passThrough sends the client's body, with only the model replaced, to a
// provider that speaks the door's protocol, and relays its answer as is.
func (s *Server) passThrough(w http.ResponseWriter, r *http.Request, n providers.Native, d door, model string, c *call, rec *requestLog) error {
	body, err := providers.WithModel(c.body, model)
	if err != nil {
		return err
	}
	req := providers.NativeRequest{Protocol: d.native(), Path: c.path, Query: r.URL.RawQuery, Body: body, Header: r.Header,
		UnsignedThinking: c.unsignedThinking}
	if c.dec.Mixed() {
		req.Foreign = c.dec.Foreign
	}
	if !c.stream {
		resp, err := n.Forward(r.Context(), req, nil)
		if err != nil {
			return err
		}
		rec.usage = resp.Usage
		writeBody(w, resp.Status, resp.ContentType, resp.Body)
		rec.status = resp.Status
		return nil
	}
	return s.nativeRelay(w, r, n, req, d.nativeStream(c.model), rec)
}

// nativeRelay relays the stream of a native request through ns.
func (s *Server) nativeRelay(w http.ResponseWriter, r *http.Request, n providers.Native, req providers.NativeRequest, ns nativeStream, rec *requestLog) error {
	// The producer keeps the usage in a variable of its own rather than
	// capture rec, which would then live on the heap for every request,
	// relayed or not.
	var usage *providers.Usage
	err := relay(w, r, rec, ns.contentType(), func(ctx context.Context, out providers.Sink[[]byte]) error {
		resp, err := n.Forward(ctx, req, out)
		if resp != nil {
			usage = resp.Usage
		}
		return err
	}, ns.event, ns.end, ns.fail)
	if usage != nil {
		rec.usage = usage
	}
	return err
}

// bridged serves c through the native protocol of its bridge, translating
// the answer back.
func (s *Server) bridged(w http.ResponseWriter, r *http.Request, n providers.Native, model string, c *call, rec *requestLog) error {
	path, body, err := c.bridge.request(model)
	if err != nil {
		return err
	}
	req := providers.NativeRequest{Protocol: c.bridge.via(), Path: path, Query: r.URL.RawQuery, Body: body, Header: r.Header}
	if !c.stream {
		resp, err := n.Forward(r.Context(), req, nil)
		if err != nil {
			return foreignError(err)
		}
		rec.usage = resp.Usage
		out, err := c.bridge.answer(resp.Body)
		if err != nil {
			return err
		}
		writeBody(w, http.StatusOK, "application/json", out)
		rec.status = http.StatusOK
		return nil
	}
	return foreignError(s.nativeRelay(w, r, n, req, c.bridge.stream(), rec))
}

// foreignError drops the upstream's own error body from err: it is in the
// bridge's protocol, not the client's, so the door writes the error in its
// own shape instead.
func foreignError(err error) error {
	var pe *providers.Error
	if errors.As(err, &pe) && pe.Raw != nil {
		e := *pe
		e.Raw = nil
		return &e
	}
	return err
}

// plainRelay relays an SSE stream's events as they are and ends a failed
// stream with the function's in-band error: all a stateless protocol
// needs.
type plainRelay func(dst []byte, e *apiError) []byte

func (plainRelay) contentType() string { return "text/event-stream" }

func (plainRelay) event(dst, ev []byte) ([]byte, error) { return append(dst, ev...), nil }

func (plainRelay) end(dst []byte) []byte { return dst }

func (f plainRelay) fail(dst []byte, e *apiError) []byte { return f(dst, e) }

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

// relay runs produce, which sends a stream's items to its sink, and writes
// each item to the client as encode makes it, on produce's goroutine: the
// sink flushes when produce is about to wait for the upstream, so items
// that arrived together leave together, and none waits for a later one. A
// client that goes away fails the next write, which stops produce at once.
// relay returns produce's error only when nothing was written, so the
// caller may fall back or send a real status; after the first byte a
// failure is written with fail.
func relay[T any](w http.ResponseWriter, r *http.Request, rec *requestLog, contentType string,
	produce func(context.Context, providers.Sink[T]) error,
	encode func([]byte, T) ([]byte, error), end func([]byte) []byte, fail func([]byte, *apiError) []byte) error {
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	s := &relaySink[T]{w: w, rc: http.NewResponseController(w), rec: rec, contentType: contentType, encode: encode}
	err := produce(ctx, s)
	if s.encodeErr != nil {
		err = &providers.Error{Stage: providers.StageStream, Message: "cannot translate the upstream's stream: " + s.encodeErr.Error(),
			Err: s.encodeErr}
	}

	buf, rc := s.buf[:0], s.rc
	switch {
	case s.writeErr != nil || r.Context().Err() != nil && !shuttingDown(r):
		rec.status = statusClientClosed
		rec.err = "client closed the stream"
	case err == nil:
		s.begin()
		w.Write(end(buf))
		rc.Flush()
		rec.status = http.StatusOK
	case !s.started:
		return err
	case errors.Is(err, providers.ErrRelayedFailure):
		// The upstream's own failure, in the client's protocol, was the
		// last thing relayed: a second one would only confuse the client.
		aerr := errorFor(err)
		rc.Flush()
		rec.status = aerr.status
		rec.err = "stream failed after it began: " + err.Error()
	case shuttingDown(r):
		aerr := shutdownError()
		w.Write(fail(buf, aerr))
		rc.Flush()
		rec.status = aerr.status
		rec.err = "stream cut by the shutdown"
	default:
		aerr := errorFor(err)
		w.Write(fail(buf, aerr))
		rc.Flush()
		rec.status = aerr.status
		rec.err = "stream failed after it began: " + err.Error()
	}
	return nil
}

// relaySink is relay's side of a stream: it writes the status line before
// the first byte and each encoded item after it.
type relaySink[T any] struct {
	w           http.ResponseWriter
	rc          *http.ResponseController
	rec         *requestLog
	contentType string
	encode      func([]byte, T) ([]byte, error)

	buf                 []byte
	started, unflushed  bool
	writeErr, encodeErr error
}

func (s *relaySink[T]) begin() {
	if s.started {
		return
	}
	s.started, s.rec.ttfb = true, time.Since(s.rec.start)
	h := s.w.Header()
	h.Set("Content-Type", s.contentType)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	s.w.WriteHeader(http.StatusOK)
}

func (s *relaySink[T]) Send(item T) error {
	var err error
	if s.buf, err = s.encode(s.buf[:0], item); err != nil {
		// An answer that cannot be put into the client's protocol would
		// reach it corrupted: end it as a failure instead.
		s.encodeErr = err
		return err
	}
	s.rec.chunks++
	if len(s.buf) == 0 {
		return nil
	}
	s.begin()
	if _, s.writeErr = s.w.Write(s.buf); s.writeErr != nil {
		return s.writeErr
	}
	s.unflushed = true
	return nil
}

func (s *relaySink[T]) Flush() error {
	if !s.unflushed {
		return nil
	}
	s.unflushed = false
	s.writeErr = s.rc.Flush()
	return s.writeErr
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

func (s *Server) upstreamFailed(w http.ResponseWriter, r *http.Request, d door, err error, rec *requestLog) {
	if shuttingDown(r) {
		aerr := shutdownError()
		rec.fail(aerr.status, aerr)
		d.writeError(w, aerr)
		return
	}
	if r.Context().Err() != nil {
		rec.status = statusClientClosed
		rec.err = "client closed the request"
		return
	}
	var pe *providers.Error
	if errors.As(err, &pe) && pe.Header != nil {
		if ra := pe.Header.Get("Retry-After"); ra != "" {
			w.Header().Set("Retry-After", ra)
		}
	}
	if errors.As(err, &pe) && pe.Raw != nil && pe.Status != 0 {
		// Only a pass-through keeps the body: the upstream speaks the
		// client's protocol, and its own words are what the client's retry
		// logic knows how to read.
		rec.fail(pe.Status, err)
		writeBody(w, pe.Status, pe.Header.Get("Content-Type"), pe.Raw)
		return
	}
	aerr := errorFor(err)
	rec.fail(aerr.status, err)
	d.writeError(w, aerr)
}

func writeBody(w http.ResponseWriter, status int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// readBody reads the whole body up to max bytes. Reading it all before the
// upstream call also sidesteps golang/go#40747: net/http may close an inbound
// body that a proxy is still streaming out once response headers are written.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, *apiError) {
	tooLarge := func() *apiError {
		return newAPIError(http.StatusRequestEntityTooLarge, "invalid_request_error", "request_too_large", "",
			"request body is larger than server.max_body ("+strconv.FormatInt(max, 10)+" bytes)")
	}
	if r.ContentLength > max {
		return nil, tooLarge()
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
			return nil, tooLarge()
		}
		if errors.Is(err, os.ErrDeadlineExceeded) { // the server's ReadTimeout
			return nil, newAPIError(http.StatusRequestTimeout, "invalid_request_error", "request_timeout", "",
				"the request body did not arrive in time: the client stopped sending it")
		}
		return nil, newAPIError(http.StatusBadRequest, "invalid_request_error", "body_read_failed", "", "cannot read request body: "+err.Error())
	}
	return body, nil
}
