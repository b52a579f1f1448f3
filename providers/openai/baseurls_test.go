package openai

import "testing"

func TestDefaultBaseURL(t *testing.T) {
	tests := []struct {
		name   string
		want   string
		wantOK bool
	}{
		{"openai", "https://api.openai.com/v1", true},
		{"deepseek", "https://api.deepseek.com/v1", true},
		{"xai", "https://api.x.ai/v1", true},
		{"grok", "https://api.x.ai/v1", true},
		{"qwen", "https://dashscope.aliyuncs.com/compatible-mode/v1", true},
		{"minimax", "https://api.minimax.io/v1", true},
		{"doubao", "https://ark.cn-beijing.volces.com/api/v3", true},
		{"zai", "https://api.z.ai/api/paas/v4", true},
		{"zhipu", "https://open.bigmodel.cn/api/paas/v4", true},
		{"moonshot", "https://api.moonshot.ai/v1", true},
		{"openrouter", "https://openrouter.ai/api/v1", true},
		{"groq", "https://api.groq.com/openai/v1", true},
		{"mistral", "https://api.mistral.ai/v1", true},
		{"together", "https://api.together.xyz/v1", true},
		{"ollama", "http://127.0.0.1:11434/v1", true},
		{"vllm", "http://127.0.0.1:8000/v1", true},

		{"deepseek-work", "https://api.deepseek.com/v1", true},
		{"ollama_lan", "http://127.0.0.1:11434/v1", true},
		{"OpenRouter-Personal", "https://openrouter.ai/api/v1", true},
		{"DeepSeek", "https://api.deepseek.com/v1", true},

		{"acme", "", false},
		{"", "", false},
		{"-deepseek", "", false},
		{"local_vllm", "", false},
		{"deepseekish", "", false},
		{"anthropic", "", false},
		{"google", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := DefaultBaseURL(tc.name)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("DefaultBaseURL(%q): got %q, %v, want %q, %v", tc.name, got, ok, tc.want, tc.wantOK)
			}
		})
	}
}
