package tests

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

// The tests in this file drive OpenAI's completions (fill-in-the-middle)
// and embeddings doors, /v1/completions and /v1/embeddings (and the same
// without /v1), end to end with the official openai-go client and with
// the request Continue's autocomplete sends: passed through to the
// OpenAI-compatible server and to the native Ollama upstream's own /v1,
// embeddings translated for Gemini, and a 400 naming the route for
// Anthropic, which has neither.

// fimRoute is one way a completions or embeddings request can be served.
type fimRoute struct {
	name     string
	model    string // the client's
	upstream string // the upstream's name of it
	route    string // prefix of X-LocalRouter-Route
	last     func(t *testing.T) upstreamSeen
	none     bool // the route has no such API: a 400
}

func (b *olBackends) completionRoutes() []fimRoute {
	return []fimRoute{
		{name: "openai-compatible", model: "llamacpp/qwen2.5-coder-7b", upstream: "qwen2.5-coder-7b", route: "local:llamacpp/qwen2.5-coder-7b", last: b.chat.last},
		{name: "native", model: "ollama/qwen2.5-coder:1.5b", upstream: "qwen2.5-coder:1.5b", route: "local:ollama/qwen2.5-coder:1.5b", last: b.native.last},
		{name: "anthropic", model: "anthropic/claude-sonnet-4-5", route: "remote:anthropic/claude-sonnet-4-5", none: true},
		{name: "gemini", model: "google/gemini-3-flash", route: "remote:google/gemini-3-flash", none: true},
	}
}

// wantRouteRefusal checks the refusal of a route without the API: a 400 in
// OpenAI's shape whose message names the route and the endpoint.
func wantRouteRefusal(t *testing.T, err error, tap *respTap, ro fimRoute, endpoint string) {
	t.Helper()
	var ae *openai.Error
	if !errors.As(err, &ae) || ae.StatusCode != 400 {
		t.Fatalf("%s to %s: %v; want a 400 *openai.Error", endpoint, ro.model, err)
	}
	status, header, body := tap.got()
	wantOpenAIError(t, result{status: status, body: string(body)}, 400)
	if msg := ae.Message; !strings.Contains(msg, ro.model) || !strings.Contains(msg, "has no "+endpoint+" API") {
		t.Errorf("the refusal %q does not name the route %s and its missing %s API", msg, ro.model, endpoint)
	}
	if r := header.Get("X-LocalRouter-Route"); !strings.HasPrefix(r, ro.route) {
		t.Errorf("X-LocalRouter-Route = %q, want %s…", r, ro.route)
	}
}

// TestCompletionsOpenAISDK: openai-go's Completions.New with a suffix,
// streamed and not, through every route: the upstream gets the SDK's bytes
// with only the model replaced, the SDK reads the answer, a stream is
// relayed to its data: [DONE]; Anthropic and Gemini refuse with a 400
// naming the route; /completions serves as /v1/completions.
func TestCompletionsOpenAISDK(t *testing.T) {
	b := newOlBackends(t)
	p := start(t, b.config(""))
	ctx := context.Background()
	upstreams := func() int { return len(b.chat.requests()) + len(b.native.requests()) + len(b.api.requests()) }
	for _, ro := range b.completionRoutes() {
		params := openai.CompletionNewParams{Model: openai.CompletionNewParamsModel(ro.model),
			Prompt:    openai.CompletionNewParamsPromptUnion{OfString: openai.String(olFIMPrompt)},
			Suffix:    openai.String(olFIMSuffix),
			MaxTokens: openai.Int(32), Temperature: openai.Float(0.2),
			Stop: openai.CompletionNewParamsStopUnion{OfStringArray: []string{"\n\n", "<|endoftext|>"}}}
		t.Run(ro.name+"/stream=false", func(t *testing.T) {
			tap := &respTap{}
			c := responsesSDK(t, p, tap)
			before := upstreams()
			resp, err := c.Completions.New(ctx, params)
			if ro.none {
				wantRouteRefusal(t, err, tap, ro, "completions")
				if n := upstreams() - before; n != 0 {
					t.Errorf("the refused request reached an upstream %d times", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(resp.Choices) != 1 || resp.Choices[0].Text != fimText(ro.upstream) || resp.Object != "text_completion" || resp.Model != ro.upstream ||
				resp.Usage.TotalTokens == 0 {
				t.Errorf("answer %s; want %q from %s", resp.RawJSON(), fimText(ro.upstream), ro.upstream)
			}
			if r := tap.route(); !strings.HasPrefix(r, ro.route) {
				t.Errorf("X-LocalRouter-Route = %q, want %s…", r, ro.route)
			}
			checkSDKPassThrough(t, tap, ro, "/v1/completions")
		})
		t.Run(ro.name+"/stream=true", func(t *testing.T) {
			tap := &respTap{}
			c := responsesSDK(t, p, tap)
			before := upstreams()
			s := c.Completions.NewStreaming(ctx, params, option.WithJSONSet("stream_options", map[string]bool{"include_usage": true}))
			var text string
			chunks, usage := 0, int64(0)
			for s.Next() {
				chunks++
				for _, ch := range s.Current().Choices {
					text += ch.Text
				}
				usage += s.Current().Usage.TotalTokens
			}
			err := s.Err()
			s.Close()
			if ro.none {
				wantRouteRefusal(t, err, tap, ro, "completions")
				if n := upstreams() - before; n != 0 {
					t.Errorf("the refused request reached an upstream %d times", n)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if text != fimText(ro.upstream) || chunks < 3 || usage == 0 {
				t.Errorf("streamed %q in %d chunks (usage %d); want %q in pieces and a usage chunk", text, chunks, usage, fimText(ro.upstream))
			}
			_, header, raw := tap.got()
			evs, err := parseSSE(raw)
			if err != nil || len(evs) == 0 || evs[len(evs)-1].data != "[DONE]" || !strings.HasPrefix(header.Get("Content-Type"), "text/event-stream") {
				t.Errorf("the stream (%v, %s) does not end with data: [DONE]: %s", err, header.Get("Content-Type"), raw)
			}
			checkSDKPassThrough(t, tap, ro, "/v1/completions")
		})
	}

	t.Run("/completions", func(t *testing.T) {
		status, header, body := olDo(t, p, http.MethodPost, "/completions",
			`{"model":"llamacpp/qwen2.5-coder-7b","prompt":`+js(olFIMPrompt)+`,"suffix":`+js(olFIMSuffix)+`}`, withJSON(nil))
		var resp openai.Completion
		if err := json.Unmarshal(body, &resp); err != nil || status != 200 || len(resp.Choices) != 1 || resp.Choices[0].Text != fimText("qwen2.5-coder-7b") {
			t.Errorf("status %d: %s", status, body)
		}
		if r := header.Get("X-LocalRouter-Route"); !strings.HasPrefix(r, "local:llamacpp/qwen2.5-coder-7b") {
			t.Errorf("X-LocalRouter-Route = %q", r)
		}
		if up := b.chat.last(t); up.path != "/v1/completions" {
			t.Errorf("the upstream was asked at %s", up.path)
		}
	})
}

// checkSDKPassThrough checks that the upstream got the SDK's body with
// only the model replaced, at path.
func checkSDKPassThrough(t *testing.T, tap *respTap, ro fimRoute, path string) {
	t.Helper()
	_, sent := tap.sent()
	want := bytes.Replace(sent, []byte(`"model":`+js(ro.model)), []byte(`"model":`+js(ro.upstream)), 1)
	if up := ro.last(t); up.path != path || !bytes.Equal(up.body, want) {
		t.Errorf("the upstream got %s %s\nwant the SDK's body with only the model replaced: %s", up.path, up.body, want)
	}
}

// TestEmbeddingsOpenAISDK: openai-go's Embeddings.New through every route:
// passed through to the OpenAI-compatible server and the native upstream's
// /v1/embeddings, translated to Gemini's batchEmbedContents (one request
// per input, dimensions as outputDimensionality), refused for Anthropic;
// base64 answers come as base64.
func TestEmbeddingsOpenAISDK(t *testing.T) {
	b := newOlBackends(t)
	p := start(t, b.config(""))
	ctx := context.Background()
	routes := []fimRoute{
		{name: "openai-compatible", model: "llamacpp/text-embedding-3-small", upstream: "text-embedding-3-small", route: "local:llamacpp/text-embedding-3-small", last: b.chat.last},
		{name: "native", model: "ollama/nomic-embed-text", upstream: "nomic-embed-text", route: "local:ollama/nomic-embed-text", last: b.native.last},
		{name: "gemini", model: "google/" + geminiEmbedModel, upstream: geminiEmbedModel, route: "remote:google/" + geminiEmbedModel},
		{name: "anthropic", model: "anthropic/claude-sonnet-4-5", route: "remote:anthropic/claude-sonnet-4-5", none: true},
	}
	// Each fake's embedding of input i (ollama_fakes_test.go); the native
	// upstream's /v1 is the OpenAI-compatible fake's.
	vector := map[string]func(i, dims int) []float32{
		"openai-compatible": func(i, dims int) []float32 { return embedVector(1, i, dims, 4) },
		"native":            func(i, dims int) []float32 { return embedVector(1, i, dims, 4) },
		"gemini":            func(i, dims int) []float32 { return embedVector(100, i, dims, 3) },
	}
	for _, ro := range routes {
		t.Run(ro.name, func(t *testing.T) {
			for _, tc := range []struct {
				name  string
				input openai.EmbeddingNewParamsInputUnion
				n     int
				dims  int64
			}{
				{"string", openai.EmbeddingNewParamsInputUnion{OfString: openai.String("The quick brown fox")}, 1, 0},
				{"array", openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"first", "second", "third"}}, 3, 0},
				{"dimensions", openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"first", "second"}}, 2, 2},
			} {
				t.Run(tc.name, func(t *testing.T) {
					tap := &respTap{}
					c := responsesSDK(t, p, tap)
					params := openai.EmbeddingNewParams{Model: openai.EmbeddingModel(ro.model), Input: tc.input}
					if tc.dims > 0 {
						params.Dimensions = openai.Int(tc.dims)
					}
					resp, err := c.Embeddings.New(ctx, params)
					if ro.none {
						wantRouteRefusal(t, err, tap, ro, "embeddings")
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					var got [][]float64
					for i, d := range resp.Data {
						got = append(got, d.Embedding)
						if d.Index != int64(i) || d.Object != "embedding" {
							t.Errorf("data[%d]: index %d, object %q", i, d.Index, d.Object)
						}
					}
					var want [][]float64
					for i := range tc.n {
						want = append(want, float64s(vector[ro.name](i, int(tc.dims))))
					}
					if !cmp.Equal(got, want) || resp.Object != "list" || resp.Model != ro.upstream {
						t.Errorf("embeddings %v from %q (%s); want %v from %q", got, resp.Model, resp.Object, want, ro.upstream)
					}
					if r := tap.route(); !strings.HasPrefix(r, ro.route) {
						t.Errorf("X-LocalRouter-Route = %q, want %s…", r, ro.route)
					}
					if _, _, body := tap.got(); !bytes.Contains(body, []byte(`"usage":{`)) {
						t.Errorf("the answer has no usage: %s", body)
					}
					if ro.last != nil {
						checkSDKPassThrough(t, tap, ro, "/v1/embeddings")
						return
					}
					var up struct {
						Requests []struct {
							Model   string `json:"model"`
							Content struct {
								Parts []struct{ Text string }
							} `json:"content"`
							OutputDimensionality int64 `json:"outputDimensionality"`
						} `json:"requests"`
					}
					json.Unmarshal(b.gemini.lastBody(t), &up)
					if len(up.Requests) != tc.n || up.Requests[0].Model != "models/"+geminiEmbedModel || up.Requests[0].OutputDimensionality != tc.dims {
						t.Errorf("Gemini got %s", b.gemini.lastBody(t))
					}
				})
			}

			// base64 asks for little-endian float32s, as OpenAI encodes them.
			t.Run("base64", func(t *testing.T) {
				status, _, body := olDo(t, p, http.MethodPost, "/v1/embeddings", `{"model":`+js(ro.model)+`,"input":["first","second"],"encoding_format":"base64"}`, withJSON(nil))
				if ro.none {
					wantOpenAIError(t, result{status: status, body: string(body)}, 400)
					return
				}
				var resp struct {
					Data []struct {
						Embedding json.RawMessage `json:"embedding"`
					} `json:"data"`
				}
				json.Unmarshal(body, &resp)
				if status != 200 || len(resp.Data) != 2 {
					t.Fatalf("status %d: %s", status, body)
				}
				for i, d := range resp.Data {
					var s string
					if err := json.Unmarshal(d.Embedding, &s); err != nil {
						t.Errorf("data[%d].embedding is %s, not the base64 string asked for", i, d.Embedding)
						continue
					}
					if got, want := decodeFloats(t, s), vector[ro.name](i, 0); !cmp.Equal(got, want) {
						t.Errorf("data[%d] decodes to %v, want %v", i, got, want)
					}
				}
			})
		})
	}
	t.Run("/embeddings", func(t *testing.T) {
		status, _, body := olDo(t, p, http.MethodPost, "/embeddings", `{"model":"llamacpp/text-embedding-3-small","input":"hi"}`, withJSON(nil))
		if status != 200 || !bytes.Contains(body, []byte(`"embedding":[1,1.25,1.5,1.75]`)) {
			t.Errorf("status %d: %s", status, body)
		}
	})
}

func float64s(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

func decodeFloats(t *testing.T, s string) []float32 {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b)%4 != 0 {
		t.Fatalf("base64 %q: %v", s, err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(uint32(b[4*i]) | uint32(b[4*i+1])<<8 | uint32(b[4*i+2])<<16 | uint32(b[4*i+3])<<24)
	}
	return out
}

// continueStops are the stop words Continue's autocomplete sends with a
// Qwen coder model.
var continueStops = []string{"<|endoftext|>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>",
	"<|file_sep|>", "<|im_start|>", "<|im_end|>", "/src/", "#- coding: utf-8", "```"}

// TestCompletionsContinueFIM replays Continue's autocomplete against
// /v1/completions as its OpenAI-compatible FIM providers send it
// (_streamFim: prompt and suffix, its completion options, stream: true;
// Accept, an x-api-key and an Authorization it fills with the provider's
// key, here none), with Continue's User-Agent, which a rule routes local;
// the SSE comes back to its data: [DONE].
func TestCompletionsContinueFIM(t *testing.T) {
	b := newOlBackends(t)
	p := start(t, b.config(`  rules:
    - {when: 'client == "continue"', use: local}
`))
	stops, _ := json.Marshal(continueStops)
	body := `{"model":"auto","prompt":"def fib(n):\n    ","suffix":"\n\nprint(fib(10))\n","max_tokens":256,"temperature":0.01,"stop":` + string(stops) + `,"stream":true}`
	hdr := map[string]string{"Content-Type": "application/json", "Accept": "application/json", "x-api-key": "",
		"Authorization": "Bearer undefined", "User-Agent": "Continue/1.2.10"}
	status, header, raw := olDo(t, p, http.MethodPost, "/v1/completions", body, hdr)
	if status != 200 || !strings.HasPrefix(header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d %s: %s", status, header.Get("Content-Type"), raw)
	}
	if r := header.Get("X-LocalRouter-Route"); r != "local:llamacpp/qwen3 (rule 1 (config, on client))" {
		t.Errorf("X-LocalRouter-Route = %q, want the rule on client continue", r)
	}
	evs, err := parseSSE(raw)
	if err != nil || len(evs) < 2 || evs[len(evs)-1].data != "[DONE]" {
		t.Fatalf("not a stream ending in data: [DONE] (%v): %s", err, raw)
	}
	// Continue reads choices[0].text of each chunk.
	var text string
	for _, ev := range evs[:len(evs)-1] {
		var c struct {
			Choices []struct{ Text string } `json:"choices"`
		}
		if err := json.Unmarshal([]byte(ev.data), &c); err != nil {
			t.Fatalf("event %q: %v", ev.data, err)
		}
		if len(c.Choices) > 0 {
			text += c.Choices[0].Text
		}
	}
	if text != fimText("qwen3") {
		t.Errorf("completed %q, want %q", text, fimText("qwen3"))
	}
	// The upstream got Continue's body as sent, but for the model.
	want := strings.Replace(body, `"model":"auto"`, `"model":"qwen3"`, 1)
	if up := b.chat.last(t); up.path != "/v1/completions" || string(up.body) != want {
		t.Errorf("the upstream got %s %s\nwant %s", up.path, up.body, want)
	}
}

// TestCompletionsBadInput: the completions and embeddings doors' own
// refusals come in OpenAI's shape with the status the API would use, and
// nothing reaches an upstream.
func TestCompletionsBadInput(t *testing.T) {
	b := newOlBackends(t)
	p := start(t, b.config(""))
	for _, tc := range []struct {
		name, path, body string
		hdr              map[string]string
		status           int
		says             string
	}{
		{"invalid JSON", "/v1/completions", `{"model":"local","prompt":`, nil, 400, ""},
		{"invalid JSON", "/v1/embeddings", `{"model":"local","input":[`, nil, 400, ""},
		{"missing model", "/v1/completions", `{"prompt":"a","suffix":"b"}`, nil, 400, "model"},
		{"missing model", "/v1/embeddings", `{"input":"a"}`, nil, 400, "model"},
		{"missing input", "/v1/embeddings", `{"model":"local"}`, nil, 400, "input"},
		{"prompt not text", "/v1/completions", `{"model":"local","prompt":{"text":"a"}}`, nil, 400, "prompt"},
		{"unknown model", "/v1/completions", `{"model":"nope/x","prompt":"a","suffix":"b"}`, nil, 404, "nope/x"},
		{"unknown model", "/v1/embeddings", `{"model":"nope/x","input":"a"}`, nil, 404, "nope/x"},
		{"FIM to Anthropic", "/v1/completions", `{"model":"anthropic/claude-sonnet-4-5","prompt":"a","suffix":"b","stream":true}`, nil, 400, "anthropic/claude-sonnet-4-5"},
		{"embeddings from Anthropic", "/v1/embeddings", `{"model":"remote","input":"a"}`, nil, 400, "anthropic/claude-sonnet-4-5"},
		{"foreign Host", "/v1/completions", `{"model":"local","prompt":"a","suffix":"b"}`, map[string]string{"Host": "evil.example"}, 403, "evil.example"},
		{"foreign Host", "/v1/embeddings", `{"model":"local","input":"a"}`, map[string]string{"Host": "evil.example"}, 403, "evil.example"},
	} {
		for _, path := range []string{tc.path, strings.TrimPrefix(tc.path, "/v1")} {
			t.Run(fmt.Sprintf("%s%s", tc.name, path), func(t *testing.T) {
				status, _, body := olDo(t, p, http.MethodPost, path, tc.body, withJSON(tc.hdr))
				wantOpenAIError(t, result{status: status, body: string(body)}, tc.status)
				if !strings.Contains(string(body), tc.says) {
					t.Errorf("the error %s does not say %q", body, tc.says)
				}
			})
		}
	}
	if n := len(b.chat.requests()) + len(b.api.requests()) + len(b.native.requests()); n > 0 {
		t.Errorf("refused requests reached an upstream %d times", n)
	}
}
