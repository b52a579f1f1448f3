package proxy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/openai"
)

// responsesDoor is POST /v1/responses, the OpenAI Responses API: what Codex
// CLI and Copilot CLI speak. A provider marked protocols: [responses] gets
// the body as sent; any other gets it translated to Chat Completions, and
// its answer translated back. Answers the gateway translated are kept in
// store, so previous_response_id can name them.
type responsesDoor struct{ store *responseStore }

func (responsesDoor) endpoint() string { return "responses" }

func (responsesDoor) native() providers.Protocol { return providers.ProtocolResponses }

func (d responsesDoor) parse(body []byte, r *http.Request) (*call, error) {
	info, err := providers.ScanResponses(body)
	if err != nil {
		return nil, err
	}
	// The API's own checks, in its words.
	switch {
	case info.Model == "":
		return nil, missingParameter("model")
	case !info.HasInput:
		return nil, missingParameter("input")
	}
	c := &responsesCodec{store: d.store, info: info}
	if id := info.PreviousResponseID; id != "" {
		if history, ok := d.store.get(id); ok {
			// The conversation goes in the body, for every upstream alike.
			if body, err = openai.WithHistory(body, history); err != nil {
				return nil, err
			}
			if info, err = providers.ScanResponses(body); err != nil {
				return nil, err
			}
			info.PreviousResponseID = id
			c.info = info
		} else {
			// Not one of ours: a native upstream may know it (OpenAI's own
			// ids); a translated route refuses it.
			c.unknownPrevious = true
		}
	}
	c.body = body
	if len(info.CustomTools) > 0 {
		c.custom = make(map[string]bool, len(info.CustomTools))
		for _, n := range info.CustomTools {
			c.custom[n] = true
		}
	}
	return &call{model: info.Model, stream: info.Stream, facts: info.Facts, body: body, path: "/v1/responses",
		codec: c, session: sessionOf(r, info.PromptCacheKey)}, nil
}

// sessionOf is what ties a Responses request to its agent session: a
// session header (Codex's session-id), else the prompt cache key.
func sessionOf(r *http.Request, cacheKey string) string {
	if v := sessionHeader(r); v != "" {
		return v
	}
	return cacheKey
}

func missingParameter(param string) *apiError {
	return newAPIError(http.StatusBadRequest, "invalid_request_error", "missing_required_parameter", param,
		"Missing required parameter: '"+param+"'.")
}

func (responsesDoor) writeError(w http.ResponseWriter, e *apiError) { writeError(w, e) }

func (responsesDoor) nativeStream(model string) nativeStream { return &responsesRelay{model: model} }

// responsesErrorCode is the error.code of a response.failed event: the
// codes Codex acts on (retry after the hint for rate_limit_exceeded, stop
// and compact for context_length_exceeded), else server_error.
func responsesErrorCode(e *apiError) string {
	code := ""
	if e.body.Error.Code != nil {
		code = *e.body.Error.Code
	}
	msg := strings.ToLower(e.Error())
	switch {
	case e.status == http.StatusTooManyRequests || strings.Contains(code, "rate_limit"):
		return "rate_limit_exceeded"
	case strings.Contains(code, "context_length") || strings.Contains(msg, "context length") ||
		strings.Contains(msg, "context window") || strings.Contains(msg, "maximum context"):
		return "context_length_exceeded"
	case code == "insufficient_quota":
		return code
	}
	return "server_error"
}

// responsesRelay watches a Responses stream passed through from the
// upstream, so that one cut midway ends with a response.failed under the
// upstream's response id and next sequence number.
type responsesRelay struct {
	model string
	id    string
	seq   int
}

func (*responsesRelay) contentType() string { return "text/event-stream" }

func (*responsesRelay) end(dst []byte) []byte { return dst }

func (r *responsesRelay) event(dst, ev []byte) ([]byte, error) {
	if r.id == "" {
		// The first event, response.created, names the response.
		if _, data, ok := bytes.Cut(ev, []byte("data: ")); ok {
			data, _, _ = bytes.Cut(data, []byte("\n"))
			var head struct {
				Response struct {
					ID string `json:"id"`
				} `json:"response"`
			}
			json.Unmarshal(data, &head)
			r.id = head.Response.ID
		}
	}
	if _, rest, ok := bytes.Cut(ev, []byte(`"sequence_number":`)); ok {
		n := 0
		for len(rest) > 0 && rest[0] >= '0' && rest[0] <= '9' && n < 1<<40 {
			n = n*10 + int(rest[0]-'0')
			rest = rest[1:]
		}
		r.seq = n + 1
	}
	return append(dst, ev...), nil
}

func (r *responsesRelay) fail(dst []byte, e *apiError) []byte {
	id := r.id
	if id == "" {
		id = "resp_failed"
	}
	return openai.AppendFailed(dst, id, r.model, r.seq, responsesErrorCode(e), e.Error())
}

// responsesCodec translates a Responses request for a Chat Completions
// provider, and the answer back.
type responsesCodec struct {
	body   []byte // the conversation in full: previous_response_id resolved
	info   *providers.ResponsesInfo
	custom map[string]bool
	store  *responseStore
	// unknownPrevious: previous_response_id names no response the gateway
	// kept, so only a native upstream can resolve it.
	unknownPrevious bool
}

func (c *responsesCodec) chat(model string) (*providers.ChatCompletionRequest, error) {
	if c.unknownPrevious {
		return nil, newAPIError(http.StatusBadRequest, "invalid_request_error", "previous_response_not_found", "previous_response_id",
			"Previous response with id '"+c.info.PreviousResponseID+"' not found. LocalRouter keeps recent responses in memory, "+
				"for those not sent with store: false, until it restarts.")
	}
	body, err := openai.ResponsesToChat(c.body, model, nil)
	if err != nil {
		return nil, err
	}
	return providers.ParseRequest(body)
}

// The answer reports the model the client asked for; X-LocalRouter-Route
// says which model answered.
func (c *responsesCodec) answer(resp *providers.ChatCompletionResponse, _ string) ([]byte, error) {
	body, err := openai.ChatToResponse(resp, c.info.Model, c.custom)
	if err != nil || c.info.NoStore {
		return body, err
	}
	var r struct {
		ID     string          `json:"id"`
		Output json.RawMessage `json:"output"`
	}
	if json.Unmarshal(body, &r) == nil {
		c.keep(r.ID, r.Output)
	}
	return body, nil
}

// keep stores the conversation that response id ends.
func (c *responsesCodec) keep(id string, output []byte) {
	if c.info.NoStore {
		return
	}
	input, err := openai.InputItems(c.body)
	if err != nil {
		return
	}
	c.store.put(id, openai.JoinItems(input, output))
}

func (c *responsesCodec) stream(string) streamEncoder {
	return &responsesStream{s: openai.NewChatToResponsesStream(c.info.Model, c.custom), c: c}
}

// responsesStream writes a Chat Completions stream as Responses events.
type responsesStream struct {
	s *openai.ChatToResponsesStream
	c *responsesCodec
}

func (*responsesStream) contentType() string { return "text/event-stream" }

func (r *responsesStream) chunk(dst []byte, c *providers.ChatCompletionStreamResponse) ([]byte, error) {
	return r.s.Chunk(dst, c)
}

func (r *responsesStream) end(dst []byte) []byte {
	dst = r.s.End(dst)
	r.c.keep(r.s.ID(), r.s.Output())
	return dst
}

func (r *responsesStream) fail(dst []byte, e *apiError) []byte {
	return r.s.Fail(dst, responsesErrorCode(e), e.Error())
}
