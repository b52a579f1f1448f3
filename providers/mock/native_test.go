package mock

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/internal/sinktest"
)

func TestMockCompletions(t *testing.T) {
	p := New(0).StandIn("local:ollama/qwen2.5-coder")
	resp, err := p.Forward(context.Background(), providers.NativeRequest{Protocol: providers.ProtocolCompletions,
		Body: []byte(`{"model":"qwen2.5-coder","prompt":"def f(","suffix":"\n"}`)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var a struct {
		Object  string
		Choices []struct{ Text string }
	}
	if err := json.Unmarshal(resp.Body, &a); err != nil || a.Object != "text_completion" || len(a.Choices) != 1 ||
		!strings.Contains(a.Choices[0].Text, "local:ollama/qwen2.5-coder") {
		t.Errorf("answer %s (%v): want a text_completion naming the route", resp.Body, err)
	}

	out := make(chan []byte, 64)
	if _, err := p.Forward(context.Background(), providers.NativeRequest{Protocol: providers.ProtocolCompletions,
		Body: []byte(`{"model":"m","prompt":"x","stream":true}`)}, sinktest.Chan(context.Background(), out)); err != nil {
		t.Fatal(err)
	}
	close(out)
	var text strings.Builder
	var last string
	for ev := range out {
		data := strings.TrimSuffix(strings.TrimPrefix(string(ev), "data: "), "\n\n")
		last = data
		if data == "[DONE]" {
			continue
		}
		var c struct{ Choices []struct{ Text string } }
		if err := json.Unmarshal([]byte(data), &c); err != nil {
			t.Fatalf("event %q: %v", ev, err)
		}
		text.WriteString(c.Choices[0].Text)
	}
	if last != "[DONE]" || !strings.Contains(text.String(), "mock completion") {
		t.Errorf("stream text %q ending %q; want the completion, then [DONE]", text.String(), last)
	}
}

func TestMockEmbeddings(t *testing.T) {
	p := New(0)
	embed := func(input string) [][]float64 {
		resp, err := p.Forward(context.Background(), providers.NativeRequest{Protocol: providers.ProtocolEmbeddings,
			Body: []byte(`{"model":"e","input":` + input + `}`)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		var a struct {
			Data []struct {
				Index     int
				Embedding []float64
			}
		}
		if err := json.Unmarshal(resp.Body, &a); err != nil {
			t.Fatal(err)
		}
		var out [][]float64
		for i, d := range a.Data {
			if d.Index != i || len(d.Embedding) != mockDimensions {
				t.Fatalf("item %d: index %d, %d dimensions", i, d.Index, len(d.Embedding))
			}
			out = append(out, d.Embedding)
		}
		return out
	}
	two := embed(`["a","b"]`)
	one := embed(`"a"`)
	if len(two) != 2 || len(one) != 1 || !equal(two[0], one[0]) || equal(two[0], two[1]) {
		t.Errorf("embeddings: equal texts must embed equally and different ones differently: %v %v", two, one)
	}
	if p.Speaks(providers.ProtocolOllama) || !p.Speaks(providers.ProtocolEmbeddings) {
		t.Error("the mock speaks completions and embeddings only")
	}
}

func equal(a, b []float64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}
