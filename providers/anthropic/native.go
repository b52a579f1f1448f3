package anthropic

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/sse"
)

// Speaks reports whether the client takes p as is: Anthropic Messages.
func (c *Client) Speaks(p providers.Protocol) bool { return p == providers.ProtocolAnthropic }

// Forward passes a Messages request through to the API (DESIGN §9): the
// client's anthropic-* headers go with it, the client's credentials never,
// and the answer comes back as the API sent it.
func (c *Client) Forward(ctx context.Context, req providers.NativeRequest, out providers.Sink[[]byte]) (*providers.NativeResponse, error) {
	if req.UnsignedThinking {
		body, err := stripHistoryThinking(req.Body, true, req.Foreign)
		if err != nil {
			return nil, &providers.RequestError{Param: "messages", Msg: err.Error()}
		}
		req.Body, req.UnsignedThinking, req.Foreign = body, false, nil
	}
	return Forward(ctx, c.up, strings.TrimSuffix(c.url, "/v1/messages"), req, out)
}

// stripHistoryThinking removes thinking from a Messages request's history:
// unsigned, the blocks with no signature, which another model (a local
// one, through the translator) wrote and Anthropic refuses with 400 as it
// cannot verify them; and every thinking and redacted_thinking block of the
// messages foreign reports, which another provider of the session signed
// (DESIGN §10). When that leaves the last assistant turn of a tool loop
// without thinking while thinking is on, thinking is turned off for this
// request, since Anthropic requires such a turn to start with a thinking
// block. An assistant turn left empty is dropped.
func stripHistoryThinking(body []byte, unsigned bool, foreign func(int) bool) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, err
	}
	var msgs []map[string]json.RawMessage
	if err := json.Unmarshal(top["messages"], &msgs); err != nil {
		return nil, err
	}
	kept := msgs[:0]
	lastNeedsThinking := false
	for i, m := range msgs {
		var role string
		json.Unmarshal(m["role"], &role)
		var blocks []json.RawMessage
		if role != "assistant" || json.Unmarshal(m["content"], &blocks) != nil {
			kept = append(kept, m)
			continue
		}
		var keep []json.RawMessage
		thinking, toolUse := false, false
		for _, b := range blocks {
			var head struct {
				Type      string `json:"type"`
				Signature string `json:"signature"`
			}
			json.Unmarshal(b, &head)
			switch head.Type {
			case "thinking", "redacted_thinking":
				if foreign != nil && foreign(i) || unsigned && head.Type == "thinking" && head.Signature == "" {
					continue
				}
				thinking = true
			case "tool_use":
				toolUse = true
			}
			keep = append(keep, b)
		}
		if len(keep) == 0 {
			continue
		}
		content, err := json.Marshal(keep)
		if err != nil {
			return nil, err
		}
		m["content"] = content
		kept = append(kept, m)
		lastNeedsThinking = toolUse && !thinking
	}
	enc, err := json.Marshal(kept)
	if err != nil {
		return nil, err
	}
	top["messages"] = enc
	if lastNeedsThinking {
		delete(top, "thinking")
	}
	return json.Marshal(top)
}

// Forward sends a Messages request to the Anthropic-compatible API at root
// (the API root: "/v1/messages" and the like are req.Path) through up. Any
// upstream that serves Messages uses it: Anthropic itself, and Ollama, LM
// Studio or vLLM marked with protocols: [anthropic].
func Forward(ctx context.Context, up *providers.Upstream, root string, req providers.NativeRequest, out providers.Sink[[]byte]) (*providers.NativeResponse, error) {
	if req.Foreign != nil {
		body, err := stripHistoryThinking(req.Body, false, req.Foreign)
		if err != nil {
			return nil, &providers.RequestError{Param: "messages", Msg: err.Error()}
		}
		req.Body = body
	}
	return providers.ForwardNative(ctx, up, root+req.Path, req, out, wire{})
}

// wire is the Messages protocol as providers.ForwardNative sees it.
type wire struct{}

func (wire) Protocol() providers.Protocol           { return providers.ProtocolAnthropic }
func (wire) ParseError(b []byte) (code, msg string) { return parseError(b) }
func (wire) Relay() providers.RelayDecoder          { return &relay{} }
func (wire) Usage(body []byte) *providers.Usage     { return messagesUsage(body) }

// relay passes a Messages stream on event by event, as received, and ends it
// at message_stop; an error event is the upstream's own last word. It reads
// the usage of message_start and message_delta on the way, for the log.
type relay struct{ in, out, cached int }

func (r *relay) Event(ev sse.Event, dst [][]byte) ([][]byte, bool, error) {
	switch ev.Name {
	case "message_start":
		var m struct {
			Message struct {
				Usage usage `json:"usage"`
			} `json:"message"`
		}
		if json.Unmarshal(ev.Data, &m) == nil {
			u := m.Message.Usage
			r.in, r.out = u.InputTokens+u.CacheReadInputTokens+u.CacheCreationInputTokens, u.OutputTokens
		}
	case "message_delta":
		var m struct {
			Usage deltaUsage `json:"usage"`
		}
		if json.Unmarshal(ev.Data, &m) == nil && m.Usage.OutputTokens != nil {
			r.out = *m.Usage.OutputTokens
		}
	}
	return append(dst, providers.AppendEvent(nil, ev.Name, ev.Data)), ev.Name == "message_stop" || ev.Name == "error", nil
}

func (r *relay) Usage() *providers.Usage {
	if r.in == 0 && r.out == 0 {
		return nil
	}
	return &providers.Usage{PromptTokens: r.in, CompletionTokens: r.out, TotalTokens: r.in + r.out}
}

func (*relay) End(dst [][]byte) ([][]byte, error) { return dst, errEndedEarly }

// messagesUsage reads a Messages answer's usage for the request log, in
// OpenAI's terms: prompt tokens include the cached ones.
func messagesUsage(body []byte) *providers.Usage {
	if !bytes.Contains(body, []byte(`"usage"`)) {
		return nil
	}
	var m struct {
		Usage *usage `json:"usage"`
	}
	if json.Unmarshal(body, &m) != nil || m.Usage == nil {
		return nil
	}
	u := m.Usage
	in := u.InputTokens + u.CacheReadInputTokens + u.CacheCreationInputTokens
	return &providers.Usage{PromptTokens: in, CompletionTokens: u.OutputTokens, TotalTokens: in + u.OutputTokens}
}

var _ providers.Native = (*Client)(nil)
