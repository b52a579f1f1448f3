package config

import "testing"

func TestKind(t *testing.T) {
	tests := []struct {
		name, typ, want string
	}{
		{"openai", "", "openai"},
		{"anthropic", "", "anthropic"},
		{"Anthropic-EU", "", "anthropic"},
		{"google", "", "google"},
		{"gemini", "", "google"},
		{"GeminiPro", "", "google"},
		{"deepseek", "", "openai"},
		{"local_vllm", "", "openai"},
		{"my-anthropic", "", "openai"},
		{"claude-proxy", "anthropic", "anthropic"},
		{"anthropic", "openai", "openai"},
		{"fake", "mock", "mock"},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+tt.typ, func(t *testing.T) {
			if got := (Provider{Name: tt.name, Type: tt.typ}).Kind(); got != tt.want {
				t.Errorf("Kind() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestIsLocal(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name    string
		baseURL string
		local   *bool
		want    bool
	}{
		{"openai", "", nil, false},
		{"local_vllm", "", nil, true},
		{"LocalQwen", "https://api.example.com/v1", nil, true},
		{"ollama", "", nil, true},
		{"Ollama-GPU", "", nil, true},
		{"lan", "http://localhost:8000/v1", nil, true},
		{"lan", "http://LOCALHOST:8000/v1", nil, true},
		{"lan", "http://gpu.localhost/v1", nil, true},
		{"lan", "http://127.0.0.1:11434/v1", nil, true},
		{"lan", "http://127.8.9.10/v1", nil, true},
		{"lan", "http://[::1]:8000/v1", nil, true},
		{"lan", "http://10.1.2.3:8000/v1", nil, true},
		{"lan", "http://172.16.0.1/v1", nil, true},
		{"lan", "http://172.31.255.255/v1", nil, true},
		{"lan", "http://172.32.0.1/v1", nil, false},
		{"lan", "http://192.168.1.100:8000/v1", nil, true},
		{"lan", "http://169.254.1.1/v1", nil, true},
		{"lan", "http://[fd00::1]:8000/v1", nil, true},
		{"lan", "http://[fe80::1]:8000/v1", nil, true},
		{"lan", "http://[::ffff:192.168.1.2]/v1", nil, true},
		{"cloud", "https://api.deepseek.com/v1", nil, false},
		{"cloud", "https://8.8.8.8/v1", nil, false},
		{"cloud", "https://localhost.example.com/v1", nil, false},
		{"cloud", "::not a url", nil, false},
		{"local_but_remote", "", &no, false},
		{"cloud_but_local", "https://api.deepseek.com/v1", &yes, true},
		{"lan_but_remote", "http://192.168.1.2/v1", &no, false},
	}
	for _, tt := range tests {
		t.Run(tt.name+" "+tt.baseURL, func(t *testing.T) {
			p := Provider{Name: tt.name, BaseURL: tt.baseURL, Local: tt.local}
			if got := p.IsLocal(); got != tt.want {
				t.Errorf("IsLocal() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestLocalFromYAML(t *testing.T) {
	c, err := Parse([]byte("providers:\n  local_x: {local: false}\n  cloud: {local: true}\n  unset: {local: ~}\n"), "x.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]bool{"local_x": false, "cloud": true, "unset": false} {
		p, _ := c.Provider(name)
		if got := p.IsLocal(); got != want {
			t.Errorf("%s: IsLocal() = %v, want %v", name, got, want)
		}
	}
	if p, _ := c.Provider("unset"); p.Local != nil {
		t.Errorf("local: ~ set Local to %v, want nil", *p.Local)
	}
}
