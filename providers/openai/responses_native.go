package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/sse"
)

// responsesWire is the Responses API as providers.ForwardNative sees it,
// for upstreams marked protocols: [responses] (OpenAI itself; local
// servers that serve /v1/responses).
type responsesWire struct{}

func (responsesWire) Protocol() providers.Protocol { return providers.ProtocolResponses }

func (responsesWire) ParseError(b []byte) (code, msg string) {
	msg, typ, code, _ := providers.ParseErrorBody(b)
	if code == "" {
		code = typ
	}
	return code, msg
}

func (responsesWire) Relay() providers.RelayDecoder { return &responsesRelay{} }

func (responsesWire) Usage(body []byte) *providers.Usage {
	if !bytes.Contains(body, []byte(`"usage"`)) {
		return nil
	}
	var r struct {
		Usage *responsesUsage `json:"usage"`
	}
	if json.Unmarshal(body, &r) != nil {
		return nil
	}
	return r.Usage.chat()
}

// responsesUsage is a Responses usage object.
type responsesUsage struct {
	InputTokens        int `json:"input_tokens"`
	OutputTokens       int `json:"output_tokens"`
	TotalTokens        int `json:"total_tokens"`
	InputTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
}

// chat puts u in Chat Completions' terms, where the log and the usage
// store keep it: both count cached tokens inside the input.
func (u *responsesUsage) chat() *providers.Usage {
	if u == nil {
		return nil
	}
	out := &providers.Usage{PromptTokens: u.InputTokens, CompletionTokens: u.OutputTokens, TotalTokens: u.TotalTokens}
	if c := u.InputTokensDetails.CachedTokens; c > 0 {
		out.PromptTokensDetails = &providers.PromptTokensDetails{CachedTokens: c}
	}
	if r := u.OutputTokensDetails.ReasoningTokens; r > 0 {
		out.CompletionTokensDetails = &providers.CompletionTokensDetails{ReasoningTokens: r}
	}
	return out
}

// responsesRelay passes a Responses stream on event by event, as received,
// and ends it at the response's terminal event; it reads the final usage on
// the way, for the log.
type responsesRelay struct{ usage *providers.Usage }

func (r *responsesRelay) Event(ev sse.Event, dst [][]byte) ([][]byte, bool, error) {
	name := ev.Name
	if name == "" {
		// The event's name is also its data's type; some servers send
		// only the latter.
		var t struct {
			Type string `json:"type"`
		}
		json.Unmarshal(ev.Data, &t)
		name = t.Type
	}
	done := false
	switch name {
	case "response.completed", "response.incomplete", "response.failed":
		done = true
		var m struct {
			Response struct {
				Usage *responsesUsage `json:"usage"`
			} `json:"response"`
		}
		if json.Unmarshal(ev.Data, &m) == nil {
			r.usage = m.Response.Usage.chat()
		}
	case "error":
		done = true
	}
	return append(dst, providers.AppendEvent(nil, ev.Name, ev.Data)), done, nil
}

func (r *responsesRelay) Usage() *providers.Usage { return r.usage }

var errResponsesEndedEarly = errors.New("stream ended before response.completed")

func (*responsesRelay) End(dst [][]byte) ([][]byte, error) { return dst, errResponsesEndedEarly }

// forwardResponses sends a Responses request to the upstream's
// <base_url>/responses.
func (c *Client) forwardResponses(ctx context.Context, req providers.NativeRequest, out providers.Sink[[]byte]) (*providers.NativeResponse, error) {
	if req.Foreign != nil {
		body, err := dropForeignReasoning(req.Body, req.Foreign)
		if err != nil {
			return nil, &providers.RequestError{Param: "input", Msg: err.Error()}
		}
		req.Body = body
	}
	base := strings.TrimSuffix(c.url, "/chat/completions")
	return providers.ForwardNative(ctx, c.up, base+strings.TrimPrefix(req.Path, "/v1"), req, out, responsesWire{})
}

// dropForeignReasoning removes the reasoning items foreign reports, which
// another provider of the session wrote (DESIGN §10):
// their encrypted_content is sealed for that provider, and an item id it
// issued is unknown here, so either would fail the whole request. Their
// answers and tool calls stay.
func dropForeignReasoning(body []byte, foreign func(int) bool) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, err
	}
	in := top["input"]
	if len(in) == 0 || in[0] != '[' {
		return body, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(in, &items); err != nil {
		return nil, err
	}
	kept := items[:0]
	for i, it := range items {
		var head struct {
			Type string `json:"type"`
		}
		if foreign(i) && json.Unmarshal(it, &head) == nil && head.Type == "reasoning" {
			continue
		}
		kept = append(kept, it)
	}
	if len(kept) == len(items) {
		return body, nil
	}
	enc, err := json.Marshal(kept)
	if err != nil {
		return nil, err
	}
	top["input"] = enc
	return json.Marshal(top)
}
