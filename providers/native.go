package providers

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/localrouter/localrouter/providers/sse"
)

// Protocol is an API an upstream speaks natively (DESIGN §9).
type Protocol string

// The protocols a front door can pass through unchanged.
const (
	ProtocolOpenAI    Protocol = "openai" // Chat Completions
	ProtocolAnthropic Protocol = "anthropic"
	ProtocolResponses Protocol = "responses"
	ProtocolOllama    Protocol = "ollama" // Ollama's own /api/* API
	// ProtocolCompletions is OpenAI's legacy /v1/completions, which
	// editors use for fill-in-the-middle with a "suffix".
	ProtocolCompletions Protocol = "completions"
	// ProtocolEmbeddings is OpenAI's /v1/embeddings. It never streams.
	ProtocolEmbeddings Protocol = "embeddings"
)

// Framing is how a protocol cuts a streamed answer into events.
type Framing int

const (
	// FramingSSE is Server-Sent Events (text/event-stream): every protocol
	// but Ollama's.
	FramingSSE Framing = iota
	// FramingNDJSON is one JSON object a line (application/x-ndjson), as
	// Ollama's own API streams.
	FramingNDJSON
)

// Framing returns how p streams.
func (p Protocol) Framing() Framing {
	if p == ProtocolOllama {
		return FramingNDJSON
	}
	return FramingSSE
}

// ContentType is the media type of a stream framed so, as a client is sent
// it and an upstream asked for it.
func (f Framing) ContentType() string {
	if f == FramingNDJSON {
		return "application/x-ndjson"
	}
	return "text/event-stream"
}

// carries reports whether an upstream answer of content type ct is a stream
// framed so. Ollama answers a streamed /api/chat or /api/generate that only
// loads the model (no messages, no prompt) with one JSON object, not NDJSON:
// a stream of one line all the same.
func (f Framing) carries(ct string) bool {
	if f == FramingNDJSON {
		return strings.Contains(ct, "ndjson") || strings.HasPrefix(ct, "application/json")
	}
	return strings.HasPrefix(ct, "text/event-stream")
}

// ErrRelayedFailure marks the upstream's own in-band failure (an NDJSON
// {"error":…} line, an error event) that a pass-through has already sent
// on to the client as the last item of its stream: the stream failed, but
// the client has the upstream's words in its own protocol, so the gateway
// must not write a failure of its own after it. Test with errors.Is.
var ErrRelayedFailure = errors.New("the upstream's failure was relayed to the client")

// NativeRequest is a client's request in its own protocol, to be sent on
// with only the model replaced.
type NativeRequest struct {
	Protocol Protocol
	// Path is the endpoint below the API root, e.g. "/v1/messages".
	Path  string
	Query string // the client's raw query, e.g. "beta=true"
	Body  []byte
	// Header holds the client's headers. Only the protocol's own (for
	// Anthropic every anthropic-* header, as an open list) are sent on;
	// the client's credentials never are.
	Header http.Header
	// UnsignedThinking (Messages) says the history holds thinking blocks
	// with no signature: another model wrote them. Anthropic itself refuses
	// them, so its client removes them; servers that do not check
	// signatures take them as they are.
	UnsignedThinking bool
	// Foreign reports the entries of the history (messages, input items)
	// that another provider of the session answered, whose thinking
	// signatures and encrypted reasoning this upstream cannot read: they
	// are removed on the way out (DESIGN §10). Nil when there are none.
	Foreign func(i int) bool
}

// NativeResponse is a non-streamed answer, as the upstream sent it.
type NativeResponse struct {
	Status      int
	ContentType string
	Body        []byte
	Usage       *Usage // when the gateway could read it; may be nil
}

// Native is implemented by providers that can take a request in another
// protocol than Chat Completions as is.
type Native interface {
	// Speaks reports whether the provider takes p natively.
	Speaks(p Protocol) bool
	// Forward sends req. With out nil it returns the whole answer; else it
	// sends each event of the streamed answer to out as received, as its
	// wire bytes (req.Protocol.Framing): one SSE event, or one NDJSON line
	// with its "\n". It returns nil after the protocol's terminal event
	// (relayed too: [DONE], message_stop, a line with "done": true), an
	// error otherwise. As with ChatCompletionStream, an error returned
	// before anything was sent means the client has received nothing yet;
	// one that wraps ErrRelayedFailure comes after the upstream's own
	// failure went out as the last item. An upstream error status is an
	// *Error whose Raw holds the upstream's body, redacted, for relaying as
	// is.
	Forward(ctx context.Context, req NativeRequest, out Sink[[]byte]) (*NativeResponse, error)
}

// ProtocolHeaders returns the headers of h that belong to protocol p and
// are forwarded as the client sent them: for Anthropic every anthropic-*
// header, for Responses the OpenAI-* headers and what Codex sends to tie a
// turn to its session, both as open lists.
func ProtocolHeaders(p Protocol, h http.Header) http.Header {
	var keep func(k string) bool
	switch p {
	case ProtocolAnthropic:
		keep = func(k string) bool { return strings.HasPrefix(k, "Anthropic-") }
	case ProtocolResponses:
		keep = func(k string) bool {
			switch k {
			case "Session-Id", "Session_id", "Thread-Id", "Conversation_id", "Originator", "X-Client-Request-Id":
				return true
			}
			return strings.HasPrefix(k, "Openai-") || strings.HasPrefix(k, "X-Codex-")
		}
	default:
		return nil
	}
	var out http.Header
	for k, vs := range h {
		if keep(k) {
			if out == nil {
				out = http.Header{}
			}
			out[k] = vs
		}
	}
	return out
}

// AppendEvent appends the wire form of one SSE event to dst: its name,
// then its data as sse.AppendEvent writes it, so the client reads the event
// the upstream sent.
func AppendEvent(dst []byte, name string, data []byte) []byte {
	if name != "" {
		dst = append(dst, "event: "...)
		dst = append(dst, name...)
		dst = append(dst, '\n')
	}
	return sse.AppendEvent(dst, data)
}

// Wire is what ForwardNative needs to know of a protocol to pass it
// through: how its errors read, where its stream ends, where its usage is.
type Wire interface {
	// Protocol names the protocol, for ProtocolHeaders.
	Protocol() Protocol
	// ParseError reads an error body's code and message.
	ParseError(body []byte) (code, msg string)
	// Relay returns the decoder of one streamed answer: each event goes to
	// the client as received; the decoder sees the terminal event and
	// gathers the usage on the way. For an NDJSON protocol each event is
	// one line (see ReadLines).
	Relay() RelayDecoder
	// Usage reads a whole answer's usage for the request log; nil when
	// there is none.
	Usage(body []byte) *Usage
}

// RelayDecoder is a Decoder of wire events that also reports the usage it
// saw.
type RelayDecoder interface {
	Decoder[[]byte]
	Usage() *Usage
}

// ForwardNative sends a request in protocol w to url through u and returns
// the answer as the upstream gave it, or with out set relays each event of
// its stream to out as received (see Native.Forward), framed as the
// protocol frames it. Every native pass-through uses it: Anthropic
// Messages, the OpenAI Responses API, completions and embeddings, Ollama's
// own API, to the vendors' APIs and to local servers that serve them.
func ForwardNative(ctx context.Context, u *Upstream, url string, req NativeRequest, out Sink[[]byte], w Wire) (*NativeResponse, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if req.Query != "" {
		url += "?" + req.Query
	}
	framing := w.Protocol().Framing()
	accept := "application/json"
	if out != nil {
		accept = framing.ContentType()
	}
	extra := ProtocolHeaders(w.Protocol(), req.Header)
	if extra == nil {
		extra = http.Header{} // a pass-through all the same: keep the error body
	}
	resp, err := u.SendWith(ctx, url, req.Body, accept, extra, func(status int, b []byte) *Error {
		code, msg := w.ParseError(b)
		return &Error{Provider: u.Name(), Stage: StageStatus, Status: status, Code: code, Message: msg}
	})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	ct := resp.Header.Get("Content-Type")
	if out == nil || !framing.carries(ct) {
		body, err := u.ReadAnswer(ctx, cancel, resp)
		if err != nil {
			return nil, err
		}
		if out != nil {
			// A JSON answer to a streamed request is an error a proxy in
			// between sent with a 200.
			b := u.RedactBody(body)
			code, msg := w.ParseError(b)
			return nil, &Error{Provider: u.Name(), Stage: StageStatus, Status: http.StatusBadGateway,
				Code: code, Message: msg, Raw: b, Header: http.Header{"Content-Type": {ct}}}
		}
		return &NativeResponse{Status: resp.StatusCode, ContentType: ct, Body: body, Usage: w.Usage(body)}, nil
	}
	r := w.Relay()
	read := ReadStream[[]byte]
	if framing == FramingNDJSON {
		read = ReadLines[[]byte]
		ct = framing.ContentType() // a one-line stream may have come as JSON
	}
	if err := read(ctx, cancel, u, resp.Body, out, r); err != nil {
		return nil, err
	}
	return &NativeResponse{Status: http.StatusOK, ContentType: ct, Usage: r.Usage()}, nil
}
