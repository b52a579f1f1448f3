package openai

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/localrouter/localrouter/providers"
)

// Mistral's FIM answers, as https://docs.mistral.ai/api/#tag/fim shows
// them: Chat Completions' shape.
const (
	mistralAnswer = `{"id":"5b35cc2e69bf4ba9a11373ee1f1937f8","object":"chat.completion","model":"codestral-latest",` +
		`"usage":{"prompt_tokens":16,"completion_tokens":9,"total_tokens":25},"created":1732902806,` +
		`"choices":[{"index":0,"message":{"content":"a, b = 0, 1 <&>","tool_calls":null,"prefix":false,"role":"assistant"},"finish_reason":"stop"}]}`
	mistralChunk1 = `{"id":"e7d5","object":"chat.completion.chunk","created":1732902806,"model":"codestral-latest","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}`
	mistralChunk2 = `{"id":"e7d5","object":"chat.completion.chunk","created":1732902806,"model":"codestral-latest","choices":[{"index":0,"delta":{"content":"a, b"},"finish_reason":null}]}`
	mistralChunk3 = `{"id":"e7d5","object":"chat.completion.chunk","created":1732902806,"model":"codestral-latest","choices":[{"index":0,"delta":{"content":" = 0, 1"},"finish_reason":"model_length"}],"usage":{"prompt_tokens":16,"total_tokens":25,"completion_tokens":9}}`
)

// mistralClient is a client whose upstream counts as Mistral's API.
func mistralClient(t *testing.T, up *fakeUpstream) *Client {
	c := newClient(t, up.URL+"/v1", nil)
	c.vendor, c.origin = vendorMistral, up.URL // as for https://api.mistral.ai/v1
	return c
}

func TestToMistralFIM(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"fields it takes; the rest dropped",
			`{"model":"codestral-latest","prompt":"def f(x):\n    if x < 0 && y > 1","suffix":"\n    return y","max_tokens":64,"temperature":0.2,"top_p":0.9,` +
				`"stop":["\n\n"],"stream":true,"seed":7,"stream_options":{"include_usage":true},"echo":false,"n":1,"logprobs":null,"user":"u1","x_vendor":1}`,
			`{"model":"codestral-latest","prompt":"def f(x):\n    if x < 0 && y > 1","suffix":"\n    return y","max_tokens":64,"temperature":0.2,"top_p":0.9,` +
				`"stop":["\n\n"],"stream":true,"random_seed":7}`},
		{"nulls and a string stop", `{"model":"m","prompt":["p"],"suffix":null,"max_tokens":null,"stop":"\n"}`,
			`{"model":"m","prompt":"p","stop":"\n","stream":false}`},
		{"no prompt", `{"model":"m","stop":null}`, `{"model":"m","prompt":"","stream":false}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := toMistralFIM([]byte(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
	for _, in := range []string{`{"prompt":["a","b"]}`, `{"prompt":[1,2,3]}`, `{"prompt":[[1,2]]}`, `{"prompt":1}`, `[1]`, `{"prompt":`} {
		var re *providers.RequestError
		if _, err := toMistralFIM([]byte(in)); !errors.As(err, &re) {
			t.Errorf("%s: got %v, want a *providers.RequestError", in, err)
		}
	}
}

func TestForwardMistralFIM(t *testing.T) {
	const client = `{"model":"codestral-latest","prompt":"def fib(n):\n    ","suffix":"\n    return a","max_tokens":64,"stream":true,"stream_options":{"include_usage":true}}`
	const sent = `{"model":"codestral-latest","prompt":"def fib(n):\n    ","suffix":"\n    return a","max_tokens":64,"stream":true}`
	req := providers.NativeRequest{Protocol: providers.ProtocolCompletions, Path: "/v1/completions", Body: []byte(client)}
	t.Run("stream", func(t *testing.T) {
		up := newUpstream(t, sseHandler(data(mistralChunk1), data(mistralChunk2), data(mistralChunk3), done))
		got, resp, err := forward(context.Background(), mistralClient(t, up), req, true)
		if err != nil {
			t.Fatal(err)
		}
		want := append(events(
			`{"id":"e7d5","object":"text_completion","created":1732902806,"model":"codestral-latest","choices":[{"text":"","index":0,"logprobs":null,"finish_reason":null}]}`,
			`{"id":"e7d5","object":"text_completion","created":1732902806,"model":"codestral-latest","choices":[{"text":"a, b","index":0,"logprobs":null,"finish_reason":null}]}`,
			`{"id":"e7d5","object":"text_completion","created":1732902806,"model":"codestral-latest","choices":[{"text":" = 0, 1","index":0,"logprobs":null,"finish_reason":"length"}],"usage":{"prompt_tokens":16,"total_tokens":25,"completion_tokens":9}}`,
		), done)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("translated events (-want +got):\n%s", diff)
		}
		if want := (&providers.Usage{PromptTokens: 16, CompletionTokens: 9, TotalTokens: 25}); !cmp.Equal(resp.Usage, want) {
			t.Errorf("got usage %+v, want %+v", resp.Usage, want)
		}
		checkNative(t, up.requests(), "/v1/fim/completions", sent, "text/event-stream")
	})
	t.Run("non-stream", func(t *testing.T) {
		up := newUpstream(t, jsonHandler(http.StatusOK, mistralAnswer))
		body := strings.Replace(client, `"stream":true,"stream_options":{"include_usage":true}`, `"stream":false`, 1)
		_, resp, err := forward(context.Background(), mistralClient(t, up), providers.NativeRequest{Protocol: providers.ProtocolCompletions, Body: []byte(body)}, false)
		if err != nil {
			t.Fatal(err)
		}
		const want = `{"id":"5b35cc2e69bf4ba9a11373ee1f1937f8","object":"text_completion","created":1732902806,"model":"codestral-latest",` +
			`"choices":[{"text":"a, b = 0, 1 <&>","index":0,"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":16,"completion_tokens":9,"total_tokens":25}}`
		if string(resp.Body) != want || resp.ContentType != "application/json" {
			t.Errorf("got %s %s, want\n%s", resp.ContentType, resp.Body, want)
		}
		if resp.Usage == nil || resp.Usage.TotalTokens != 25 {
			t.Errorf("got usage %+v, want 25 tokens in all", resp.Usage)
		}
	})
	t.Run("validation error", func(t *testing.T) {
		const body = `{"object":"error","message":{"detail":[{"type":"extra_forbidden","loc":["body","stream_options"],"msg":"Extra inputs are not permitted","input":{"include_usage":true}}]},"type":"invalid_request_message_error","param":null,"code":null}`
		up := newUpstream(t, jsonHandler(http.StatusUnprocessableEntity, body))
		_, _, err := forward(context.Background(), mistralClient(t, up), req, true)
		e := asError(t, err)
		if e.Status != http.StatusUnprocessableEntity || e.Message != "stream_options: Extra inputs are not permitted" ||
			e.Code != "invalid_request_message_error" || e.Raw != nil {
			t.Errorf("got status %d code %q message %q raw %q; want 422 with Mistral's detail and no raw body, which is not OpenAI's shape",
				e.Status, e.Code, e.Message, e.Raw)
		}
	})
	t.Run("error event mid-stream", func(t *testing.T) {
		const ev = `{"object":"error","message":"Service unavailable.","type":"internal_server_error","param":null,"code":"1000"}`
		up := newUpstream(t, sseHandler(data(mistralChunk2), data(ev)))
		got, _, err := forward(context.Background(), mistralClient(t, up), req, true)
		if len(got) != 2 {
			t.Fatalf("got %d events, want the chunk and the error", len(got))
		}
		var last struct {
			Error struct{ Message, Type string } `json:"error"`
		}
		if err := json.Unmarshal([]byte(strings.TrimSuffix(strings.TrimPrefix(got[1], "data: "), "\n\n")), &last); err != nil ||
			last.Error.Message != "Service unavailable." || last.Error.Type != "internal_server_error" {
			t.Errorf("got last event %q, want Mistral's error in OpenAI's shape", got[1])
		}
		if !errors.Is(err, providers.ErrRelayedFailure) || asError(t, err).Message != "Service unavailable." {
			t.Errorf("got %v, want Mistral's message, relayed", err)
		}
	})
	t.Run("several prompts", func(t *testing.T) {
		up := newUpstream(t, jsonHandler(http.StatusOK, mistralAnswer))
		_, _, err := forward(context.Background(), mistralClient(t, up),
			providers.NativeRequest{Protocol: providers.ProtocolCompletions, Body: []byte(`{"model":"m","prompt":["a","b"]}`)}, false)
		var re *providers.RequestError
		if !errors.As(err, &re) || re.Param != "prompt" {
			t.Errorf("got %v, want a request error on prompt", err)
		}
		if n := len(up.requests()); n != 0 {
			t.Errorf("upstream got %d requests, want none", n)
		}
	})
}

func FuzzMistralFIM(f *testing.F) {
	for _, s := range []string{mistralAnswer, mistralChunk1, mistralChunk3, `{"choices":[{"message":{"content":[{"type":"text","text":"x"}]}}]}`, `{}`, `[`} {
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, in []byte, stream bool) {
		out, err := fromMistralFIM(in, stream)
		if err != nil {
			return
		}
		var tc textCompletion
		if err := json.Unmarshal(out, &tc); err != nil || tc.Object != "text_completion" {
			t.Fatalf("%q: got %s (%v), want a text_completion object", in, out, err)
		}
	})
}

// FuzzToMistralFIM: whatever the client sends, the adapter refuses it with
// a request error or sends Mistral a JSON object of only the fields its FIM
// API takes (it answers 422 to any other).
func FuzzToMistralFIM(f *testing.F) {
	for _, s := range []string{
		`{"model":"codestral-latest","prompt":"def f(x):","suffix":"return","max_tokens":64,"stop":["\n\n"],"stream":true,"seed":7,"echo":true}`,
		`{"model":"m","prompt":["p"],"suffix":null,"stop":"\n"}`, `{"prompt":["a","b"]}`, `{"prompt":[1,2]}`, `{"stop":{}}`, `{"stop":5}`, `null`, `{`,
	} {
		f.Add([]byte(s))
	}
	allowed := map[string]bool{"model": true, "prompt": true, "suffix": true, "max_tokens": true, "temperature": true,
		"top_p": true, "stop": true, "stream": true, "random_seed": true}
	f.Fuzz(func(t *testing.T, in []byte) {
		out, err := toMistralFIM(in)
		if err != nil {
			var re *providers.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("%q: got %v (%T), want a *providers.RequestError", in, err, err)
			}
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(out, &m); err != nil {
			t.Fatalf("%q: sent %s, not a JSON object: %v", in, out, err)
		}
		for k := range m {
			if !allowed[k] {
				t.Fatalf("%q: sent field %q, which Mistral refuses", in, k)
			}
		}
		var p string
		if json.Unmarshal(m["prompt"], &p) != nil {
			t.Fatalf("%q: sent prompt %s, want a string", in, m["prompt"])
		}
	})
}

func TestForwardMistralEmbeddings(t *testing.T) {
	const answer = `{"id":"c1","object":"list","data":[{"object":"embedding","embedding":[-0.016,0.032],"index":0}],"model":"codestral-embed","usage":{"prompt_tokens":6,"total_tokens":6,"completion_tokens":0}}`
	up := newUpstream(t, jsonHandler(http.StatusOK, answer))
	c := mistralClient(t, up)
	c.base = up.URL + "/v1"
	_, resp, err := forward(context.Background(), c, providers.NativeRequest{Protocol: providers.ProtocolEmbeddings,
		Body: []byte(`{"model":"codestral-embed","input":["a <b>"],"dimensions":256,"encoding_format":"base64","user":"u1"}`)}, false)
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.Body) != answer || resp.Usage == nil || resp.Usage.PromptTokens != 6 {
		t.Errorf("got %s usage %+v, want Mistral's answer (OpenAI's shape) as is", resp.Body, resp.Usage)
	}
	checkNative(t, up.requests(), "/v1/embeddings",
		`{"encoding_format":"base64","input":["a <b>"],"model":"codestral-embed","output_dimension":256}`, "application/json")
}
