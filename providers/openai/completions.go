package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/sse"
)

// vendor is what LocalRouter knows of an upstream's API beyond Chat
// Completions, told by the host of its base URL. Every server it does not
// know (vLLM, Ollama, LM Studio, llama.cpp, OpenAI, most vendors) is taken
// to serve /completions and /embeddings beside /chat/completions.
type vendor int

const (
	vendorAny vendor = iota
	// vendorDeepSeek serves FIM only at /beta/completions, in OpenAI's
	// completions format, and has no embeddings.
	// https://api-docs.deepseek.com/api/create-completion
	vendorDeepSeek
	// vendorMistral serves FIM at /v1/fim/completions in a format of its
	// own (forwardMistralFIM) and embeddings in OpenAI's, but for the
	// fields it takes (toMistralEmbeddings). Codestral's own host serves
	// the same paths.
	// https://docs.mistral.ai/api/#tag/fim
	vendorMistral
	// vendorGroq serves neither completions nor embeddings.
	// https://console.groq.com/docs/openai
	vendorGroq
)

// vendorOf tells the vendor from a base URL.
func vendorOf(base string) vendor {
	u, err := url.Parse(base)
	if err != nil {
		return vendorAny
	}
	switch strings.ToLower(u.Hostname()) {
	case "api.deepseek.com":
		return vendorDeepSeek
	case "api.mistral.ai", "codestral.mistral.ai":
		return vendorMistral
	case "api.groq.com":
		return vendorGroq
	}
	return vendorAny
}

// origin returns the scheme and host of base, where vendors' paths that do
// not sit below the base URL's version path start.
func origin(base string) string {
	u, err := url.Parse(base)
	if err != nil {
		return base
	}
	return u.Scheme + "://" + u.Host
}

// speaksByDefault reports whether the client serves p without the config
// listing it.
func (c *Client) speaksByDefault(p providers.Protocol) bool {
	switch p {
	case providers.ProtocolCompletions:
		return c.vendor != vendorGroq
	case providers.ProtocolEmbeddings:
		return c.vendor != vendorGroq && c.vendor != vendorDeepSeek
	}
	return false
}

// forwardCompletions sends a /v1/completions request: to <base_url>/completions,
// DeepSeek's beta endpoint, or through Mistral's FIM API.
func (c *Client) forwardCompletions(ctx context.Context, req providers.NativeRequest, out providers.Sink[[]byte]) (*providers.NativeResponse, error) {
	switch c.vendor {
	case vendorDeepSeek:
		return providers.ForwardNative(ctx, c.up, c.origin+"/beta/completions", req, out, openaiWire{providers.ProtocolCompletions})
	case vendorMistral:
		return c.forwardMistralFIM(ctx, req, out)
	}
	return providers.ForwardNative(ctx, c.up, c.base+"/completions", req, out, openaiWire{providers.ProtocolCompletions})
}

// errEmbeddingsStream is a streamed embeddings request: the API has none.
var errEmbeddingsStream = errors.New("embeddings do not stream")

// forwardEmbeddings sends a /v1/embeddings request to <base_url>/embeddings,
// as is but to Mistral.
func (c *Client) forwardEmbeddings(ctx context.Context, req providers.NativeRequest, out providers.Sink[[]byte]) (*providers.NativeResponse, error) {
	if out != nil {
		return nil, fmt.Errorf("%s: %w", c.up.Name(), errEmbeddingsStream)
	}
	if c.vendor == vendorMistral {
		body, err := toMistralEmbeddings(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = body
		resp, err := providers.ForwardNative(ctx, c.up, c.base+"/embeddings", req, nil, mistralWire{})
		return resp, dropRaw(err)
	}
	return providers.ForwardNative(ctx, c.up, c.base+"/embeddings", req, nil, openaiWire{providers.ProtocolEmbeddings})
}

// forwardOllama sends a request in Ollama's own API to <root><path>, root
// being the base URL without /v1.
func (c *Client) forwardOllama(ctx context.Context, req providers.NativeRequest, out providers.Sink[[]byte]) (*providers.NativeResponse, error) {
	if !strings.HasPrefix(req.Path, "/api/") {
		return nil, fmt.Errorf("%s: %q is not a path of Ollama's API", c.up.Name(), req.Path)
	}
	return providers.ForwardNative(ctx, c.up, c.root+req.Path, req, out, providers.OllamaWire{})
}

// openaiWire is an OpenAI API beside Chat Completions as
// providers.ForwardNative sees it: its errors are OpenAI's
// {"error":{…}}, its usage is Chat Completions' usage object, and its
// streams (completions) end at data: [DONE].
type openaiWire struct{ p providers.Protocol }

func (w openaiWire) Protocol() providers.Protocol { return w.p }

func (openaiWire) ParseError(b []byte) (code, msg string) {
	msg, typ, code, _ := providers.ParseErrorBody(b)
	if code == "" {
		code = typ
	}
	return code, msg
}

func (openaiWire) Relay() providers.RelayDecoder { return &completionsRelay{} }

func (openaiWire) Usage(body []byte) *providers.Usage { return providers.FindUsage(body) }

// completionsRelay passes a completions stream on event by event and ends
// it at [DONE], relayed too; it reads the usage on the way, for the log.
// With translate set (an adapter), each chunk's data is translated into
// OpenAI's form first.
type completionsRelay struct {
	events     int // events passed on so far
	usage      *providers.Usage
	translate  func(data []byte) ([]byte, error)
	parseError func(data []byte) (msg, typ, code string) // with translate
}

func (r *completionsRelay) Event(ev sse.Event, dst [][]byte) ([][]byte, bool, error) {
	data := ev.Data
	switch {
	case len(bytes.TrimSpace(data)) == 0:
		return dst, false, nil
	case string(data) == "[DONE]":
		return append(dst, providers.AppendEvent(nil, ev.Name, data)), true, nil
	}
	if ev.Name == "error" || bytes.Contains(data, []byte(`"error"`)) {
		// OpenAI's {"error":{…}}, or Mistral's {"object":"error",…}.
		var probe struct {
			Error  json.RawMessage `json:"error"`
			Object string          `json:"object"`
		}
		if json.Unmarshal(data, &probe) != nil || ev.Name == "error" || isErrorValue(probe.Error) || probe.Object == "error" {
			return r.fail(ev, dst)
		}
	}
	if r.translate != nil {
		t, err := r.translate(data)
		if err != nil {
			return dst, false, err
		}
		data = t
	}
	if bytes.Contains(data, []byte(`"usage"`)) {
		if u := providers.FindUsage(data); u != nil {
			r.usage = u
		}
	}
	r.events++
	return append(dst, providers.AppendEvent(nil, ev.Name, data)), false, nil
}

// fail ends the stream at the upstream's error event. Before any event
// has gone out it is an error the gateway can still answer with a status;
// after, the event goes to the client as the stream's last word.
func (r *completionsRelay) fail(ev sse.Event, dst [][]byte) ([][]byte, bool, error) {
	msg, typ, code, param := providers.ParseErrorBody(ev.Data)
	if r.parseError != nil {
		msg, typ, code = r.parseError(ev.Data)
	}
	e := &providers.Error{Stage: providers.StageStream, Type: typ, Code: code, Param: param, Message: msg}
	if r.events == 0 {
		if r.translate == nil {
			e.Raw = bytes.Clone(ev.Data)
		}
		return dst, false, e
	}
	e.Err = providers.ErrRelayedFailure
	data := ev.Data
	if r.translate != nil {
		// An adapted vendor's error is not in OpenAI's shape.
		data = openAIErrorBody(e)
	}
	return append(dst, providers.AppendEvent(nil, ev.Name, data)), true, e
}

func (r *completionsRelay) Usage() *providers.Usage { return r.usage }

func (*completionsRelay) End(dst [][]byte) ([][]byte, error) { return dst, ErrNoDone }

// openAIErrorBody writes e in OpenAI's error shape.
func openAIErrorBody(e *providers.Error) []byte {
	typ := e.Type
	if typ == "" {
		typ = "server_error"
	}
	d := providers.ErrorDetail{Message: e.Message, Type: typ}
	if e.Code != "" {
		d.Code = &e.Code
	}
	if e.Param != "" {
		d.Param = &e.Param
	}
	b, _ := json.Marshal(providers.ErrorBody{Error: d})
	return b
}
