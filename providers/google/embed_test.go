package google

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/internal/sinktest"
)

// geminiEmbeddings answers a batchEmbedContents request as the API does,
// indented: for each request a vector whose values are the request's
// position in the whole input list (from offset), then 0.5 and -0.25.
func geminiEmbeddings(offset *int, usage string) func(w http.ResponseWriter, r *http.Request, body []byte) {
	return func(w http.ResponseWriter, r *http.Request, body []byte) {
		var req batchRequest
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var b strings.Builder
		b.WriteString("{\n  \"embeddings\": [\n")
		for i := range req.Requests {
			if i > 0 {
				b.WriteString(",\n")
			}
			fmt.Fprintf(&b, "    {\n      \"values\": [\n        %d,\n        0.5,\n        -0.25\n      ]\n    }", *offset+i)
		}
		b.WriteString("\n  ]")
		b.WriteString(usage)
		b.WriteString("\n}\n")
		*offset += len(req.Requests)
		w.Header().Set("Content-Type", "application/json; charset=UTF-8")
		w.Write([]byte(b.String()))
	}
}

func embed(t *testing.T, c *Client, body string) (*providers.NativeResponse, error) {
	t.Helper()
	return c.Forward(context.Background(), providers.NativeRequest{Protocol: providers.ProtocolEmbeddings,
		Path: "/v1/embeddings", Body: []byte(body)}, nil)
}

func TestEmbeddings(t *testing.T) {
	var offset int
	f := newFake(t, geminiEmbeddings(&offset, ""))
	c := newTestClient(t, f.URL)
	resp, err := embed(t, c, `{"model":"gemini-embedding-001","input":"def fib(n): <a&b>","dimensions":768,"user":"u1"}`)
	if err != nil {
		t.Fatal(err)
	}
	r, body := f.last(t)
	if r.Method != http.MethodPost || r.URL.Path != "/v1beta/models/gemini-embedding-001:batchEmbedContents" {
		t.Errorf("got %s %s, want POST /v1beta/models/gemini-embedding-001:batchEmbedContents", r.Method, r.URL.Path)
	}
	if r.Header.Get("X-Goog-Api-Key") != testKey || r.URL.RawQuery != "" {
		t.Errorf("key not sent as x-goog-api-key, or sent in the URL (query %q)", r.URL.RawQuery)
	}
	const wantReq = `{"requests":[{"model":"models/gemini-embedding-001","content":{"parts":[{"text":"def fib(n): <a&b>"}]},"outputDimensionality":768}]}`
	if string(body) != wantReq {
		t.Errorf("sent\n%s\nwant\n%s", body, wantReq)
	}
	// No usageMetadata: the count is estimated, four characters a token.
	const want = `{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0,0.5,-0.25]}],"model":"gemini-embedding-001","usage":{"prompt_tokens":5,"total_tokens":5}}`
	if string(resp.Body) != want || resp.Status != http.StatusOK || resp.ContentType != "application/json" {
		t.Errorf("got %d %s %s, want\n%s", resp.Status, resp.ContentType, resp.Body, want)
	}
	if !cmp.Equal(resp.Usage, &providers.Usage{PromptTokens: 5, TotalTokens: 5}) {
		t.Errorf("got usage %+v, want 5 prompt tokens", resp.Usage)
	}
}

// TestEmbeddingsBatches: an input list longer than one batchEmbedContents
// call takes goes in several, and the answer keeps the input's order.
func TestEmbeddingsBatches(t *testing.T) {
	var offset int
	f := newFake(t, geminiEmbeddings(&offset, `,
  "usageMetadata": {"promptTokenCount": 7}`))
	c := newTestClient(t, f.URL)
	inputs := make([]string, 2*maxBatch+50)
	for i := range inputs {
		inputs[i] = fmt.Sprintf("chunk %d", i)
	}
	in, _ := json.Marshal(map[string]any{"model": "models/text-embedding-004", "input": inputs})
	resp, err := embed(t, c, string(in))
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Data []struct {
			Index     int       `json:"index"`
			Embedding []float64 `json:"embedding"`
		} `json:"data"`
		Model string `json:"model"`
	}
	if err := json.Unmarshal(resp.Body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got.Data) != len(inputs) || got.Model != "models/text-embedding-004" {
		t.Fatalf("got %d embeddings for model %q, want %d for the requested name", len(got.Data), got.Model, len(inputs))
	}
	for i, d := range got.Data {
		if d.Index != i || d.Embedding[0] != float64(i) {
			t.Fatalf("embedding %d: got index %d for input %v, want both %d", i, d.Index, d.Embedding[0], i)
		}
	}
	f.mu.Lock()
	calls := len(f.reqs)
	path := f.reqs[0].URL.Path
	f.mu.Unlock()
	if calls != 3 || path != "/v1beta/models/text-embedding-004:batchEmbedContents" {
		t.Errorf("got %d calls to %s, want 3 to /v1beta/models/text-embedding-004:batchEmbedContents", calls, path)
	}
	if want := (&providers.Usage{PromptTokens: 21, TotalTokens: 21}); !cmp.Equal(resp.Usage, want) {
		t.Errorf("got usage %+v, want the three calls' usageMetadata summed, %+v", resp.Usage, want)
	}
}

// TestEmbeddingsBase64: encoding_format base64, which OpenAI's Python SDK
// asks for by default, is base64 of little-endian float32s.
func TestEmbeddingsBase64(t *testing.T) {
	var offset int
	f := newFake(t, geminiEmbeddings(&offset, ""))
	c := newTestClient(t, f.URL)
	offset = 3
	resp, err := embed(t, c, `{"model":"gemini-embedding-001","input":["a"],"encoding_format":"base64"}`)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Data []struct {
			Embedding string `json:"embedding"`
		} `json:"data"`
	}
	if err := json.Unmarshal(resp.Body, &got); err != nil || len(got.Data) != 1 {
		t.Fatalf("got %s (%v), want one embedding", resp.Body, err)
	}
	raw, err := base64.StdEncoding.DecodeString(got.Data[0].Embedding)
	if err != nil || len(raw) != 12 {
		t.Fatalf("got %q (%v), want base64 of 3 float32s", got.Data[0].Embedding, err)
	}
	var vec []float32
	for i := 0; i < len(raw); i += 4 {
		vec = append(vec, math.Float32frombits(binary.LittleEndian.Uint32(raw[i:])))
	}
	if diff := cmp.Diff([]float32{3, 0.5, -0.25}, vec); diff != "" {
		t.Errorf("decoded vector (-want +got):\n%s", diff)
	}
}

func TestEmbeddingsErrors(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		param      string // for a request error, sent nowhere
	}{
		{"token ids", `{"model":"m","input":[1,2,3]}`, "input"},
		{"token id lists", `{"model":"m","input":[[1,2],[3]]}`, "input"},
		{"no input", `{"model":"m"}`, "input"},
		{"empty list", `{"model":"m","input":[]}`, "input"},
		{"unknown encoding", `{"model":"m","input":"x","encoding_format":"int8"}`, "encoding_format"},
		{"not JSON", `{"model":`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte) { t.Error("request sent") })
			_, err := embed(t, newTestClient(t, f.URL), tc.body)
			var re *providers.RequestError
			if !errors.As(err, &re) || re.Param != tc.param {
				t.Errorf("got %v, want a request error on %q", err, tc.param)
			}
		})
	}

	t.Run("gemini error", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"error": {"code": 400, "message": "* BatchEmbedContentsRequest.requests[0].content.parts: contents.parts must not be empty.", "status": "INVALID_ARGUMENT"}}`))
		})
		_, err := embed(t, newTestClient(t, f.URL), `{"model":"gemini-embedding-001","input":""}`)
		var pe *providers.Error
		if !errors.As(err, &pe) || pe.Status != http.StatusBadRequest || pe.Type != "invalid_request_error" || pe.Raw != nil ||
			!strings.Contains(pe.Message, "must not be empty") {
			t.Errorf("got %v, want a 400 invalid_request_error with Gemini's message and no raw body (not OpenAI's shape)", err)
		}
	})
	t.Run("wrong count", func(t *testing.T) {
		f := newFake(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
			w.Write([]byte(`{"embeddings":[]}`))
		})
		_, err := embed(t, newTestClient(t, f.URL), `{"model":"m","input":"x"}`)
		var pe *providers.Error
		if !errors.As(err, &pe) || pe.Status != http.StatusBadGateway {
			t.Errorf("got %v, want a 502", err)
		}
	})
	t.Run("stream and other protocols", func(t *testing.T) {
		c := newTestClient(t, "https://generativelanguage.googleapis.com")
		if !c.Speaks(providers.ProtocolEmbeddings) || c.Speaks(providers.ProtocolCompletions) || c.Speaks(providers.ProtocolOllama) {
			t.Error("Gemini must speak embeddings and nothing else natively")
		}
		req := providers.NativeRequest{Protocol: providers.ProtocolEmbeddings, Body: []byte(`{"model":"m","input":"x"}`)}
		if _, err := c.Forward(context.Background(), req, sinktest.Chan(context.Background(), make(chan []byte))); err == nil {
			t.Error("a streamed embeddings request was taken")
		}
		req.Protocol = providers.ProtocolCompletions
		if _, err := c.Forward(context.Background(), req, nil); err == nil {
			t.Error("a completions request was taken")
		}
	})
}

// FuzzEmbeddingsRequest: any body is refused with a request error or
// turns into a batch of as many text requests as it has inputs.
func FuzzEmbeddingsRequest(f *testing.F) {
	for _, s := range []string{`{"model":"m","input":"x","dimensions":8}`, `{"input":["a","b"],"encoding_format":"base64"}`,
		`{"input":[1,2]}`, `{"input":[]}`, `{"input":null}`, `{"encoding_format":"x"}`, `[`, `{"input":"\u003c"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		er, err := parseEmbeddingsRequest(in)
		if err != nil {
			var re *providers.RequestError
			if !errors.As(err, &re) {
				t.Fatalf("%q: got %v (%T), want a *providers.RequestError", in, err, err)
			}
			return
		}
		if len(er.inputs) == 0 {
			t.Fatalf("%q: accepted with no input", in)
		}
		body, err := encodeBatch(er.model, er.inputs, er.dimensions)
		if err != nil {
			t.Fatal(err)
		}
		var b batchRequest
		if err := json.Unmarshal(body, &b); err != nil || len(b.Requests) != len(er.inputs) {
			t.Fatalf("%q: batch %s (%v), want %d requests", in, body, err, len(er.inputs))
		}
		for i, r := range b.Requests {
			if len(r.Content.Parts) != 1 || r.Content.Parts[0].Text != er.inputs[i] {
				t.Fatalf("%q: request %d carries %+v, want the input's text", in, i, r.Content)
			}
		}
	})
}
