package proxy

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/localrouter/localrouter/strategy"
)

// ollamaNative answers Ollama's discovery API as the captures in
// ../shared/captures/ollama show it: one model, qwen3:8b, with the given
// context length in /api/show's model_info and capabilities; the loaded
// context in /api/ps when ps > 0.
func ollamaNative(ctx, ps int, caps string) func(w http.ResponseWriter, r *http.Request, body []byte) bool {
	return func(w http.ResponseWriter, r *http.Request, body []byte) bool {
		switch r.URL.Path {
		case "/api/tags":
			io.WriteString(w, `{"models":[{"name":"qwen3:8b","model":"qwen3:8b","details":{"family":"qwen3"}}]}`)
		case "/api/show":
			var req struct{ Model string }
			json.Unmarshal(body, &req)
			if req.Model != "qwen3:8b" {
				w.WriteHeader(404)
				io.WriteString(w, `{"error":"model '`+req.Model+`' not found"}`)
				return true
			}
			b, _ := json.Marshal(map[string]any{"model_info": map[string]any{"general.architecture": "qwen3", "qwen3.context_length": ctx},
				"capabilities": json.RawMessage(caps)})
			w.Write(b)
		case "/api/ps":
			if ps > 0 {
				b, _ := json.Marshal(map[string]any{"models": []any{map[string]any{"name": "qwen3:8b", "context_length": ps}}})
				w.Write(b)
			} else {
				io.WriteString(w, `{"models":[]}`)
			}
		default:
			return false
		}
		return true
	}
}

func TestProbeLearns(t *testing.T) {
	for _, tc := range []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request, body []byte) bool
		model   string
		want    strategy.ModelInfo
		models  []string
	}{
		{"ollama show", ollamaNative(40960, 0, `["completion","tools"]`), "qwen3:8b",
			strategy.ModelInfo{ContextWindow: 40960, Tools: true, ToolsKnown: true}, []string{"qwen3:8b"}},
		{"ollama loaded context wins", ollamaNative(40960, 4096, `["completion"]`), "qwen3:8b",
			strategy.ModelInfo{ContextWindow: 4096, ToolsKnown: true}, []string{"qwen3:8b"}},
		{"ollama with no models", func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
			if r.URL.Path != "/api/tags" {
				return false
			}
			io.WriteString(w, `{"models":null}`)
			return true
		}, "x", strategy.ModelInfo{}, []string{}},
		{"lm studio", func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
			if r.URL.Path != "/api/v0/models" {
				return false
			}
			io.WriteString(w, `{"object":"list","data":[{"id":"qwen2.5-7b-instruct","object":"model","type":"llm","state":"loaded",`+
				`"max_context_length":32768,"loaded_context_length":16384,"capabilities":["tool_use"]}]}`)
			return true
		}, "qwen2.5-7b-instruct", strategy.ModelInfo{ContextWindow: 16384, Tools: true, ToolsKnown: true}, []string{"qwen2.5-7b-instruct"}},
		{"vllm", func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
			if r.URL.Path != "/v1/models" {
				return false
			}
			io.WriteString(w, `{"object":"list","data":[{"id":"Qwen/Qwen3-8B","object":"model","owned_by":"vllm","max_model_len":32768}]}`)
			return true
		}, "Qwen/Qwen3-8B", strategy.ModelInfo{ContextWindow: 32768}, []string{"Qwen/Qwen3-8B"}},
		{"vllm with no models", func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
			if r.URL.Path != "/v1/models" {
				return false
			}
			io.WriteString(w, `{"object":"list","data":null}`)
			return true
		}, "x", strategy.ModelInfo{}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			local := newUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
				if !tc.handler(w, r, body) {
					http.NotFound(w, r)
				}
			})
			s, _ := gateway(t, strings.Replace(twoSides, "LOCAL", local.URL+"/v1", 1), "http://127.0.0.1:9/v1")
			s.probeOnce(context.Background())
			if !s.Status().LocalUp {
				t.Fatal("local_up false with the backend answering")
			}
			truth := s.state.Load().truth.Load()
			if got := truth.models("ollama"); strings.Join(got, ",") != strings.Join(tc.models, ",") || got == nil {
				t.Errorf("models = %q, want %q", got, tc.models)
			}
			if got, _ := truth.ModelInfo("ollama", tc.model); got != tc.want {
				t.Errorf("ModelInfo(%s) = %+v, want %+v", tc.model, got, tc.want)
			}
		})
	}
}

// A local provider of type anthropic is probed, and a translated request
// without max_tokens gets the model's own limit, not 8192.
func TestLocalAnthropicProbedAndMaxTokens(t *testing.T) {
	var mu sync.Mutex // guards sent
	var sent []int
	local := newUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if ollamaNative(32768, 0, `["completion","tools"]`)(w, r, body) {
			return
		}
		if r.URL.Path != "/v1/messages" {
			http.NotFound(w, r)
			return
		}
		var req struct {
			MaxTokens int `json:"max_tokens"`
		}
		json.Unmarshal(body, &req)
		mu.Lock()
		sent = append(sent, req.MaxTokens)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"msg_1","type":"message","role":"assistant","model":"qwen3:8b","content":[{"type":"text","text":"hi"}],`+
			`"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":3,"output_tokens":1}}`)
	})
	yaml := `
routing: {default: local, local_model: qwen3:8b, remote_model: deepseek-chat}
providers:
  deepseek: {api_key: ` + testKey + `, base_url: http://127.0.0.1:9/v1, local: false, models: [deepseek-chat]}
  box: {type: anthropic, api_key: ollama, base_url: ` + local.URL + `, local: true}
mock: {token_delay: 0s}
`
	s, gw := gateway(t, yaml, "")
	s.probeOnce(context.Background())
	if mi, ok := s.state.Load().truth.Load().ModelInfo("box", "qwen3:8b"); !ok || mi.ContextWindow != 32768 {
		t.Fatalf("the anthropic local provider was not probed: %+v %v", mi, ok)
	}
	for _, body := range []string{
		`{"model":"auto","messages":[{"role":"user","content":"hi"}]}`,
		`{"model":"auto","max_tokens":100,"messages":[{"role":"user","content":"hi"}]}`,
	} {
		resp := post(t, gw.URL, body)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != 2 || sent[0] != 32768 || sent[1] != 100 {
		t.Errorf("max_tokens sent = %v, want [32768 100]: the model's limit when the client set none", sent)
	}

	// Down when it does not answer: it is no longer trusted as up forever.
	local.Close()
	s.probeOnce(context.Background())
	if s.Status().LocalUp {
		t.Error("local_up true with the anthropic local provider gone")
	}
}

func TestModelInfoTagless(t *testing.T) {
	local := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
		switch r.URL.Path {
		case "/api/tags":
			io.WriteString(w, `{"models":[{"name":"llama3.2:latest","details":{"context_length":131072},"capabilities":["completion","tools"]}]}`)
		case "/api/ps":
			io.WriteString(w, `{"models":[]}`)
		default:
			http.NotFound(w, r)
		}
	})
	s, _ := gateway(t, strings.Replace(twoSides, "LOCAL", local.URL+"/v1", 1), "http://127.0.0.1:9/v1")
	s.probeOnce(context.Background())
	lt := s.state.Load().truth.Load()
	if mi, ok := lt.ModelInfo("ollama", "llama3.2"); !ok || mi.ContextWindow != 131072 || !mi.Tools {
		t.Errorf("llama3.2 is llama3.2:latest to Ollama: %+v %v", mi, ok)
	}
	if _, ok := lt.ModelInfo("ollama", "llama3.2:1b"); ok {
		t.Error("another tag is another model")
	}
	var none *localTruth
	if _, ok := none.ModelInfo("ollama", "x"); ok || none.models("ollama") != nil {
		t.Error("no probe yet: nothing known")
	}
}

// Ollama's OpenAI endpoint ends the stream of a model whose runner was
// killed with an empty chunk and no [DONE] (captures 40 and 42); the client
// is told the local model failed, and what /api/ps says of it.
func TestLocalStreamCutSaysTheModelFailed(t *testing.T) {
	const (
		first = `data: {"id":"chatcmpl-380","object":"chat.completion.chunk","created":1796298049,"model":"qwen3","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}` + "\n\n"
		empty = `data: {"id":"chatcmpl-380","object":"chat.completion.chunk","created":1796298049,"model":"","system_fingerprint":"fp_ollama","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}` + "\n\n"
	)
	for _, tc := range []struct {
		name, ps, want string
	}{
		{"runner gone", `{"models":[]}`, "no longer lists the model"},
		{"still loaded", `{"models":[{"name":"qwen3:latest","model":"qwen3:latest","context_length":4096}]}`, "still lists the model"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			local := newUpstream(t, func(w http.ResponseWriter, r *http.Request, _ []byte) {
				switch r.URL.Path {
				case "/api/ps":
					io.WriteString(w, tc.ps)
				case "/v1/chat/completions":
					w.Header().Set("Content-Type", "text/event-stream")
					io.WriteString(w, first+empty)
				default:
					http.NotFound(w, r)
				}
			})
			yaml := strings.Replace(strings.Replace(twoSides, "LOCAL", local.URL+"/v1", 1), "default: remote", "default: local", 1)
			_, gw := gateway(t, yaml, "http://127.0.0.1:9/v1")
			resp := post(t, gw.URL, `{"model":"auto","stream":true,"messages":[{"role":"user","content":"hi"}]}`, "Authorization", "Bearer gw-key")
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body := string(b)
			if !strings.Contains(body, `"content":"Hel"`) || !strings.Contains(body, "local_model_failed") ||
				!strings.Contains(body, "the local model ollama/qwen3 failed while answering") ||
				!strings.Contains(body, "empty chunk and no [DONE]") || !strings.Contains(body, tc.want) {
				t.Errorf("stream:\n%s\nwant the text so far, then an error saying the local model failed and %q", body, tc.want)
			}
		})
	}
}
