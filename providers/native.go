package providers

import (
	"context"
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
	ProtocolOllama    Protocol = "ollama"
)

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
	// sends each event of the streamed answer on out as received, as the
	// wire bytes of one SSE event, and returns nil after the protocol's
	// terminal event, an error otherwise. As with ChatCompletionStream, an
	// error returned before anything was sent means the client has received
	// nothing yet. An upstream error status is an *Error whose Raw holds
	// the upstream's body, redacted, for relaying as is.
	Forward(ctx context.Context, req NativeRequest, out chan<- []byte) (*NativeResponse, error)
}

// ProtocolHeaders returns the headers of h that belong to protocol p and
// are forwarded as the client sent them.
func ProtocolHeaders(p Protocol, h http.Header) http.Header {
	var prefix string
	switch p {
	case ProtocolAnthropic:
		prefix = "Anthropic-"
	default:
		return nil
	}
	var out http.Header
	for k, vs := range h {
		if strings.HasPrefix(k, prefix) {
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
