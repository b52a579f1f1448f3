package openai

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/localrouter/localrouter/providers"
)

// Mistral's FIM API (https://docs.mistral.ai/api/#tag/fim) takes an
// OpenAI-completions-like body at /v1/fim/completions but answers in Chat
// Completions' shape: choices[].message.content, and streamed
// choices[].delta.content. The adapter translates both ways, so the
// completions door sees OpenAI completions from every upstream. Mistral
// refuses fields it does not know (422 extra_forbidden), so the request is
// rebuilt from the fields it takes; the rest is dropped.

// completionsRequest is the part of an OpenAI /v1/completions request
// Mistral's FIM API can take.
type completionsRequest struct {
	Model       string          `json:"model"`
	Prompt      json.RawMessage `json:"prompt"`
	Suffix      *string         `json:"suffix"`
	MaxTokens   *int            `json:"max_tokens"`
	Temperature *float64        `json:"temperature"`
	TopP        *float64        `json:"top_p"`
	Stop        json.RawMessage `json:"stop"`
	Stream      bool            `json:"stream"`
	Seed        *int64          `json:"seed"`
}

// fimRequest is a Mistral FIM request.
type fimRequest struct {
	Model       string          `json:"model"`
	Prompt      string          `json:"prompt"`
	Suffix      *string         `json:"suffix,omitempty"`
	MaxTokens   *int            `json:"max_tokens,omitempty"`
	Temperature *float64        `json:"temperature,omitempty"`
	TopP        *float64        `json:"top_p,omitempty"`
	Stop        json.RawMessage `json:"stop,omitempty"`
	Stream      bool            `json:"stream"`
	RandomSeed  *int64          `json:"random_seed,omitempty"`
}

// toMistralFIM turns an OpenAI completions body into a Mistral FIM body.
// A prompt Mistral cannot take (several prompts, token ids) is a
// *providers.RequestError.
func toMistralFIM(body []byte) ([]byte, error) {
	var in completionsRequest
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, providers.DecodeError("completions", "", err)
	}
	prompt, ok := onePrompt(in.Prompt)
	if !ok {
		return nil, &providers.RequestError{Param: "prompt", Msg: "Mistral's FIM API takes one prompt string, not several or token ids"}
	}
	out := fimRequest{
		Model: in.Model, Prompt: prompt, Suffix: in.Suffix, MaxTokens: in.MaxTokens,
		Temperature: in.Temperature, TopP: in.TopP, Stream: in.Stream, RandomSeed: in.Seed,
	}
	if s := bytes.TrimSpace(in.Stop); len(s) > 0 && (s[0] == '"' || s[0] == '[') {
		out.Stop = s
	}
	return marshal(out)
}

// onePrompt reads a completions prompt that is one string: "…" or ["…"].
func onePrompt(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	var list []string
	if json.Unmarshal(raw, &list) == nil && len(list) <= 1 {
		if len(list) == 0 {
			return "", true
		}
		return list[0], true
	}
	return "", false
}

// marshal encodes v without escaping <, > and &, which code is full of.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// fimAnswer is a Mistral FIM answer or stream chunk: Chat Completions'
// shape.
type fimAnswer struct {
	ID      string          `json:"id"`
	Created int64           `json:"created"`
	Model   string          `json:"model"`
	Choices []fimChoice     `json:"choices"`
	Usage   json.RawMessage `json:"usage"`
}

type fimChoice struct {
	Index        int        `json:"index"`
	Message      fimMessage `json:"message"`
	Delta        fimMessage `json:"delta"`
	FinishReason *string    `json:"finish_reason"`
}

type fimMessage struct {
	Content json.RawMessage `json:"content"`
}

// text reads a message's content: a string, or Mistral's array of chunks,
// whose text ones it joins.
func (m fimMessage) text() string {
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return s
	}
	var chunks []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	json.Unmarshal(m.Content, &chunks)
	var b strings.Builder
	for _, c := range chunks {
		if c.Type == "text" {
			b.WriteString(c.Text)
		}
	}
	return b.String()
}

// textCompletion is an OpenAI completions answer or stream chunk.
type textCompletion struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"`
	Created int64              `json:"created"`
	Model   string             `json:"model"`
	Choices []completionChoice `json:"choices"`
	Usage   json.RawMessage    `json:"usage,omitempty"`
}

type completionChoice struct {
	Text         string  `json:"text"`
	Index        int     `json:"index"`
	Logprobs     *string `json:"logprobs"` // always null
	FinishReason *string `json:"finish_reason"`
}

var errFIMAnswer = errors.New("mistral: FIM answer is not a chat.completion object")

// fromMistralFIM turns a Mistral FIM answer, or with stream set one chunk
// of its stream, into OpenAI's text_completion form.
func fromMistralFIM(body []byte, stream bool) ([]byte, error) {
	var a fimAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, errFIMAnswer
	}
	out := textCompletion{ID: a.ID, Object: "text_completion", Created: a.Created, Model: a.Model,
		Choices: make([]completionChoice, len(a.Choices))}
	if u := bytes.TrimSpace(a.Usage); len(u) > 0 && string(u) != "null" {
		out.Usage = u
	}
	for i, c := range a.Choices {
		m := c.Message
		if stream {
			m = c.Delta
		}
		out.Choices[i] = completionChoice{Text: m.text(), Index: c.Index, FinishReason: fimFinish(c.FinishReason)}
	}
	return marshal(out)
}

// fimFinish maps Mistral's finish reasons onto OpenAI's: "model_length"
// (the context is full) is a "length" to a completions client; the rest
// are passed on.
func fimFinish(r *string) *string {
	if r != nil && *r == "model_length" {
		l := "length"
		return &l
	}
	return r
}

// mistralWire is the FIM API as providers.ForwardNative sees it.
type mistralWire struct{}

func (mistralWire) Protocol() providers.Protocol { return providers.ProtocolCompletions }

// ParseError reads Mistral's error bodies (see parseMistralError).
func (mistralWire) ParseError(b []byte) (code, msg string) {
	msg, typ, code := parseMistralError(b)
	if code == "" {
		code = typ
	}
	return code, msg
}

// parseMistralError reads {"object":"error","message":…,"type":…,"code":…},
// where a validation error's message is an object of FastAPI details, and
// falls back on the shapes every vendor uses.
func parseMistralError(b []byte) (msg, typ, code string) {
	var e struct {
		Message json.RawMessage `json:"message"`
		Type    string          `json:"type"`
		Code    json.RawMessage `json:"code"`
	}
	if json.Unmarshal(b, &e) != nil {
		msg, typ, code, _ = providers.ParseErrorBody(b)
		return msg, typ, code
	}
	typ = e.Type
	if json.Unmarshal(e.Code, &code) != nil && len(e.Code) > 0 && string(e.Code) != "null" {
		code = string(e.Code) // a number
	}
	var detail struct {
		Detail []struct {
			Loc []any  `json:"loc"`
			Msg string `json:"msg"`
		} `json:"detail"`
	}
	switch {
	case json.Unmarshal(e.Message, &msg) == nil:
	case json.Unmarshal(e.Message, &detail) == nil && len(detail.Detail) > 0:
		parts := make([]string, len(detail.Detail))
		for i, d := range detail.Detail {
			parts[i] = d.Msg
			if n := len(d.Loc); n > 0 {
				if f, ok := d.Loc[n-1].(string); ok {
					parts[i] = f + ": " + d.Msg
				}
			}
		}
		msg = strings.Join(parts, "; ")
	default:
		msg, _, _, _ = providers.ParseErrorBody(b)
	}
	return msg, typ, code
}

func (mistralWire) Relay() providers.RelayDecoder {
	return &completionsRelay{
		translate:  func(data []byte) ([]byte, error) { return fromMistralFIM(data, true) },
		parseError: parseMistralError,
	}
}

func (mistralWire) Usage(body []byte) *providers.Usage { return providers.FindUsage(body) }

// forwardMistralFIM sends a completions request through Mistral's FIM API
// and answers in OpenAI's completions form.
func (c *Client) forwardMistralFIM(ctx context.Context, req providers.NativeRequest, out providers.Sink[[]byte]) (*providers.NativeResponse, error) {
	body, err := toMistralFIM(req.Body)
	if err != nil {
		return nil, err
	}
	req.Body = body
	resp, err := providers.ForwardNative(ctx, c.up, c.origin+"/v1/fim/completions", req, out, mistralWire{})
	err = dropRaw(err)
	if err != nil || out != nil {
		return resp, err
	}
	tc, err := fromMistralFIM(resp.Body, false)
	if err != nil {
		return nil, &providers.Error{Provider: c.up.Name(), Stage: providers.StageStream, Status: http.StatusBadGateway, Message: err.Error()}
	}
	resp.Body, resp.ContentType = tc, "application/json"
	return resp, nil
}

// dropRaw removes Mistral's error body from err: it is not in the client's
// protocol, so the gateway writes the error in OpenAI's shape instead.
func dropRaw(err error) error {
	var pe *providers.Error
	if errors.As(err, &pe) {
		pe.Raw = nil
	}
	return err
}

// mistralEmbeddingFields are the fields Mistral's /v1/embeddings takes
// (https://docs.mistral.ai/api/endpoint/embeddings); OpenAI's dimensions is
// its output_dimension.
var mistralEmbeddingFields = map[string]bool{"model": true, "input": true, "output_dimension": true,
	"output_dtype": true, "encoding_format": true, "metadata": true}

// toMistralEmbeddings keeps of an OpenAI embeddings body what Mistral
// takes, which refuses any other field (user, …) with a 422.
func toMistralEmbeddings(body []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, providers.DecodeError("embeddings", "", err)
	}
	if d, ok := m["dimensions"]; ok {
		if _, set := m["output_dimension"]; !set {
			m["output_dimension"] = d
		}
	}
	for k := range m {
		if !mistralEmbeddingFields[k] {
			delete(m, k)
		}
	}
	return marshal(m)
}
