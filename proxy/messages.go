package proxy

import (
	"net/http"
	"strconv"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/anthropic"
)

// messagesDoor is POST /v1/messages, Anthropic Messages: what Claude Code
// speaks. A provider that speaks Messages gets the body as sent; any other
// gets it translated to Chat Completions, and its answer translated back.
type messagesDoor struct{}

func (messagesDoor) endpoint() string { return "messages" }

func (messagesDoor) native() providers.Protocol { return providers.ProtocolAnthropic }

func (messagesDoor) parse(body []byte, r *http.Request) (*call, error) {
	info, err := providers.ScanMessages(body)
	if err != nil {
		return nil, err
	}
	// The API's own checks, in its words, so the client's handling of them
	// works as against Anthropic.
	switch {
	case info.Model == "":
		return nil, messagesInvalid("model", "model: Field required")
	case !info.HasMessages:
		return nil, messagesInvalid("messages", "messages: Field required (at least one message)")
	case !info.HasMaxTokens:
		return nil, messagesInvalid("max_tokens", "max_tokens: Field required")
	case info.MaxTokens < 1:
		return nil, messagesInvalid("max_tokens", "max_tokens: Input should be greater than or equal to 1")
	}
	return &call{model: info.Model, stream: info.Stream, facts: info.Facts, body: body, path: "/v1/messages",
		codec: &messagesCodec{body: body, info: info}, unsignedThinking: info.UnsignedThinking, maxTokens: info.MaxTokens,
		session: sessionHeader(r)}, nil
}

func messagesInvalid(param, msg string) *apiError {
	return newAPIError(http.StatusBadRequest, "invalid_request_error", "invalid_request_error", param, msg)
}

func (messagesDoor) writeError(w http.ResponseWriter, e *apiError) {
	writeBody(w, e.status, "application/json", anthropic.ErrorBody(anthropic.ErrorType(e.status), e.Error()))
}

func (messagesDoor) nativeStream(string) nativeStream { return plainRelay(appendMessagesError) }

// appendMessagesError appends the error event that ends a Messages stream
// which failed after it began: never a clean message_stop.
func appendMessagesError(dst []byte, e *apiError) []byte {
	dst = append(dst, "event: error\ndata: "...)
	dst = append(dst, anthropic.ErrorBody(anthropic.ErrorType(e.status), e.Error())...)
	return append(dst, "\n\n"...)
}

// messagesCodec translates a Messages request for a Chat Completions
// provider, and the answer back.
type messagesCodec struct {
	body []byte
	info *providers.MessagesInfo
}

func (c *messagesCodec) chat(model string) (*providers.ChatCompletionRequest, error) {
	body, err := anthropic.ToChatRequest(c.body, model)
	if err != nil {
		return nil, err
	}
	return providers.ParseRequest(body)
}

// The answer reports the model the client asked for, as Claude Code keys
// its own settings (context window, tier) on it; X-LocalRouter-Route says
// which model answered.
func (c *messagesCodec) answer(resp *providers.ChatCompletionResponse, _ string) ([]byte, error) {
	return anthropic.FromChatResponse(resp, c.info.Model)
}

func (c *messagesCodec) stream(string) streamEncoder {
	return messagesStream{anthropic.NewChatToMessagesStream(c.info.Model, c.info.Facts.EstTokens)}
}

// messagesStream writes a Chat Completions stream as Messages events.
type messagesStream struct {
	s *anthropic.ChatToMessagesStream
}

func (messagesStream) contentType() string { return "text/event-stream" }

func (m messagesStream) chunk(dst []byte, c *providers.ChatCompletionStreamResponse) ([]byte, error) {
	return m.s.Chunk(dst, c)
}

func (m messagesStream) end(dst []byte) []byte { return m.s.End(dst) }

func (m messagesStream) fail(dst []byte, e *apiError) []byte {
	return m.s.Fail(dst, anthropic.ErrorType(e.status), e.Error())
}

// countTokens serves POST /v1/messages/count_tokens: the upstream's own
// count when the route speaks Messages, else the estimate routing uses.
func (s *Server) countTokens(w http.ResponseWriter, r *http.Request) {
	st := s.state.Load()
	d := messagesDoor{}
	body, aerr := readBody(w, r, st.maxBody)
	if aerr != nil {
		d.writeError(w, aerr)
		return
	}
	info, err := providers.ScanMessages(body)
	if err != nil {
		d.writeError(w, errorFor(err))
		return
	}
	if info.Model == "" || !info.HasMessages {
		d.writeError(w, messagesInvalid("messages", "model and messages are required"))
		return
	}
	sreq := s.routingRequest(r, "messages", info.Model, info.Stream, info.Facts)
	sreq.Private, sreq.Session = s.privateWhy(r, st, body), sessionHeader(r)
	dec, err := st.router.Decide(sreq, s.live())
	if _, private := privateError(err); private {
		// Counting is not worth sending a private prompt anywhere: the
		// estimate answers.
		err = errPrivateEstimate
	}
	if on, _ := st.mockMode(s); err != nil && err != errPrivateEstimate && !on {
		// A model no provider serves is refused as /v1/messages refuses it.
		aerr := errorFor(err)
		w.Header().Set("X-LocalRouter-Route", "none ("+aerr.Error()+")")
		d.writeError(w, aerr)
		return
	}
	if err == nil {
		w.Header().Set("X-LocalRouter-Route", dec.String())
		if p, ok := s.provider(st, dec); ok {
			if n, ok := p.(providers.Native); ok && n.Speaks(providers.ProtocolAnthropic) {
				if b, err := providers.WithModel(body, dec.Model); err == nil {
					resp, err := n.Forward(r.Context(), providers.NativeRequest{Protocol: providers.ProtocolAnthropic,
						Path: "/v1/messages/count_tokens", Query: r.URL.RawQuery, Body: b, Header: r.Header}, nil)
					if err == nil {
						writeBody(w, resp.Status, resp.ContentType, resp.Body)
						return
					}
					// Older local servers have no count_tokens: the estimate
					// below is still an answer.
					s.log.Debug("count_tokens upstream failed; answering the estimate", "route", dec.String(), "err", err)
				}
			}
		}
	}
	writeBody(w, http.StatusOK, "application/json",
		[]byte(`{"input_tokens":`+strconv.Itoa(info.Facts.EstTokens)+`}`))
}
