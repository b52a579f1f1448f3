package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestForwardsBodyWithOnlyModelReplaced(t *testing.T) {
	up := newUpstream(t, completion)
	_, gw := gateway(t, oneProvider, up.URL)
	// Fields the gateway does not model, odd spacing and key order must all
	// reach the upstream untouched.
	in := `{ "messages":[{"role":"user","content":"hi","x_custom":{"a":[1,2.50,"\u00e9"]}}],` +
		`"model" : "auto",  "vendor_flag":true,"temperature":0.70,"logit_bias":{"50256":-100}}`
	want := `{ "messages":[{"role":"user","content":"hi","x_custom":{"a":[1,2.50,"\u00e9"]}}],` +
		`"model" : "deepseek-chat",  "vendor_flag":true,"temperature":0.70,"logit_bias":{"50256":-100}}`
	resp := post(t, gw.URL, in, "Authorization", "Bearer client-secret-token", "X-Api-Key", "client-other-secret")
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	got := up.last(t)
	if string(got.body) != want {
		t.Errorf("upstream body\n got %s\nwant %s", got.body, want)
	}
	if a := got.header.Get("Authorization"); a != "Bearer "+testKey {
		t.Errorf("upstream Authorization = %q, want the configured key", a)
	}
	if k := got.header.Get("X-Api-Key"); k != "" {
		t.Errorf("client's X-Api-Key reached the upstream: %q", k)
	}
	if !strings.Contains(string(body), `"vendor_extra":{"kept":true}`) {
		t.Errorf("response not passed through byte for byte: %s", body)
	}
	if r := resp.Header.Get("X-LocalRouter-Route"); !strings.HasPrefix(r, "remote:deepseek/deepseek-chat (") {
		t.Errorf("X-LocalRouter-Route = %q", r)
	}
	if o, err := strconv.Atoi(resp.Header.Get("X-LocalRouter-Overhead")); err != nil || o < 0 {
		t.Errorf("X-LocalRouter-Overhead = %q, want microseconds", resp.Header.Get("X-LocalRouter-Overhead"))
	}
}

func TestRoutingNames(t *testing.T) {
	up := newUpstream(t, completion)
	local := newUpstream(t, completion)
	yaml := `
providers:
  deepseek:
    api_key: ` + testKey + `
    base_url: UPSTREAM
    local: false
    models: [deepseek-chat, deepseek-reasoner]
  ollama:
    base_url: ` + local.URL + `
    models: [qwen3]
routing:
  default: remote
  local_model: qwen3
  remote_model: deepseek-chat
`
	_, gw := gateway(t, yaml, up.URL)
	tests := []struct {
		model     string
		wantRoute string
		wantModel string
		wantUp    *upstream
	}{
		{"auto", "remote:deepseek/deepseek-chat", "deepseek-chat", up},
		{"gpt-4o", "remote:deepseek/deepseek-chat", "deepseek-chat", up},
		{"local", "local:ollama/qwen3", "qwen3", local},
		{"remote", "remote:deepseek/deepseek-chat", "deepseek-chat", up},
		{"deepseek/deepseek-reasoner", "remote:deepseek/deepseek-reasoner", "deepseek-reasoner", up},
		{"ollama/llama3.2:3b", "local:ollama/llama3.2:3b", "llama3.2:3b", local},
		{"deepseek-reasoner", "remote:deepseek/deepseek-reasoner", "deepseek-reasoner", up},
		{"qwen3", "local:ollama/qwen3", "qwen3", local},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			resp := post(t, gw.URL, `{"model":"`+tt.model+`","messages":[{"role":"user","content":"hi"}]}`)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if r := resp.Header.Get("X-LocalRouter-Route"); !strings.HasPrefix(r, tt.wantRoute+" (") {
				t.Errorf("route = %q, want %s (…)", r, tt.wantRoute)
			}
			var got struct{ Model string }
			json.Unmarshal(tt.wantUp.last(t).body, &got)
			if got.Model != tt.wantModel {
				t.Errorf("upstream model = %q, want %q", got.Model, tt.wantModel)
			}
		})
	}
}

func TestStreamRelaysEventsAsTheyArrive(t *testing.T) {
	release := make(chan struct{})
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"first\"}}]}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"second\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
	})
	_, gw := gateway(t, oneProvider, up.URL)
	resp := post(t, gw.URL, `{"model":"auto","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	br := bufio.NewReader(resp.Body)
	// The upstream is blocked until we have seen its first event: if the
	// gateway buffered, this read would never finish.
	done := make(chan string, 1)
	go func() {
		line, _ := br.ReadString('\n')
		done <- line
	}()
	select {
	case line := <-done:
		if !strings.Contains(line, `"first"`) {
			t.Fatalf("first line = %q", line)
		}
	case <-time.After(5 * time.Second):
		close(release)
		t.Fatal("first event not delivered while the upstream was still streaming")
	}
	close(release)
	rest := sseData(t, br)
	if len(rest) != 2 || !strings.Contains(rest[0], `"second"`) || rest[1] != "[DONE]" {
		t.Errorf("rest of stream = %q", rest)
	}
}

func TestStreamCutOffEndsWithErrorEvent(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"partial\"}}]}\n\n")
		// The upstream dies here: no finish_reason, no [DONE].
	})
	_, gw := gateway(t, oneProvider, up.URL)
	resp := post(t, gw.URL, `{"model":"auto","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	defer resp.Body.Close()
	events := sseData(t, resp.Body)
	if len(events) != 2 {
		t.Fatalf("events = %q, want the partial chunk and an error event", events)
	}
	e := decodeError(t, []byte(events[1]))
	if !strings.Contains(e.Error.Message, "before [DONE]") {
		t.Errorf("error event message = %q", e.Error.Message)
	}
	for _, ev := range events {
		if ev == "[DONE]" {
			t.Error("a cut-off stream must not end with [DONE]")
		}
	}
}

func TestClientAbortCancelsUpstream(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	upstreamDone := make(chan struct{}, 1)
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := 0; ; i++ {
			fmt.Fprintf(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"t%d\"}}]}\n\n", i)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				upstreamDone <- struct{}{}
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	})
	_, gw := gateway(t, oneProvider, up.URL)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, gw.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"auto","stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	for i := 0; i < 3; i++ { // a few events, then hang up
		if _, err := br.ReadString('\n'); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	resp.Body.Close()
	// The upstream streams until its request is cancelled: that it stops
	// at all shows the hang-up reached it.
	select {
	case <-upstreamDone:
	case <-time.After(hangGuard):
		t.Fatal("upstream request still running long after the client hung up")
	}
	gw.Close()
	up.Close()
	http.DefaultClient.CloseIdleConnections()
}

func TestUpstreamFailures(t *testing.T) {
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String() + "/v1"
	dead.Close()

	errorReply := func(status int, body string) func(http.ResponseWriter, *http.Request, []byte) {
		return func(w http.ResponseWriter, r *http.Request, _ []byte) {
			w.Header().Set("Content-Type", "application/json")
			if status == 429 {
				w.Header().Set("Retry-After", "7")
			}
			w.WriteHeader(status)
			io.WriteString(w, body)
		}
	}
	tests := []struct {
		name       string
		handler    func(http.ResponseWriter, *http.Request, []byte)
		url        string
		timeout    string
		wantStatus int
		wantType   string
		wantInMsg  string
	}{
		{name: "401", handler: errorReply(401, `{"error":{"message":"Incorrect API key provided: `+testKey+`","type":"invalid_request_error","code":"invalid_api_key"}}`),
			wantStatus: 401, wantType: "invalid_request_error", wantInMsg: "Incorrect API key"},
		{name: "429", handler: errorReply(429, `{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}`),
			wantStatus: 429, wantType: "requests", wantInMsg: "Rate limit"},
		{name: "500", handler: errorReply(500, `{"detail":"CUDA out of memory"}`),
			wantStatus: 500, wantType: "server_error", wantInMsg: "CUDA out of memory"},
		{name: "timeout", handler: func(w http.ResponseWriter, r *http.Request, _ []byte) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, timeout: "200ms", wantStatus: 504, wantType: "upstream_error", wantInMsg: "timed out"},
		{name: "refused", url: deadURL, wantStatus: 502, wantType: "upstream_error", wantInMsg: "deepseek"},
	}
	for _, tt := range tests {
		for _, stream := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/stream=%v", tt.name, stream), func(t *testing.T) {
				url := tt.url
				if tt.handler != nil {
					url = newUpstream(t, tt.handler).URL
				}
				yaml := oneProvider
				if tt.timeout != "" {
					yaml = strings.Replace(yaml, "    models:", "    timeout: "+tt.timeout+"\n    models:", 1)
				}
				_, gw := gateway(t, yaml, url)
				resp := post(t, gw.URL, fmt.Sprintf(`{"model":"auto","stream":%v,"messages":[{"role":"user","content":"hi"}]}`, stream))
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tt.wantStatus {
					t.Fatalf("status = %d, want %d: %s", resp.StatusCode, tt.wantStatus, body)
				}
				e := decodeError(t, body)
				if e.Error.Type != tt.wantType || !strings.Contains(e.Error.Message, tt.wantInMsg) {
					t.Errorf("error = %+v, want type %q and message containing %q", e.Error, tt.wantType, tt.wantInMsg)
				}
				if strings.Contains(string(body), testKey) {
					t.Errorf("provider key leaked into the error: %s", body)
				}
				if resp.Header.Get("X-LocalRouter-Route") == "" {
					t.Error("error response lacks X-LocalRouter-Route")
				}
				if tt.name == "429" && resp.Header.Get("Retry-After") != "7" {
					t.Errorf("Retry-After = %q, want the upstream's 7", resp.Header.Get("Retry-After"))
				}
			})
		}
	}
}

func TestConcurrentMixedRequests(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if strings.Contains(string(body), `"stream":true`) {
			chunks("a", "b", "c")(w, r, body)
			return
		}
		completion(w, r, body)
	})
	_, gw := gateway(t, oneProvider, up.URL)
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			stream := i%2 == 0
			model := []string{"auto", "remote", "deepseek/deepseek-chat", "deepseek-chat"}[i%4]
			body := fmt.Sprintf(`{"model":%q,"stream":%v,"messages":[{"role":"user","content":"n%d"}]}`, model, stream, i)
			resp, err := http.Post(gw.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			switch {
			case resp.StatusCode != 200:
				errs <- fmt.Errorf("request %d: status %d", i, resp.StatusCode)
			case stream && !strings.HasSuffix(string(b), "data: [DONE]\n\n"):
				errs <- fmt.Errorf("request %d: stream incomplete: %q", i, b)
			case stream && strings.Count(string(b), "chat.completion.chunk") != 4:
				errs <- fmt.Errorf("request %d: want 4 chunks: %q", i, b)
			case !stream && !strings.Contains(string(b), `"Hi there."`):
				errs <- fmt.Errorf("request %d: body %q", i, b)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := up.count(); n != 200 {
		t.Errorf("upstream got %d requests, want 200", n)
	}
}

// TestNoTruncatedStreamsUnderLoad guards against golang/go#40747, which
// makes a bare httputil.ReverseProxy cut about 1% of such streams.
func TestNoTruncatedStreamsUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	up := newUpstream(t, chunks("one", " two", " three", " four", " five"))
	_, gw := gateway(t, oneProvider, up.URL)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	defer client.CloseIdleConnections()
	const total, workers = 2000, 32
	jobs := make(chan int)
	var mu sync.Mutex // guards failed
	var failed []string
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				body := fmt.Sprintf(`{"model":"auto","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"%d %s"}]}`, i, strings.Repeat("x", i%4000))
				resp, err := client.Post(gw.URL+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					mu.Lock()
					failed = append(failed, err.Error())
					mu.Unlock()
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || !strings.HasSuffix(string(b), "data: [DONE]\n\n") || strings.Count(string(b), "\n\n") != 8 {
					mu.Lock()
					failed = append(failed, fmt.Sprintf("request %d: err %v, %d bytes", i, err, len(b)))
					mu.Unlock()
				}
			}
		}()
	}
	for i := 0; i < total; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if len(failed) > 0 {
		t.Errorf("%d of %d streams incomplete; first: %s", len(failed), total, failed[0])
	}
}

func TestMidStreamUpstreamErrorKeepsItsType(t *testing.T) {
	up := newUpstream(t, func(w http.ResponseWriter, r *http.Request, body []byte) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"par\"}}]}\n\n")
		io.WriteString(w, "data: {\"error\":{\"message\":\"context length exceeded\",\"type\":\"invalid_request_error\",\"code\":\"context_length_exceeded\"}}\n\n")
	})
	_, gw := gateway(t, oneProvider, up.URL)
	resp := post(t, gw.URL, `{"model":"auto","stream":true,"messages":[{"role":"user","content":"hi"}]}`)
	defer resp.Body.Close()
	events := sseData(t, resp.Body)
	if len(events) != 2 {
		t.Fatalf("events = %q", events)
	}
	e := decodeError(t, []byte(events[1]))
	if e.Error.Type != "invalid_request_error" || e.Error.Code == nil || *e.Error.Code != "context_length_exceeded" || !strings.Contains(e.Error.Message, "context length exceeded") {
		t.Errorf("error event = %s, want the upstream's type, code and message", events[1])
	}
}

func TestSkippedProviderIsNamed(t *testing.T) {
	_, gw := gateway(t, `
providers:
  deepseek: {api_key: sk-test, base_url: UPSTREAM, local: false}
  openai: {api_key: ""}
routing: {remote_model: deepseek-chat}
`, "http://127.0.0.1:9/v1")
	resp := post(t, gw.URL, `{"model":"openai/gpt-4o","messages":[{"role":"user","content":"hi"}]}`)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	e := decodeError(t, body)
	if resp.StatusCode != 404 || !strings.Contains(e.Error.Message, "configured but skipped") {
		t.Errorf("status %d message %q, want 404 saying the provider is skipped", resp.StatusCode, e.Error.Message)
	}
	if r := resp.Header.Get("X-LocalRouter-Route"); !strings.HasPrefix(r, "none (") || !strings.Contains(r, "skipped") {
		t.Errorf("X-LocalRouter-Route = %q, want none with the reason", r)
	}
}
