package openai

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/localrouter/localrouter/providers"
)

// InputItems returns the input of a Responses request body as a JSON array
// of items: a string input is the one user message it stands for.
func InputItems(body []byte) ([]byte, error) {
	var in struct {
		Input json.RawMessage `json:"input"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, providers.DecodeError("openai", "", err)
	}
	raw := bytes.TrimSpace(in.Input)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return []byte("[]"), nil
	case raw[0] == '"':
		var text string
		if err := json.Unmarshal(raw, &text); err != nil {
			return nil, providers.DecodeError("openai", "input", err)
		}
		b := append([]byte(`[{"type":"message","role":"user","content":[{"type":"input_text","text":`), providers.AppendJSONString(nil, text)...)
		return append(b, "}]}]"...), nil
	case raw[0] == '[':
		return raw, nil
	}
	return nil, &providers.RequestError{Param: "input", Msg: "Invalid type for 'input': expected a string or an array of input items."}
}

// JoinItems joins JSON arrays of items into one.
func JoinItems(arrays ...[]byte) []byte {
	out := []byte{'['}
	for _, a := range arrays {
		a = bytes.TrimSpace(a)
		if len(a) < 2 {
			continue
		}
		inner := bytes.TrimSpace(a[1 : len(a)-1])
		if len(inner) == 0 {
			continue
		}
		if len(out) > 1 {
			out = append(out, ',')
		}
		out = append(out, inner...)
	}
	return append(out, ']')
}

// WithHistory returns body with history (a JSON array of items, as
// JoinItems gives it) ahead of its input and previous_response_id removed:
// the request as it would read had the client sent the whole conversation
// itself, which any upstream, native or translated, can take.
func WithHistory(body, history []byte) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return nil, providers.DecodeError("openai", "", err)
	}
	input, err := InputItems(body)
	if err != nil {
		return nil, err
	}
	top["input"] = JoinItems(history, input)
	delete(top, "previous_response_id")
	return json.Marshal(top)
}

// AppendFailed appends a response.failed event ending a Responses stream
// that was relayed from an upstream and cut: id and seq are the upstream
// stream's response id and next sequence number, so the client sees one
// response to the end.
func AppendFailed(dst []byte, id, model string, seq int, code, msg string) []byte {
	s := &ChatToResponsesStream{model: model, id: id, created: time.Now().Unix(), seq: seq, started: true}
	return s.Fail(dst, code, msg)
}
