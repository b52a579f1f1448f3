package config

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// leaked is a made-up key; no substring of it may reach an error.
const leaked = "sk-proj-Q7hV2mZk9LrT4xWc8NbJ"

// leaks returns the first piece of leaked, six bytes long, found in s in
// any case (a URL scheme is lower-cased before it is shown).
func leaks(s string) string {
	for i := 0; i+6 <= len(leaked); i++ {
		if w := leaked[i : i+6]; strings.Contains(strings.ToLower(s), strings.ToLower(w)) {
			return w
		}
	}
	return ""
}

// TestErrorsNeverQuoteContent: LOCALROUTER_CONFIG_PATH pointed at a file of
// secrets (a .env, a key file) must not put them in the error, which is
// logged and shown on the unauthenticated /health. Errors name the place
// and the field, never the value or the line's text.
func TestErrorsNeverQuoteContent(t *testing.T) {
	t.Setenv("LR_TEST_LEAK", leaked)
	tests := []struct {
		name string
		yaml string
		// want is a part of the error that says where and what.
		want string
	}{
		{"a .env file", "OPENAI_API_KEY=" + leaked + "\nOTHER=" + leaked + "\n", "x.yaml:1:1: the file must be a mapping"},
		{"a bare key", leaked + "\n", "x.yaml:1:1: the file must be a mapping"},
		{"a PEM key", "-----BEGIN PRIVATE KEY-----\n" + leaked + "\n-----END PRIVATE KEY-----\n", "x.yaml:1:1:"},
		{"a key in a JSON file", `{"type": "service_account", "private_key": "` + leaked + `"}`, `unknown field "private_key"`},
		{"unknown key with a secret value", "OPENAI_API_KEY: " + leaked + "\n", `x.yaml:1:1: unknown field "OPENAI_API_KEY"`},
		{"a secret in a list", "- " + leaked + "\n- " + leaked + "\n", "x.yaml:1:1: the file must be a mapping"},
		{"not YAML", "key = \"" + leaked + "\n[section\n", "x.yaml:"},
		{"unterminated quote", "server:\n  api_key: \"" + leaked + "\n", "x.yaml:"},
		{"tab error", "server:\n\tapi_key: " + leaked + "\n", "x.yaml:2"},
		{"tab after a value", "server:\n  api_key: x\n\tbad: " + leaked + "\n", "x.yaml:3"},
		{"undefined alias", "server:\n  api_key: *" + leaked + "\n", "x.yaml:2:12:"},
		{"wrong type: number", "server:\n  port: " + leaked + "\n", "x.yaml:2:9: server.port:"},
		{"wrong type: duration", "mock: {token_delay: " + leaked + "}\n", "mock.token_delay:"},
		{"wrong type: size", "server: {max_body: " + leaked + "}\n", "server.max_body:"},
		{"wrong type: boolean", "notifications: " + leaked + "\n", "notifications:"},
		{"wrong type, expanded", "server:\n  port: x${LR_TEST_LEAK}\n", "server.port:"},
		{"a secret left in ${} text", "server:\n  port: " + leaked + "${LR_TEST_UNSET_VAR:-1}\n", "server.port:"},
		{"bad value: routing.default", "routing:\n  default: " + leaked + "\n", "x.yaml:2:3: routing.default:"},
		{"bad value: provider type", "providers:\n  x: {type: " + leaked + "}\n", "providers.x.type:"},
		{"bad value: rule target", "routing:\n  rules: [{when: 'true', use: " + leaked + "}]\n", "routing.rules[0].use:"},
		{"bad value: rule provider", "routing:\n  rules: [{when: 'true', use: " + leaked + "/m}]\n", "routing.rules[0].use:"},
		{"bad value: URL scheme", "providers:\n  x: {base_url: '" + leaked + "://host/v1'}\n", "providers.x.base_url:"},
		{"bad value: origin", "server:\n  allowed_origins: [" + leaked + "]\n", "server.allowed_origins[0]:"},
		{"bad value, expanded", "routing:\n  default: ${LR_TEST_LEAK}\n", "routing.default:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "x.yaml")
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			if w := leaks(err.Error()); w != "" {
				t.Errorf("error shows %q of the file's secret: %v", w, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want %q in it", err, tt.want)
			}
		})
	}
}

// TestByteSizeUnmarshalYAMLHidesValue: ByteSize decoded by yaml.v3 itself,
// outside Parse, must not quote the value either.
func TestByteSizeUnmarshalYAMLHidesValue(t *testing.T) {
	var v struct {
		Max ByteSize `yaml:"max"`
	}
	err := yaml.Unmarshal([]byte("max: "+leaked+"\n"), &v)
	if err == nil {
		t.Fatal("decoded, want an error")
	}
	if w := leaks(err.Error()); w != "" {
		t.Errorf("error shows %q of the secret: %v", w, err)
	}
	if !strings.Contains(err.Error(), "line 1: not a size") {
		t.Errorf("got %q, want it to say line 1 is not a size", err)
	}
}
