package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"
)

// This file holds what the Responses tests (responses_test.go) drive the
// gateway with: the OpenAI SDK with a tap on its transport that keeps even
// streamed answers, a strict reader of Responses event streams (the grammar
// Codex's parser relies on), and an upstream that serves /v1/responses
// itself and validates requests the way api.openai.com does.

// responsesKey is the key the native Responses upstream takes; it differs
// from every other fake's so a key sent to the wrong upstream shows.
const responsesKey = "sk-e2e-responses-key-3c7d1b"

// applyPatchInput is what the fakes give Codex's apply_patch tool: a patch
// with everything a JSON or tool-call round trip can spoil — newlines and
// tabs, quotes, backslashes that look like escapes, HTML characters that
// encoders escape, non-ASCII letters, an astral-plane emoji and U+2028.
const applyPatchInput = "*** Begin Patch\n" +
	"*** Update File: src/main.go\n" +
	"@@ func main() {\n" +
	"-\tfmt.Println(\"hello\")\n" +
	"+\tfmt.Println(\"héllo, \\\"wörld\\\"\\n\", `C:\\path\\to\\new` + \"\\u00e9\")\n" +
	"*** Add File: docs/ünïcode.md\n" +
	"+# 日本語 — naïve café 🚀\n" +
	"+<b>a & b</b> 'single' \"double\" \\\\ trailing backslash \\\n" +
	"+line\u2028separator\n" +
	"*** End Patch\n"

// applyPatchGrammar is the Lark grammar Codex sends with apply_patch.
const applyPatchGrammar = `start: begin_patch hunk+ end_patch
begin_patch: "*** Begin Patch" LF
end_patch: "*** End Patch" LF?

hunk: add_hunk | delete_hunk | update_hunk
add_hunk: "*** Add File: " filename LF add_line+
delete_hunk: "*** Delete File: " filename LF
update_hunk: "*** Update File: " filename LF change_move? change?

filename: /(.+)/
add_line: "+" /(.*)/ LF -> line

change_move: "*** Move to: " filename LF
change: (change_context | change_line)+ eof_line?
change_context: ("@@" | "@@ " /(.+)/) LF
change_line: ("+" | "-" | " ") /(.*)/ LF
eof_line: "*** End of File" LF

%import common.LF
`

// weatherJSON is the structured answer of a fake asked for a JSON schema.
const weatherJSON = `{"city":"Paris","temperature_c":18}`

// asciiJSON is s as a JSON string with every non-ASCII character escaped,
// the way Python servers (vLLM, json.dumps) write tool arguments: a
// gateway must decode the escapes, not pass them on.
func asciiJSON(s string) string {
	var b strings.Builder
	for _, r := range js(s) {
		switch {
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case r > 0xFFFF:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// ---- the client side ----

// respTap is the OpenAI SDK's transport: it keeps the last request and the
// last answer, a stream's bytes included (teed as the SDK reads them, so
// the stream stays incremental).
type respTap struct {
	mu         sync.Mutex // guards the fields below
	reqHeader  http.Header
	reqBody    []byte
	status     int
	respHeader http.Header
	respBody   bytes.Buffer
	tr         http.RoundTripper
}

func (rt *respTap) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		b, err := io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	rt.mu.Lock()
	rt.reqHeader, rt.reqBody = r.Header.Clone(), body
	rt.status, rt.respHeader = 0, nil
	rt.respBody.Reset()
	tr := rt.tr
	rt.mu.Unlock()
	resp, err := tr.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	rt.mu.Lock()
	rt.status, rt.respHeader = resp.StatusCode, resp.Header.Clone()
	rt.mu.Unlock()
	resp.Body = &tapBody{ReadCloser: resp.Body, rt: rt}
	return resp, nil
}

type tapBody struct {
	io.ReadCloser
	rt *respTap
}

func (b *tapBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.rt.mu.Lock()
	b.rt.respBody.Write(p[:n])
	b.rt.mu.Unlock()
	return n, err
}

// sent returns the last request the SDK made.
func (rt *respTap) sent() (http.Header, []byte) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.reqHeader, rt.reqBody
}

// got returns the last answer's status, headers and the bytes read of it.
func (rt *respTap) got() (int, http.Header, []byte) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.status, rt.respHeader, bytes.Clone(rt.respBody.Bytes())
}

func (rt *respTap) route() string {
	_, h, _ := rt.got()
	return h.Get("X-LocalRouter-Route")
}

// responsesSDK returns an OpenAI SDK client for the gateway p, with
// clientToken as its own key (which must reach no upstream) and no
// retries; tap sees every request.
func responsesSDK(t *testing.T, p *proc, tap *respTap, opts ...option.RequestOption) *openai.Client {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	tap.tr = tr
	base := []option.RequestOption{
		option.WithBaseURL(p.url + "/v1/"),
		option.WithAPIKey(clientToken),
		option.WithMaxRetries(0),
		option.WithHTTPClient(&http.Client{Transport: tap}),
	}
	c := openai.NewClient(append(base, opts...)...)
	return &c
}

// ---- Responses event streams ----

// respItem is an output item as the checks read it.
type respItem struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Status  string `json:"status"`
	Role    string `json:"role"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	Summary []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"summary"`
	EncryptedContent *string `json:"encrypted_content"`
	CallID           string  `json:"call_id"`
	Name             string  `json:"name"`
	Arguments        *string `json:"arguments"`
	Input            *string `json:"input"`
}

// text joins the output_text parts of a message item.
func (it *respItem) text() string {
	var b strings.Builder
	for _, c := range it.Content {
		if c.Type == "output_text" {
			b.WriteString(c.Text)
		}
	}
	return b.String()
}

// respObject is a response object as the checks read it.
type respObject struct {
	ID                 string          `json:"id"`
	Object             string          `json:"object"`
	Status             string          `json:"status"`
	Model              string          `json:"model"`
	Output             []respItem      `json:"output"`
	RawOutput          json.RawMessage `json:"-"`
	PreviousResponseID *string         `json:"previous_response_id"`
	Error              *struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Usage *respUsage `json:"usage"`
}

type respUsage struct {
	InputTokens        *int `json:"input_tokens"`
	InputTokensDetails *struct {
		CachedTokens *int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        *int `json:"output_tokens"`
	OutputTokensDetails *struct {
		ReasoningTokens *int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens *int `json:"total_tokens"`
}

func parseRespObject(raw []byte) (*respObject, error) {
	var o respObject
	if err := json.Unmarshal(raw, &o); err != nil {
		return nil, fmt.Errorf("not a response object: %v: %.300s", err, raw)
	}
	var out struct {
		Output json.RawMessage `json:"output"`
	}
	json.Unmarshal(raw, &out)
	o.RawOutput = out.Output
	return &o, nil
}

// outputText joins the text of every message item.
func (o *respObject) outputText() string {
	var b strings.Builder
	for i := range o.Output {
		if o.Output[i].Type == "message" {
			b.WriteString(o.Output[i].text())
		}
	}
	return b.String()
}

// items returns the output items of type typ.
func (o *respObject) items(typ string) []respItem {
	var out []respItem
	for _, it := range o.Output {
		if it.Type == typ {
			out = append(out, it)
		}
	}
	return out
}

// checkUsage checks the usage object Codex reads: all five counts there,
// none negative, the total their sum.
func checkUsage(u *respUsage) error {
	if u == nil || u.InputTokens == nil || u.OutputTokens == nil || u.TotalTokens == nil ||
		u.InputTokensDetails == nil || u.InputTokensDetails.CachedTokens == nil ||
		u.OutputTokensDetails == nil || u.OutputTokensDetails.ReasoningTokens == nil {
		return fmt.Errorf("usage lacks a count: %s", mustJSON(u))
	}
	if *u.InputTokens < 0 || *u.OutputTokens <= 0 || *u.InputTokensDetails.CachedTokens < 0 || *u.OutputTokensDetails.ReasoningTokens < 0 ||
		*u.TotalTokens != *u.InputTokens+*u.OutputTokens {
		return fmt.Errorf("usage counts do not add up: %s", mustJSON(u))
	}
	return nil
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// respStream is what checkResponsesStream read from a stream.
type respStream struct {
	names    []string
	terminal string // response.completed, response.failed or response.incomplete
	final    *respObject
	finalRaw json.RawMessage
	deltas   map[string]int // deltas per event type
}

// streamItem follows one output item through its events.
type streamItem struct {
	id, typ  string
	done     bool
	complete json.RawMessage
	// message parts and reasoning summary parts: text so far, and the text
	// their .done events gave (nil while open).
	parts     []*strings.Builder
	partsDone []*string
	textDone  []bool
	// reasoning_text content
	reasoning strings.Builder
	// function_call arguments and custom_tool_call input
	args     strings.Builder
	argsDone *string
}

// checkResponsesStream checks a Responses event stream against the grammar
// the API documents and Codex's parser relies on: every event named as its
// data's type, with sequence_number 0, 1, 2, …; response.created and
// response.in_progress first; each output item added at the next
// output_index, its parts and deltas only while it is open and of its
// kind, each .done agreeing with the deltas before it, then
// output_item.done with the complete item; exactly one terminal event,
// last, and a response.completed whose output is the completed items and
// whose usage has every count. It returns what it read, or the first
// breach.
func checkResponsesStream(evs []sseEvent) (*respStream, error) {
	st := &respStream{deltas: map[string]int{}}
	var items []*streamItem
	respID := ""
	fail := func(i int, format string, args ...any) (*respStream, error) {
		return st, fmt.Errorf("event %d (%s): %s", i, evs[i].name, fmt.Sprintf(format, args...))
	}
	for i, ev := range evs {
		st.names = append(st.names, ev.name)
		var d struct {
			Type         string          `json:"type"`
			Seq          *int            `json:"sequence_number"`
			Response     json.RawMessage `json:"response"`
			OutputIndex  *int            `json:"output_index"`
			ItemID       *string         `json:"item_id"`
			Item         json.RawMessage `json:"item"`
			ContentIndex *int            `json:"content_index"`
			SummaryIndex *int            `json:"summary_index"`
			Part         *struct {
				Type string  `json:"type"`
				Text *string `json:"text"`
			} `json:"part"`
			Delta     *string `json:"delta"`
			Text      *string `json:"text"`
			Arguments *string `json:"arguments"`
			Input     *string `json:"input"`
		}
		if err := json.Unmarshal([]byte(ev.data), &d); err != nil {
			return fail(i, "data is not JSON: %v: %.300s", err, ev.data)
		}
		if d.Type == "" || d.Type != ev.name {
			return fail(i, "data type %q under event name %q", d.Type, ev.name)
		}
		if d.Seq == nil || *d.Seq != i {
			return fail(i, "sequence_number %s, want %d", ev.data[:min(len(ev.data), 120)], i)
		}
		if st.terminal != "" {
			return fail(i, "an event after %s", st.terminal)
		}
		if strings.HasSuffix(d.Type, ".delta") {
			st.deltas[d.Type]++
		}
		// item finds the open item an event names by output_index and item_id.
		item := func(kind string) (*streamItem, error) {
			if d.OutputIndex == nil || *d.OutputIndex < 0 || *d.OutputIndex >= len(items) {
				return nil, fmt.Errorf("output_index %s names no added item (%d added)", intp(d.OutputIndex), len(items))
			}
			it := items[*d.OutputIndex]
			switch {
			case d.ItemID == nil || *d.ItemID != it.id:
				return nil, fmt.Errorf("item_id %s, but item %d is %q", deref(d.ItemID), *d.OutputIndex, it.id)
			case it.done:
				return nil, fmt.Errorf("item %d is already done", *d.OutputIndex)
			case it.typ != kind:
				return nil, fmt.Errorf("a %s event for a %s item", kind, it.typ)
			}
			return it, nil
		}
		// part finds the open part an event names by content or summary index.
		part := func(it *streamItem, idx *int) (int, error) {
			if idx == nil || *idx < 0 || *idx >= len(it.parts) {
				return 0, fmt.Errorf("index %s names no added part (%d added)", intp(idx), len(it.parts))
			}
			if it.partsDone[*idx] != nil {
				return 0, fmt.Errorf("part %d is already done", *idx)
			}
			return *idx, nil
		}
		switch d.Type {
		case "response.created", "response.in_progress":
			if i != map[string]int{"response.created": 0, "response.in_progress": 1}[d.Type] {
				return fail(i, "%s out of place", d.Type)
			}
			o, err := parseRespObject(d.Response)
			if err != nil {
				return fail(i, "%v", err)
			}
			if o.Object != "response" || o.ID == "" || o.Status != "in_progress" && o.Status != "queued" {
				return fail(i, "response object %.300s", d.Response)
			}
			if i == 0 {
				respID = o.ID
			} else if o.ID != respID {
				return fail(i, "response id %q, created %q", o.ID, respID)
			}
		case "response.output_item.added":
			if i < 2 {
				return fail(i, "an item before response.in_progress")
			}
			if d.OutputIndex == nil || *d.OutputIndex != len(items) {
				return fail(i, "output_index %s, want %d", intp(d.OutputIndex), len(items))
			}
			var it respItem
			if err := json.Unmarshal(d.Item, &it); err != nil || it.ID == "" {
				return fail(i, "item %.300s (%v)", d.Item, err)
			}
			switch it.Type {
			case "message", "function_call", "custom_tool_call":
				if it.Status != "in_progress" {
					return fail(i, "added item status %q", it.Status)
				}
				if it.Type != "message" && (it.Name == "" || it.CallID == "") {
					return fail(i, "a tool call added without name or call_id: %s", d.Item)
				}
			case "reasoning":
			default:
				return fail(i, "an item of type %q", it.Type)
			}
			items = append(items, &streamItem{id: it.ID, typ: it.Type})
		case "response.content_part.added", "response.reasoning_summary_part.added":
			kind, idx := "message", d.ContentIndex
			if d.Type == "response.reasoning_summary_part.added" {
				kind, idx = "reasoning", d.SummaryIndex
			}
			it, err := item(kind)
			if err != nil {
				return fail(i, "%v", err)
			}
			if idx == nil || *idx != len(it.parts) || d.Part == nil || d.Part.Text == nil || *d.Part.Text != "" {
				return fail(i, "part %s added at %s, want an empty part at %d", mustJSON(d.Part), intp(idx), len(it.parts))
			}
			if want := map[string]string{"message": "output_text", "reasoning": "summary_text"}[kind]; d.Part.Type != want && (kind != "message" || d.Part.Type != "refusal") {
				return fail(i, "a %s part in a %s item", d.Part.Type, kind)
			}
			it.parts = append(it.parts, &strings.Builder{})
			it.partsDone = append(it.partsDone, nil)
			it.textDone = append(it.textDone, false)
		case "response.output_text.delta", "response.output_text.done", "response.refusal.delta", "response.refusal.done",
			"response.reasoning_summary_text.delta", "response.reasoning_summary_text.done":
			kind, idx := "message", d.ContentIndex
			if strings.HasPrefix(d.Type, "response.reasoning") {
				kind, idx = "reasoning", d.SummaryIndex
			}
			it, err := item(kind)
			if err != nil {
				return fail(i, "%v", err)
			}
			k, err := part(it, idx)
			if err != nil {
				return fail(i, "%v", err)
			}
			if it.textDone[k] {
				return fail(i, "text of part %d after its .done", k)
			}
			if strings.HasSuffix(d.Type, ".delta") {
				if d.Delta == nil {
					return fail(i, "no delta")
				}
				it.parts[k].WriteString(*d.Delta)
				break
			}
			text := d.Text
			if strings.HasPrefix(d.Type, "response.refusal") {
				// refusal.done carries "refusal", not "text".
				var r struct {
					Refusal *string `json:"refusal"`
				}
				json.Unmarshal([]byte(ev.data), &r)
				text = r.Refusal
			}
			if text == nil || *text != it.parts[k].String() {
				return fail(i, "done text %q, deltas gave %q", deref(text), it.parts[k].String())
			}
			it.textDone[k] = true
		case "response.content_part.done", "response.reasoning_summary_part.done":
			kind, idx := "message", d.ContentIndex
			if d.Type == "response.reasoning_summary_part.done" {
				kind, idx = "reasoning", d.SummaryIndex
			}
			it, err := item(kind)
			if err != nil {
				return fail(i, "%v", err)
			}
			k, err := part(it, idx)
			if err != nil {
				return fail(i, "%v", err)
			}
			var text *string
			if d.Part != nil {
				text = d.Part.Text
				if d.Part.Type == "refusal" {
					var r struct {
						Part struct {
							Refusal *string `json:"refusal"`
						} `json:"part"`
					}
					json.Unmarshal([]byte(ev.data), &r)
					text = r.Part.Refusal
				}
			}
			if !it.textDone[k] || text == nil || *text != it.parts[k].String() {
				return fail(i, "part %d done with %q before its text was done (%v), deltas gave %q", k, deref(text), it.textDone[k], it.parts[k].String())
			}
			it.partsDone[k] = text
		case "response.reasoning_text.delta", "response.reasoning_text.done":
			it, err := item("reasoning")
			if err != nil {
				return fail(i, "%v", err)
			}
			if d.Type == "response.reasoning_text.delta" {
				if d.Delta == nil {
					return fail(i, "no delta")
				}
				it.reasoning.WriteString(*d.Delta)
			} else if d.Text == nil || *d.Text != it.reasoning.String() {
				return fail(i, "done text %q, deltas gave %q", deref(d.Text), it.reasoning.String())
			}
		case "response.function_call_arguments.delta", "response.function_call_arguments.done",
			"response.custom_tool_call_input.delta", "response.custom_tool_call_input.done":
			kind, final := "function_call", d.Arguments
			if strings.HasPrefix(d.Type, "response.custom") {
				kind, final = "custom_tool_call", d.Input
			}
			it, err := item(kind)
			if err != nil {
				return fail(i, "%v", err)
			}
			if it.argsDone != nil {
				return fail(i, "after the call's .done")
			}
			if strings.HasSuffix(d.Type, ".delta") {
				if d.Delta == nil {
					return fail(i, "no delta")
				}
				it.args.WriteString(*d.Delta)
				break
			}
			if final == nil || *final != it.args.String() {
				return fail(i, "done with %q, deltas gave %q", deref(final), it.args.String())
			}
			it.argsDone = final
		case "response.output_item.done":
			if d.OutputIndex == nil || *d.OutputIndex < 0 || *d.OutputIndex >= len(items) {
				return fail(i, "output_index %s names no added item", intp(d.OutputIndex))
			}
			it := items[*d.OutputIndex]
			var c respItem
			if err := json.Unmarshal(d.Item, &c); err != nil {
				return fail(i, "item %.300s: %v", d.Item, err)
			}
			if it.done || c.ID != it.id || c.Type != it.typ {
				return fail(i, "item %s %s (done %v), added as %s %s", c.Type, c.ID, it.done, it.typ, it.id)
			}
			if it.typ != "reasoning" && c.Status != "completed" {
				return fail(i, "status %q, want completed", c.Status)
			}
			for k := range it.parts {
				if it.partsDone[k] == nil {
					return fail(i, "part %d of the item is still open", k)
				}
			}
			var got []string
			switch it.typ {
			case "message":
				for _, p := range c.Content {
					got = append(got, p.Text)
				}
			case "reasoning":
				for _, p := range c.Summary {
					got = append(got, p.Text)
				}
			case "function_call":
				if c.Arguments == nil || !json.Valid([]byte(*c.Arguments)) || c.Name == "" || c.CallID == "" {
					return fail(i, "an incomplete function_call: %s", d.Item)
				}
				if it.argsDone == nil || *c.Arguments != *it.argsDone {
					return fail(i, "arguments %q, but the arguments events gave %q", *c.Arguments, deref(it.argsDone))
				}
			case "custom_tool_call":
				if c.Input == nil || c.Name == "" || c.CallID == "" {
					return fail(i, "an incomplete custom_tool_call: %s", d.Item)
				}
				if it.argsDone == nil || *c.Input != *it.argsDone {
					return fail(i, "input %q, but the input events gave %q", *c.Input, deref(it.argsDone))
				}
			}
			if it.typ == "message" || it.typ == "reasoning" {
				var want []string
				for _, p := range it.partsDone {
					want = append(want, *p)
				}
				if !slices.Equal(got, want) {
					return fail(i, "the complete item has %q, its parts were %q", got, want)
				}
			}
			it.done, it.complete = true, d.Item
		case "response.completed", "response.failed", "response.incomplete":
			o, err := parseRespObject(d.Response)
			if err != nil {
				return fail(i, "%v", err)
			}
			st.terminal, st.final, st.finalRaw = d.Type, o, d.Response
			if o.ID != respID || o.Object != "response" || o.Status != strings.TrimPrefix(d.Type, "response.") {
				return fail(i, "response %s status %q object %q; created %s", o.ID, o.Status, o.Object, respID)
			}
			if d.Type == "response.failed" {
				if o.Error == nil || o.Error.Code == "" || o.Error.Message == "" {
					return fail(i, "a failed response without error code and message: %.300s", d.Response)
				}
				break
			}
			var want []json.RawMessage
			for k, it := range items {
				if !it.done {
					return fail(i, "item %d is still open", k)
				}
				want = append(want, it.complete)
			}
			var gotOut, wantOut any
			json.Unmarshal(o.RawOutput, &gotOut)
			wb, _ := json.Marshal(want)
			json.Unmarshal(wb, &wantOut)
			if len(want) == 0 {
				wantOut = []any{}
			}
			if df := cmp.Diff(wantOut, gotOut); df != "" {
				return fail(i, "output is not the completed items (-items +output):\n%s", df)
			}
			if err := checkUsage(o.Usage); err != nil {
				return fail(i, "%v", err)
			}
		case "error":
			return fail(i, "an error event: %s", ev.data)
		default:
			return fail(i, "an event no client expects: %s", ev.data)
		}
	}
	if st.terminal == "" {
		return st, fmt.Errorf("the stream ended without response.completed or response.failed: %v", st.names)
	}
	return st, nil
}

func intp(p *int) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprint(*p)
}

func deref(p *string) string {
	if p == nil {
		return "<nil>"
	}
	return *p
}

// ---- an upstream that serves /v1/responses ----

// fakeResponses is an upstream serving the Responses API natively (OpenAI
// itself; vLLM and Ollama also serve /v1/responses). It checks its key,
// refuses what api.openai.com refuses (unknown parameters, missing model or
// input, malformed items and tools, tool outputs answering no call, an
// unknown previous_response_id, encrypted reasoning it did not write) with
// the API's words, keeps the conversations it answered for
// previous_response_id, and answers in the API's wire format, deltas with
// their obfuscation padding included. Every request it got is recorded.
type fakeResponses struct {
	*httptest.Server
	mu       sync.Mutex // guards the fields below
	reqs     []upstreamSeen
	problems []string
	stored   map[string][]json.RawMessage // response id → its conversation, input then output
	issued   map[string]bool              // encrypted reasoning it wrote
	hook     func(w http.ResponseWriter, r *http.Request, req *respReq) bool
}

// respReq is the part of a Responses request the fake reads.
type respReq struct {
	Model              string            `json:"model"`
	Stream             bool              `json:"stream"`
	Instructions       *string           `json:"instructions"`
	PreviousResponseID string            `json:"previous_response_id"`
	Store              *bool             `json:"store"`
	Include            []string          `json:"include"`
	Tools              []json.RawMessage `json:"tools"`
	Reasoning          *struct {
		Effort  *string `json:"effort"`
		Summary *string `json:"summary"`
	} `json:"reasoning"`
	Text *struct {
		Format *struct {
			Type   string          `json:"type"`
			Name   string          `json:"name"`
			Schema json.RawMessage `json:"schema"`
		} `json:"format"`
	} `json:"text"`
	input   []json.RawMessage // input, a string made one user message
	history []json.RawMessage // the conversation before input, from previous_response_id
}

// tool reports whether a tool of type typ named name is offered.
func (q *respReq) tool(typ, name string) bool {
	for _, raw := range q.Tools {
		var t struct{ Type, Name string }
		json.Unmarshal(raw, &t)
		if t.Type == typ && t.Name == name {
			return true
		}
	}
	return false
}

// responsesParams are the body parameters of POST /v1/responses: those the
// SDK writes, plus stream and Codex's client_metadata. Anything else is
// "Unknown parameter", as the API answers.
var responsesParams = func() map[string]bool {
	m := set("stream", "client_metadata")
	rt := reflect.TypeFor[responses.ResponseNewParams]()
	for i := range rt.NumField() {
		if name, _, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			m[name] = true
		}
	}
	return m
}()

var (
	responsesIncludes = set("file_search_call.results", "web_search_call.results", "web_search_call.action.sources",
		"message.input_image.image_url", "computer_call_output.output.image_url", "code_interpreter_call.outputs",
		"reasoning.encrypted_content", "message.output_text.logprobs")
	responsesToolTypes = set("function", "custom", "web_search", "web_search_preview", "web_search_2025_08_26", "file_search",
		"computer_use_preview", "computer", "code_interpreter", "image_generation", "local_shell", "shell", "apply_patch",
		"mcp", "namespace", "tool_search")
	responsesRoles = set("user", "assistant", "system", "developer")
)

func newFakeResponses(t *testing.T) *fakeResponses {
	f := &fakeResponses{stored: map[string][]json.RawMessage{}, issued: map[string]bool{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.Close()
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, p := range f.problems {
			t.Errorf("fake Responses upstream: %s", p)
		}
	})
	return f
}

// setHook makes h answer the requests it wants (it returns true for
// those), after validation and recording.
func (f *fakeResponses) setHook(h func(w http.ResponseWriter, r *http.Request, req *respReq) bool) {
	f.mu.Lock()
	f.hook = h
	f.mu.Unlock()
}

func (f *fakeResponses) requests() []upstreamSeen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]upstreamSeen(nil), f.reqs...)
}

func (f *fakeResponses) last(t *testing.T) upstreamSeen {
	t.Helper()
	rs := f.requests()
	if len(rs) == 0 {
		t.Fatal("the fake Responses upstream got no valid request")
	}
	return rs[len(rs)-1]
}

// accept marks encrypted reasoning as written by this API (in an earlier
// session).
func (f *fakeResponses) accept(enc string) {
	f.mu.Lock()
	f.issued[enc] = true
	f.mu.Unlock()
}

func (f *fakeResponses) problem(format string, args ...any) {
	f.mu.Lock()
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

// refuse answers an error in the API's shape; a refusal of a request the
// gateway sent is a test failure.
func (f *fakeResponses) refuse(w http.ResponseWriter, status int, msg, param, code string) {
	f.problem("answered %d: %s", status, msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, openAIErrorJSON(msg, "invalid_request_error", param, code))
}

func (f *fakeResponses) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/v1/models" {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"list","data":[{"id":"gpt-5-codex","object":"model","created":1757000000,"owned_by":"openai"}]}`)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+responsesKey {
		// Never the header's value: it may be a key.
		f.problem("a request without the configured key (the client's own: %v)", strings.Contains(r.Header.Get("Authorization"), clientToken))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, openAIErrorJSON("Incorrect API key provided.", "invalid_request_error", "", "invalid_api_key"))
		return
	}
	if bytes.Contains(body, []byte(clientToken)) || r.Header.Get("X-Api-Key") != "" {
		f.problem("the client's credential reached the upstream")
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/responses" {
		f.refuse(w, http.StatusNotFound, "Invalid URL ("+r.Method+" "+r.URL.Path+")", "", "")
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		f.refuse(w, http.StatusBadRequest, "Unsupported content type: '"+ct+"'.", "", "")
		return
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		f.refuse(w, http.StatusBadRequest, "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)", "", "")
		return
	}
	var req respReq
	if status, msg, param, code := f.validate(top, body, &req); msg != "" {
		f.refuse(w, status, msg, param, code)
		return
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, upstreamSeen{r.URL.Path, r.URL.RawQuery, r.Header.Clone(), body})
	hook := f.hook
	f.mu.Unlock()
	if hook != nil && hook(w, r, &req) {
		return
	}
	f.answer(w, &req)
}

// validate applies the API's rules; msg "" means valid.
func (f *fakeResponses) validate(top map[string]json.RawMessage, body []byte, req *respReq) (status int, msg, param, code string) {
	bad := func(param, format string, args ...any) (int, string, string, string) {
		return http.StatusBadRequest, fmt.Sprintf(format, args...), param, "invalid_value"
	}
	for k := range top {
		if !responsesParams[k] {
			return http.StatusBadRequest, "Unknown parameter: '" + k + "'.", k, "unknown_parameter"
		}
	}
	for _, k := range []string{"model", "input"} {
		if raw, ok := top[k]; !ok || string(raw) == "null" {
			return http.StatusBadRequest, "Missing required parameter: '" + k + "'.", k, "missing_required_parameter"
		}
	}
	if err := json.Unmarshal(body, req); err != nil {
		return bad("", "Invalid type in the request body: %v", err)
	}
	if req.Model == "" {
		return bad("model", "Invalid 'model': empty string.")
	}
	raw := bytes.TrimSpace(top["input"])
	if raw[0] == '"' {
		var s string
		json.Unmarshal(raw, &s)
		req.input = []json.RawMessage{json.RawMessage(`{"type":"message","role":"user","content":` + js(s) + `}`)}
	} else if json.Unmarshal(raw, &req.input) != nil {
		return bad("input", "Invalid type for 'input': expected a string or an array of input items.")
	}
	for _, inc := range req.Include {
		if !responsesIncludes[inc] {
			return bad("include", "Invalid value: '%s'. Supported values are: %v.", inc, slices.Sorted(mapKeys(responsesIncludes)))
		}
	}
	if req.Text != nil && req.Text.Format != nil {
		switch fm := req.Text.Format; fm.Type {
		case "text", "json_object":
		case "json_schema":
			var schema map[string]any
			if fm.Name == "" || json.Unmarshal(fm.Schema, &schema) != nil {
				return bad("text.format", "Missing required parameter: 'text.format.name' or 'text.format.schema'.")
			}
		default:
			return bad("text.format.type", "Invalid value: '%s'. Supported values are: 'text', 'json_object' and 'json_schema'.", fm.Type)
		}
	}
	for i, raw := range req.Tools {
		var t struct {
			Type       string          `json:"type"`
			Name       string          `json:"name"`
			Parameters json.RawMessage `json:"parameters"`
			Format     *struct {
				Type, Syntax, Definition string
			} `json:"format"`
		}
		if json.Unmarshal(raw, &t) != nil || !responsesToolTypes[t.Type] {
			return bad(fmt.Sprintf("tools[%d].type", i), "Invalid value: '%s'.", t.Type)
		}
		switch t.Type {
		case "function":
			var params map[string]any
			if !functionNameRE.MatchString(t.Name) || json.Unmarshal(t.Parameters, &params) != nil {
				return bad(fmt.Sprintf("tools[%d]", i), "Invalid function tool: a name matching '^[a-zA-Z0-9_-]{1,64}$' and object parameters are required.")
			}
		case "custom":
			if !functionNameRE.MatchString(t.Name) {
				return bad(fmt.Sprintf("tools[%d].name", i), "Invalid 'tools[%d].name'.", i)
			}
			if fm := t.Format; fm != nil && fm.Type != "text" && (fm.Type != "grammar" || fm.Syntax != "lark" && fm.Syntax != "regex" || fm.Definition == "") {
				return bad(fmt.Sprintf("tools[%d].format", i), "Invalid custom tool format: %s", raw)
			}
		}
	}
	if id := req.PreviousResponseID; id != "" {
		f.mu.Lock()
		h, ok := f.stored[id]
		f.mu.Unlock()
		if !ok {
			return http.StatusBadRequest, "Previous response with id '" + id + "' not found.", "previous_response_id", "previous_response_not_found"
		}
		req.history = h
	}
	calls := map[string]string{} // call_id → the item type of its call
	for _, raw := range req.history {
		var it struct {
			Type   string `json:"type"`
			CallID string `json:"call_id"`
		}
		json.Unmarshal(raw, &it)
		calls[it.CallID] = it.Type
	}
	for i, raw := range req.input {
		p := fmt.Sprintf("input[%d]", i)
		var it struct {
			Type      string          `json:"type"`
			Role      string          `json:"role"`
			Content   json.RawMessage `json:"content"`
			CallID    string          `json:"call_id"`
			Name      string          `json:"name"`
			Arguments *string         `json:"arguments"`
			Input     *string         `json:"input"`
			Output    json.RawMessage `json:"output"`
			Summary   []struct {
				Type string `json:"type"`
				Text string `json:"text"`
			} `json:"summary"`
			EncryptedContent *string `json:"encrypted_content"`
		}
		if err := json.Unmarshal(raw, &it); err != nil {
			return bad(p, "Invalid type for '%s': %v", p, err)
		}
		if it.Type == "" && it.Role != "" {
			it.Type = "message"
		}
		switch it.Type {
		case "message":
			if !responsesRoles[it.Role] {
				return bad(p+".role", "Invalid value: '%s'. Supported values are: 'user', 'assistant', 'system' and 'developer'.", it.Role)
			}
			c := bytes.TrimSpace(it.Content)
			if len(c) == 0 || c[0] != '"' && c[0] != '[' {
				return bad(p+".content", "Invalid type for '%s.content': expected a string or an array of content parts.", p)
			}
			if c[0] == '[' {
				var parts []struct{ Type string }
				json.Unmarshal(c, &parts)
				for j, q := range parts {
					want := set("input_text", "input_image", "input_file")
					if it.Role == "assistant" {
						want = set("output_text", "refusal")
					}
					if !want[q.Type] {
						return bad(fmt.Sprintf("%s.content[%d].type", p, j), "Invalid value: '%s' for a %s message.", q.Type, it.Role)
					}
				}
			}
		case "function_call", "custom_tool_call":
			if it.CallID == "" || it.Name == "" || it.Type == "function_call" && it.Arguments == nil || it.Type == "custom_tool_call" && it.Input == nil {
				return bad(p, "Missing required parameter for a %s: call_id, name and %s.", it.Type, map[string]string{"function_call": "arguments", "custom_tool_call": "input"}[it.Type])
			}
			calls[it.CallID] = it.Type
		case "function_call_output", "custom_tool_call_output":
			if calls[it.CallID] != strings.TrimSuffix(it.Type, "_output") {
				return bad(p, "No tool call found for %s with call_id %s.", it.Type, it.CallID)
			}
			if o := bytes.TrimSpace(it.Output); len(o) == 0 || o[0] != '"' && o[0] != '[' {
				return bad(p+".output", "Invalid type for '%s.output': expected a string or an array.", p)
			}
		case "reasoning":
			if it.Summary == nil {
				return bad(p+".summary", "Missing required parameter: '%s.summary'.", p)
			}
			if it.EncryptedContent != nil {
				f.mu.Lock()
				ok := f.issued[*it.EncryptedContent]
				f.mu.Unlock()
				if !ok {
					return bad(p+".encrypted_content", "The encrypted content for item %s could not be verified.", p)
				}
			}
		case "item_reference", "web_search_call", "local_shell_call", "local_shell_call_output", "compaction":
		default:
			return bad(p+".type", "Invalid value: '%s'.", it.Type)
		}
	}
	return 0, "", "", ""
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// respOut is one output item the fake answers with.
type respOut struct {
	typ              string // message, reasoning, function_call, custom_tool_call
	id               string
	text             string // message text, reasoning summary, arguments or input
	encrypted        string
	callID, name     string
	includeEncrypted bool
}

func (o respOut) json(status string) string {
	final := status == "completed"
	pick := func(s string) string {
		if final {
			return s
		}
		return ""
	}
	switch o.typ {
	case "message":
		content := ""
		if final {
			content = `{"type":"output_text","annotations":[],"logprobs":[],"text":` + js(o.text) + `}`
		}
		return fmt.Sprintf(`{"id":%s,"type":"message","status":%q,"content":[%s],"role":"assistant"}`, js(o.id), status, content)
	case "reasoning":
		summary, enc := "", ""
		if final {
			summary = `{"type":"summary_text","text":` + js(o.text) + `}`
		}
		if o.includeEncrypted {
			enc = `,"encrypted_content":` + js(o.encrypted)
		}
		return fmt.Sprintf(`{"id":%s,"type":"reasoning"%s,"summary":[%s]}`, js(o.id), enc, summary)
	case "function_call":
		return fmt.Sprintf(`{"id":%s,"type":"function_call","status":%q,"arguments":%s,"call_id":%s,"name":%s}`, js(o.id), status, js(pick(o.text)), js(o.callID), js(o.name))
	}
	return fmt.Sprintf(`{"id":%s,"type":"custom_tool_call","status":%q,"call_id":%s,"input":%s,"name":%s}`, js(o.id), status, js(o.callID), js(pick(o.text)), js(o.name))
}

// respAnswerText is what the fake says in reply to tool outputs.
func respAnswerText(outputs int) string { return fmt.Sprintf("Got %d tool outputs.", outputs) }

// answer replies as the model would: tool outputs acknowledged,
// apply_patch or get_weather called when offered, JSON when a schema is
// asked for, else hello; with reasoning asked for, a reasoning item first,
// encrypted when include asks for it.
func (f *fakeResponses) answer(w http.ResponseWriter, req *respReq) {
	var out []respOut
	if req.Reasoning != nil && (req.Reasoning.Effort != nil || req.Reasoning.Summary != nil) {
		enc := "gAAAAAB" + rand.Text() + rand.Text()
		f.accept(enc)
		out = append(out, respOut{typ: "reasoning", id: "rs_" + rand.Text(), text: "Thinking it over, natively.", encrypted: enc,
			includeEncrypted: slices.Contains(req.Include, "reasoning.encrypted_content")})
	}
	outputs := 0
	for i := len(req.input) - 1; i >= 0; i-- {
		var it struct{ Type string }
		json.Unmarshal(req.input[i], &it)
		if it.Type != "function_call_output" && it.Type != "custom_tool_call_output" {
			break
		}
		outputs++
	}
	switch {
	case outputs > 0:
		out = append(out, respOut{typ: "message", id: "msg_" + rand.Text(), text: respAnswerText(outputs)})
	case req.tool("custom", "apply_patch"):
		out = append(out, respOut{typ: "custom_tool_call", id: "ctc_" + rand.Text(), callID: "call_" + rand.Text(), name: "apply_patch", text: applyPatchInput})
	case req.tool("function", "get_weather"):
		out = append(out, respOut{typ: "function_call", id: "fc_" + rand.Text(), callID: "call_" + rand.Text(), name: "get_weather", text: `{"city":"Paris","unit":"celsius"}`})
	case req.Text != nil && req.Text.Format != nil && req.Text.Format.Type == "json_schema":
		out = append(out, respOut{typ: "message", id: "msg_" + rand.Text(), text: weatherJSON})
	default:
		out = append(out, respOut{typ: "message", id: "msg_" + rand.Text(), text: "Hello from " + req.Model + "."})
	}
	id := "resp_" + strings.ToLower(rand.Text())
	var items []string
	for _, o := range out {
		items = append(items, o.json("completed"))
	}
	if req.Store == nil || *req.Store {
		conv := append(append([]json.RawMessage(nil), req.history...), req.input...)
		for _, it := range items {
			conv = append(conv, json.RawMessage(it))
		}
		f.mu.Lock()
		f.stored[id] = conv
		f.mu.Unlock()
	}
	reasoning := 0
	if len(out) > 0 && out[0].typ == "reasoning" {
		reasoning = 7
	}
	usage := fmt.Sprintf(`{"input_tokens":41,"input_tokens_details":{"cached_tokens":8},"output_tokens":%d,"output_tokens_details":{"reasoning_tokens":%d},"total_tokens":%d}`,
		13+reasoning, reasoning, 41+13+reasoning)
	resp := func(status, output, usage string) string {
		instr, prev := "null", "null"
		if req.Instructions != nil {
			instr = js(*req.Instructions)
		}
		if req.PreviousResponseID != "" {
			prev = js(req.PreviousResponseID)
		}
		tools := "[]"
		if len(req.Tools) > 0 {
			tools = mustJSON(req.Tools)
		}
		return fmt.Sprintf(`{"id":%s,"object":"response","created_at":1764000000,"status":%q,"background":false,"error":null,"incomplete_details":null,`+
			`"instructions":%s,"max_output_tokens":null,"model":%s,"output":[%s],"parallel_tool_calls":true,"previous_response_id":%s,`+
			`"reasoning":{"effort":null,"summary":null},"store":%v,"temperature":1.0,"text":{"format":{"type":"text"},"verbosity":"medium"},`+
			`"tool_choice":"auto","tools":%s,"top_p":1.0,"truncation":"disabled","usage":%s,"user":null,"metadata":{}}`,
			js(id), status, instr, js(req.Model), output, prev, req.Store == nil || *req.Store, tools, usage)
	}
	if !req.Stream {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, resp("completed", strings.Join(items, ","), usage))
		return
	}
	var evs []string
	ev := func(typ, fields string) {
		evs = append(evs, fmt.Sprintf("event: %s\ndata: {\"type\":%q,\"sequence_number\":%d,%s}", typ, typ, len(evs), fields))
	}
	ref := func(i int, o respOut) string { return fmt.Sprintf(`"item_id":%s,"output_index":%d`, js(o.id), i) }
	pad := func() string { return `"obfuscation":` + js(strings.ToLower(rand.Text())[:6]) }
	ev("response.created", `"response":`+resp("in_progress", "", "null"))
	ev("response.in_progress", `"response":`+resp("in_progress", "", "null"))
	for i, o := range out {
		ev("response.output_item.added", fmt.Sprintf(`"output_index":%d,"item":%s`, i, o.json("in_progress")))
		switch o.typ {
		case "message":
			ev("response.content_part.added", ref(i, o)+`,"content_index":0,"part":{"type":"output_text","annotations":[],"logprobs":[],"text":""}`)
			for _, word := range strings.SplitAfter(o.text, " ") {
				ev("response.output_text.delta", ref(i, o)+`,"content_index":0,"delta":`+js(word)+`,"logprobs":[],`+pad())
			}
			ev("response.output_text.done", ref(i, o)+`,"content_index":0,"text":`+js(o.text)+`,"logprobs":[]`)
			ev("response.content_part.done", ref(i, o)+`,"content_index":0,"part":{"type":"output_text","annotations":[],"logprobs":[],"text":`+js(o.text)+`}`)
		case "reasoning":
			ev("response.reasoning_summary_part.added", ref(i, o)+`,"summary_index":0,"part":{"type":"summary_text","text":""}`)
			for _, word := range strings.SplitAfter(o.text, " ") {
				ev("response.reasoning_summary_text.delta", ref(i, o)+`,"summary_index":0,"delta":`+js(word)+","+pad())
			}
			ev("response.reasoning_summary_text.done", ref(i, o)+`,"summary_index":0,"text":`+js(o.text))
			ev("response.reasoning_summary_part.done", ref(i, o)+`,"summary_index":0,"part":{"type":"summary_text","text":`+js(o.text)+`}`)
		case "function_call", "custom_tool_call":
			kind, field := "function_call_arguments", "arguments"
			if o.typ == "custom_tool_call" {
				kind, field = "custom_tool_call_input", "input"
			}
			half := len(o.text) / 2
			for half > 0 && !utf8.RuneStart(o.text[half]) {
				half--
			}
			for _, frag := range []string{o.text[:half], o.text[half:]} {
				ev("response."+kind+".delta", ref(i, o)+`,"delta":`+js(frag)+","+pad())
			}
			ev("response."+kind+".done", ref(i, o)+`,"`+field+`":`+js(o.text))
		}
		ev("response.output_item.done", fmt.Sprintf(`"output_index":%d,"item":%s`, i, o.json("completed")))
	}
	ev("response.completed", `"response":`+resp("completed", strings.Join(items, ","), usage))
	writeEvents(w, evs)
}

// ---- driving the door ----

// respNew sends params with the SDK and returns the answer as the checks
// read it.
func respNew(t *testing.T, c *openai.Client, params responses.ResponseNewParams, opts ...option.RequestOption) *respObject {
	t.Helper()
	r, err := c.Responses.New(context.Background(), params, opts...)
	if err != nil {
		t.Fatalf("responses: %v", err)
	}
	o, err := parseRespObject([]byte(r.RawJSON()))
	if err != nil {
		t.Fatal(err)
	}
	if r.Object != "response" || r.Status != "completed" || !strings.HasPrefix(r.ID, "resp_") {
		t.Errorf("object %q, status %q, id %q; want response, completed, resp_…", r.Object, r.Status, r.ID)
	}
	if err := checkUsage(o.Usage); err != nil {
		t.Errorf("%v", err)
	}
	return o
}

// respStreamAll sends params as a stream with the SDK, reading it as its
// users do, and checks the bytes the tap saw with checkResponsesStream: the
// SDK must have seen every event, and the answer is the response of
// response.completed.
func respStreamAll(t *testing.T, c *openai.Client, tap *respTap, params responses.ResponseNewParams, opts ...option.RequestOption) (*respObject, *respStream) {
	t.Helper()
	s := c.Responses.NewStreaming(context.Background(), params, opts...)
	defer s.Close()
	var types []string
	var completed string
	for s.Next() {
		ev := s.Current()
		types = append(types, ev.Type)
		if ev.Type == "response.completed" {
			completed = ev.Response.RawJSON()
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("stream: %v (events %v)", err, types)
	}
	status, header, raw := tap.got()
	if status != http.StatusOK || !strings.HasPrefix(header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, content type %q", status, header.Get("Content-Type"))
	}
	evs, err := parseSSE(raw)
	if err != nil {
		t.Fatal(err)
	}
	st, err := checkResponsesStream(evs)
	if err != nil {
		t.Fatalf("%v\nevents %v\n%s", err, st.names, raw)
	}
	if !slices.Equal(types, st.names) {
		t.Errorf("the SDK saw events %v, the wire carried %v", types, st.names)
	}
	if st.terminal != "response.completed" || completed == "" {
		t.Fatalf("the stream ended with %s: %s", st.terminal, st.finalRaw)
	}
	o, err := parseRespObject([]byte(completed))
	if err != nil {
		t.Fatal(err)
	}
	return o, st
}

// respTurn sends params streamed or not.
func respTurn(t *testing.T, c *openai.Client, tap *respTap, params responses.ResponseNewParams, stream bool, opts ...option.RequestOption) *respObject {
	t.Helper()
	if stream {
		o, _ := respStreamAll(t, c, tap, params, opts...)
		return o
	}
	return respNew(t, c, params, opts...)
}

// respUserText is one user message of input.
func respUserText(s string) responses.ResponseInputItemUnionParam {
	return responses.ResponseInputItemParamOfMessage(s, responses.EasyInputMessageRoleUser)
}

// respInput is input as a list of items.
func respInput(items ...responses.ResponseInputItemUnionParam) responses.ResponseNewParamsInputUnion {
	return responses.ResponseNewParamsInputUnion{OfInputItemList: items}
}

// respCallParam is a function_call or custom_tool_call output item as the
// client sends it back in the next turn's input.
func respCallParam(it respItem) responses.ResponseInputItemUnionParam {
	if it.Type == "custom_tool_call" {
		p := responses.ResponseInputItemParamOfCustomToolCall(it.CallID, deref(it.Input), it.Name)
		p.OfCustomToolCall.ID = openai.String(it.ID)
		return p
	}
	p := responses.ResponseInputItemParamOfFunctionCall(deref(it.Arguments), it.CallID, it.Name)
	p.OfFunctionCall.ID = openai.String(it.ID)
	return p
}

// respOutputParam is the client's output for the call it.
func respOutputParam(it respItem, output string) responses.ResponseInputItemUnionParam {
	if it.Type == "custom_tool_call" {
		return responses.ResponseInputItemParamOfCustomToolCallOutput(it.CallID, output)
	}
	p := responses.ResponseInputItemParamOfFunctionCallOutput(output)
	p.OfFunctionCallOutput.CallID = openai.String(it.CallID)
	return p
}

// respPost sends a raw Responses request and returns the status, the
// headers and the whole body (a stream read to its end).
func respPost(t *testing.T, p *proc, path string, body []byte, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, p.url+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("the gateway cut the answer instead of ending it: %v (%s)", err, got)
	}
	return resp.StatusCode, resp.Header, got
}

// chatMessages reads the messages of a Chat Completions request.
type chatMessage struct {
	Role             string          `json:"role"`
	Content          json.RawMessage `json:"content"`
	ReasoningContent string          `json:"reasoning_content"`
	ToolCallID       string          `json:"tool_call_id"`
	ToolCalls        []struct {
		ID       string `json:"id"`
		Function struct {
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
		} `json:"function"`
	} `json:"tool_calls"`
}

// text is the message's content as text: the string, or its text parts
// joined.
func (m *chatMessage) text() string {
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return s
	}
	var parts []struct{ Type, Text string }
	json.Unmarshal(m.Content, &parts)
	var b strings.Builder
	for _, p := range parts {
		b.WriteString(p.Text)
	}
	return b.String()
}

type chatRequest struct {
	Messages []chatMessage `json:"messages"`
	Tools    []struct {
		Type     string `json:"type"`
		Function struct {
			Name        string          `json:"name"`
			Description string          `json:"description"`
			Parameters  json.RawMessage `json:"parameters"`
			Strict      *bool           `json:"strict"`
		} `json:"function"`
	} `json:"tools"`
	ResponseFormat  json.RawMessage `json:"response_format"`
	ReasoningEffort string          `json:"reasoning_effort"`
	MaxTokens       *int            `json:"max_tokens"`
	Stream          bool            `json:"stream"`
}

func parseChatRequest(t *testing.T, body []byte) *chatRequest {
	t.Helper()
	var r chatRequest
	if err := json.Unmarshal(body, &r); err != nil {
		t.Fatalf("Chat request %s: %v", body, err)
	}
	return &r
}

// inOrder reports whether the strings occur in body in this order.
func inOrder(body []byte, ss ...string) bool {
	at := 0
	for _, s := range ss {
		i := bytes.Index(body[at:], []byte(s))
		if i < 0 {
			return false
		}
		at += i + len(s)
	}
	return true
}
