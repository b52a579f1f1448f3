package ollama

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/localrouter/localrouter/providers"
)

// now is the clock of created_at in whole answers; tests set it.
var now = time.Now

// errNoChoices is an answer with nothing to translate.
var errNoChoices = errors.New("ollama: upstream answer has no choices")

// FromChatResponse translates a non-streamed Chat Completions answer (Raw,
// as the OpenAI-compatible client returns it, or typed) into the one object
// Ollama answers a request with "stream": false: for /api/chat a message,
// for /api/generate (generate true) a response, reporting model, with
// "done":true and done_reason, token counts and durations as in
// NDJSONStream. The durations are 0: the answer alone does not tell them.
// Reasoning becomes thinking, a refusal the content; tool call arguments
// become objects as in the stream.
func FromChatResponse(resp *providers.ChatCompletionResponse, model string, generate bool) ([]byte, error) {
	return fromChatResponse(resp, model, generate, newCallID)
}

func fromChatResponse(resp *providers.ChatCompletionResponse, model string, generate bool, newID func() string) ([]byte, error) {
	if resp == nil {
		return nil, errNoChoices
	}
	var text, thinking, finish string
	var calls []*streamCall
	var u *usage
	if resp.Raw != nil {
		var r chatResponse
		if err := json.Unmarshal(resp.Raw, &r); err != nil {
			return nil, fmt.Errorf("ollama: decode upstream answer: %w", err)
		}
		if len(r.Choices) == 0 {
			return nil, errNoChoices
		}
		ch := &r.Choices[0]
		m := &ch.Message
		text = contentText(m.Content)
		if text == "" {
			text = m.Refusal
		}
		thinking = m.ReasoningContent
		if thinking == "" {
			thinking = m.Reasoning
		}
		for _, tc := range m.ToolCalls {
			calls = append(calls, &streamCall{id: tc.ID, name: tc.Function.Name, args: []byte(argumentsText(tc.Function.Arguments))})
		}
		finish, u = ch.FinishReason, r.Usage
	} else {
		if len(resp.Choices) == 0 {
			return nil, errNoChoices
		}
		ch := &resp.Choices[0]
		m := &ch.Message
		text = deref(m.Content)
		if text == "" {
			text = deref(m.Refusal)
		}
		thinking = m.ReasoningContent
		for _, tc := range m.ToolCalls {
			calls = append(calls, &streamCall{id: tc.ID, name: tc.Function.Name, args: []byte(tc.Function.Arguments)})
		}
		finish = ch.FinishReason
		if resp.Usage != nil {
			u = &usage{PromptTokens: resp.Usage.PromptTokens, CompletionTokens: resp.Usage.CompletionTokens}
		}
	}
	dst := appendAnswerHead(nil, model)
	if generate {
		dst = append(dst, `"response":`...)
		dst = providers.AppendJSONString(dst, text)
	} else {
		dst = append(dst, `"message":{"role":"assistant","content":`...)
		dst = providers.AppendJSONString(dst, text)
	}
	if thinking != "" {
		dst = append(dst, `,"thinking":`...)
		dst = providers.AppendJSONString(dst, thinking)
	}
	n := 0
	for _, c := range calls {
		if c.name == "" {
			continue
		}
		if n == 0 {
			dst = append(dst, `,"tool_calls":[`...)
		} else {
			dst = append(dst, ',')
		}
		dst = appendCall(dst, c, n, newID)
		n++
	}
	if n > 0 {
		dst = append(dst, ']')
	}
	if !generate {
		dst = append(dst, '}')
	}
	out := len(text) + len(thinking)
	for _, c := range calls {
		out += len(c.args)
	}
	return appendDone(dst, doneReason(finish), answerMetrics(u, out)), nil
}

// FromCompletions translates a non-streamed /v1/completions answer into
// the /api/generate answer to a request with "stream": false, reporting
// model, as FromChatResponse does.
func FromCompletions(body []byte, model string) ([]byte, error) {
	var a completionsAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("ollama: decode upstream answer: %w", err)
	}
	if e := bytes.TrimSpace(a.Error); len(e) > 0 && string(e) != "null" {
		msg, _, _, _ := providers.ParseErrorBody(body)
		return nil, fmt.Errorf("ollama: upstream answered an error: %s", msg)
	}
	i := slices.IndexFunc(a.Choices, func(c completionChoice) bool { return c.Index == 0 })
	if i < 0 {
		return nil, errNoChoices
	}
	ch := &a.Choices[i]
	dst := appendAnswerHead(nil, model)
	dst = append(dst, `"response":`...)
	dst = providers.AppendJSONString(dst, ch.Text)
	return appendDone(dst, doneReason(deref(ch.FinishReason)), answerMetrics(a.Usage, len(ch.Text))), nil
}

// LoadAnswer is Ollama's answer to a request with nothing to answer (no
// messages, no prompt), which it takes as an order to load the model:
// done_reason "load", and neither counts nor durations.
func LoadAnswer(model string, generate bool) []byte {
	dst := appendAnswerHead(nil, model)
	if generate {
		dst = append(dst, `"response":""`...)
	} else {
		dst = append(dst, `"message":{"role":"assistant","content":""}`...)
	}
	return append(dst, `,"done":true,"done_reason":"load"}`...)
}

// ErrorBody returns Ollama's error body, {"error":message}, for an answer
// that failed before any output. message must not hold a provider key.
func ErrorBody(msg string) []byte { return appendError(nil, msg) }

func appendAnswerHead(dst []byte, model string) []byte {
	dst = append(dst, `{"model":`...)
	dst = providers.AppendJSONString(dst, model)
	dst = append(dst, `,"created_at":"`...)
	dst = now().UTC().AppendFormat(dst, time.RFC3339Nano)
	return append(dst, `",`...)
}

// answerMetrics are a whole answer's: the usage, else an estimate of the
// output from its size in bytes.
func answerMetrics(u *usage, outBytes int) metrics {
	if u == nil {
		return metrics{eval: (outBytes + 3) / 4}
	}
	return metrics{prompt: max(u.PromptTokens, 0), eval: max(u.CompletionTokens, 0)}
}

// contentText reads a message content: a string, null, or text parts.
func contentText(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		json.Unmarshal(raw, &s)
		return s
	case '[':
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		json.Unmarshal(raw, &parts)
		var b strings.Builder
		for _, p := range parts {
			if p.Type == "text" {
				b.WriteString(p.Text)
			}
		}
		return b.String()
	}
	return ""
}

// EmbeddingsToEmbed translates an OpenAI /v1/embeddings answer into
// /api/embed's, {"model","embeddings":[[…],…],"total_duration",
// "load_duration","prompt_eval_count"} with the vectors in input order
// (by data[].index) and the durations 0, as the answer does not tell them;
// legacy, into /api/embeddings', {"embedding":[…]} with the first vector.
// Arrays of numbers are copied as the upstream wrote them; base64 vectors
// (encoding_format base64: little-endian float32s) are decoded.
func EmbeddingsToEmbed(resp []byte, model string, legacy bool) ([]byte, error) {
	var a embeddingsAnswer
	if err := json.Unmarshal(resp, &a); err != nil {
		return nil, fmt.Errorf("ollama: decode upstream embeddings: %w", err)
	}
	order := make([]int, len(a.Data))
	for i := range order {
		order[i] = i
	}
	index := func(i int) int {
		if p := a.Data[i].Index; p != nil {
			return *p
		}
		return i
	}
	slices.SortStableFunc(order, func(x, y int) int { return cmp.Compare(index(x), index(y)) })
	var dst []byte
	if legacy {
		dst = append(dst, `{"embedding":`...)
		if len(order) == 0 {
			return append(dst, "[]}"...), nil
		}
		dst, err := appendVector(dst, a.Data[order[0]].Embedding)
		if err != nil {
			return nil, err
		}
		return append(dst, '}'), nil
	}
	dst = append(dst, `{"model":`...)
	dst = providers.AppendJSONString(dst, model)
	dst = append(dst, `,"embeddings":[`...)
	for n, i := range order {
		if n > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendVector(dst, a.Data[i].Embedding); err != nil {
			return nil, err
		}
	}
	dst = append(dst, `],"total_duration":0,"load_duration":0,"prompt_eval_count":`...)
	prompt := 0
	if a.Usage != nil {
		prompt = max(a.Usage.PromptTokens, 0)
	}
	dst = strconv.AppendInt(dst, int64(prompt), 10)
	return append(dst, '}'), nil
}

// appendVector appends one embedding as an array of numbers.
func appendVector(dst []byte, raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '"' {
		var b64 string
		if err := json.Unmarshal(raw, &b64); err != nil {
			return nil, fmt.Errorf("ollama: decode upstream embeddings: %w", err)
		}
		b, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(b)%4 != 0 {
			return nil, fmt.Errorf("ollama: upstream embedding is not base64 float32s")
		}
		dst = append(dst, '[')
		for i := 0; i < len(b); i += 4 {
			f := math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))
			if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				return nil, fmt.Errorf("ollama: upstream embedding holds %v", f)
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendFloat32(dst, f)
		}
		return append(dst, ']'), nil
	}
	if len(raw) == 0 || raw[0] != '[' {
		return nil, fmt.Errorf("ollama: upstream embedding is not an array of numbers")
	}
	start := len(dst)
	buf := bytes.NewBuffer(dst)
	if err := json.Compact(buf, raw); err != nil {
		return nil, fmt.Errorf("ollama: decode upstream embeddings: %w", err)
	}
	dst = buf.Bytes()
	// Compact JSON that starts with [ and has no other bracket, string,
	// object or literal is an array of numbers.
	v := dst[start+1 : len(dst)-1]
	for _, c := range v {
		if !(c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' || c == ',') {
			return nil, fmt.Errorf("ollama: upstream embedding is not an array of numbers")
		}
	}
	return dst, nil
}

// appendFloat32 formats f as encoding/json formats a float32.
func appendFloat32(dst []byte, f float32) []byte {
	abs := float32(math.Abs(float64(f)))
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, float64(f), format, -1, 32)
	if format == 'e' {
		// e-09 to e-9, as encoding/json writes it.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}
