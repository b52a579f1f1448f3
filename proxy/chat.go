package proxy

import (
	"net/http"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/sse"
)

// chatDoor is POST /v1/chat/completions, the protocol every provider
// speaks: the request goes on as the client sent it (only model changes)
// and answers come back as the upstream sent them.
type chatDoor struct{}

func (chatDoor) endpoint() string { return "chat" }

// native is none: a Chat Completions request already reaches an
// OpenAI-compatible upstream as is, through the provider interface.
func (chatDoor) native() providers.Protocol { return "" }

func (chatDoor) parse(body []byte, r *http.Request) (*call, error) {
	req, err := providers.ParseRequest(body)
	if err != nil {
		return nil, err
	}
	f := req.Facts()
	if f.Messages == 0 {
		return nil, newAPIError(http.StatusBadRequest, "invalid_request_error", "missing_messages", "messages",
			"messages must be a non-empty array")
	}
	c := &call{model: req.Model, stream: req.Stream, facts: f, body: body, codec: chatCodec{req}, session: sessionHeader(r)}
	if req.MaxCompletionTokens != nil {
		c.maxTokens = *req.MaxCompletionTokens
	} else if req.MaxTokens != nil {
		c.maxTokens = *req.MaxTokens
	}
	return c, nil
}

func (chatDoor) writeError(w http.ResponseWriter, e *apiError) { writeError(w, e) }

func (chatDoor) nativeStream(string) nativeStream { return plainRelay(appendStreamError) }

// chatCodec is the identity: the provider takes and gives Chat Completions.
type chatCodec struct {
	req *providers.ChatCompletionRequest
}

func (c chatCodec) chat(model string) (*providers.ChatCompletionRequest, error) {
	c.req.Model = model
	return c.req, nil
}

func (chatCodec) answer(resp *providers.ChatCompletionResponse, _ string) ([]byte, error) {
	return resp.Body()
}

func (chatCodec) stream(string) streamEncoder { return &chatStream{} }

// chatStream writes Chat Completions chunks as SSE, ending with [DONE].
type chatStream struct{ scratch []byte }

func (*chatStream) contentType() string { return "text/event-stream" }

func (s *chatStream) chunk(dst []byte, c *providers.ChatCompletionStreamResponse) ([]byte, error) {
	data := c.Raw // an OpenAI-compatible upstream's data, as it came
	if data == nil {
		var err error
		if s.scratch, err = c.AppendJSON(s.scratch[:0]); err != nil {
			return dst, err
		}
		data = s.scratch
	}
	// One data line per line of the data: an upstream that split its JSON
	// over several lines had them joined by the reader, and a raw newline
	// inside one data line would break the client's framing.
	return sse.AppendEvent(dst, data), nil
}

func (*chatStream) end(dst []byte) []byte { return append(dst, "data: [DONE]\n\n"...) }

func (*chatStream) fail(dst []byte, e *apiError) []byte { return appendStreamError(dst, e) }
