package openai

import "strings"

// defaultBaseURLs are the vendors' documented OpenAI-compatible endpoints,
// version path included, so a config entry needs only a key.
var defaultBaseURLs = map[string]string{
	"openai":     "https://api.openai.com/v1",
	"deepseek":   "https://api.deepseek.com/v1",
	"xai":        "https://api.x.ai/v1",
	"grok":       "https://api.x.ai/v1",
	"qwen":       "https://dashscope.aliyuncs.com/compatible-mode/v1",
	"dashscope":  "https://dashscope.aliyuncs.com/compatible-mode/v1",
	"minimax":    "https://api.minimax.io/v1",
	"doubao":     "https://ark.cn-beijing.volces.com/api/v3",
	"ark":        "https://ark.cn-beijing.volces.com/api/v3",
	"volcengine": "https://ark.cn-beijing.volces.com/api/v3",
	"zai":        "https://api.z.ai/api/paas/v4",
	"zhipu":      "https://open.bigmodel.cn/api/paas/v4",
	"moonshot":   "https://api.moonshot.ai/v1",
	"kimi":       "https://api.moonshot.ai/v1",
	"openrouter": "https://openrouter.ai/api/v1",
	"groq":       "https://api.groq.com/openai/v1",
	"mistral":    "https://api.mistral.ai/v1",
	"together":   "https://api.together.xyz/v1",
	"ollama":     "http://127.0.0.1:11434/v1",
	"vllm":       "http://127.0.0.1:8000/v1",
	"lmstudio":   "http://127.0.0.1:1234/v1",
}

// DefaultBaseURL returns the base URL for a well-known vendor name. A name
// with a suffix ("deepseek-work", "ollama_lan") matches its vendor.
func DefaultBaseURL(name string) (string, bool) {
	name = strings.ToLower(name)
	if u, ok := defaultBaseURLs[name]; ok {
		return u, true
	}
	if i := strings.IndexAny(name, "-_"); i > 0 {
		u, ok := defaultBaseURLs[name[:i]]
		return u, ok
	}
	return "", false
}
