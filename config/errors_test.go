package config

import (
	"errors"
	"strings"
	"testing"
)

// errorCases are bad configs and every line of the error Parse must give
// for them, in order. FuzzParse is seeded with them too.
var errorCases = []struct {
	name string
	yaml string
	want []string
}{
	// Malformed YAML.
	{
		name: "bad indentation",
		yaml: "server:\n  host: 127.0.0.1\n port: 8080\n",
		want: []string{"config bad.yaml:3: did not find expected key"},
	},
	{
		name: "tab indentation",
		yaml: "server:\n\tport: 8080\n",
		want: []string{"config bad.yaml:2:1: found character that cannot start any token (YAML indents with spaces, not tabs)"},
	},
	{
		name: "tab after a good line",
		yaml: "server:\n  port: 8080\n\thost: x\n",
		want: []string{"config bad.yaml:3:1: found a tab character that violates indentation (YAML indents with spaces, not tabs)"},
	},
	{
		// yaml.v3 points at the line where the unclosed "{" is.
		name: "unclosed flow mapping",
		yaml: "mock: {}\nproviders: {openai: {api_key: x}\nrouting: {}\n",
		want: []string{"config bad.yaml:2: did not find expected ',' or '}'"},
	},
	{
		// yaml.v3 gives no line for a problem on the first.
		name: "unclosed quote on the first line",
		yaml: `"sk-abc`,
		want: []string{"config bad.yaml:1: found unexpected end of stream"},
	},
	{
		name: "control character",
		yaml: "server:\n  host: a\x01b\n",
		want: []string{"config bad.yaml:2:10: control characters are not allowed"},
	},
	{
		name: "not UTF-8",
		yaml: "server:\n  host: \u00e9\xff\n",
		want: []string{"config bad.yaml:2:10: invalid leading UTF-8 octet"},
	},
	{
		name: "two documents",
		yaml: "server: {port: 1}\n---\nserver: {port: 2}\n",
		want: []string{"config bad.yaml:2:1: only one YAML document is allowed"},
	},
	{
		name: "unknown anchor",
		yaml: "server: *nope\n",
		want: []string{"config bad.yaml:1:9: an alias (*name) refers to an anchor (&name) that is not defined before it"},
	},

	// Unknown and duplicate keys, wrong shapes.
	{
		name: "unknown top-level key",
		yaml: "server: {}\nserverr:\n  port: 1\n",
		want: []string{`config bad.yaml:2:1: unknown field "serverr"`},
	},
	{
		name: "unknown key in server",
		yaml: "server:\n  host: 127.0.0.1\n  prot: 8080\n",
		want: []string{`config bad.yaml:3:3: unknown field "prot" in server`},
	},
	{
		name: "unknown key in provider",
		yaml: "providers:\n  openai:\n    apikey: x\n",
		want: []string{`config bad.yaml:3:5: unknown field "apikey" in providers.openai`},
	},
	{
		name: "unknown key in rule",
		yaml: "routing:\n  rules:\n    - {when: x, use: local}\n    - {when: x, use: local, if: y}\n",
		want: []string{`config bad.yaml:4:29: unknown field "if" in routing.rules[1]`},
	},
	{
		name: "Path is not a YAML field",
		yaml: "path: /etc/x\n",
		want: []string{`config bad.yaml:1:1: unknown field "path"`},
	},
	{
		name: "duplicate top-level key",
		yaml: "server: {port: 1}\nmock: {}\nserver: {port: 2}\n",
		want: []string{`config bad.yaml:3:1: duplicate key "server" (first at line 1)`},
	},
	{
		name: "duplicate provider",
		yaml: "providers:\n  openai: {}\n  anthropic: {}\n  openai: {}\n",
		want: []string{`config bad.yaml:4:3: providers: duplicate key "openai" (first at line 2)`},
	},
	{
		name: "section is a scalar",
		yaml: "server: 8080\n",
		want: []string{"config bad.yaml:1:9: server: must be a mapping, got a number"},
	},
	{
		name: "providers is a list",
		yaml: "providers:\n  - openai\n",
		want: []string{"config bad.yaml:2:3: providers: must be a mapping of provider name to settings, got a list"},
	},
	{
		name: "models is a string",
		yaml: "providers:\n  x:\n    models: big\n",
		want: []string{"config bad.yaml:3:13: providers.x.models: must be a list of strings, got a string"},
	},
	{
		name: "document is a list",
		yaml: "- server\n",
		want: []string{"config bad.yaml:1:1: the file must be a mapping of settings, got a list"},
	},
	{
		name: "merge into itself",
		yaml: "providers:\n  z: &z {<<: *z}\n",
		want: []string{"config bad.yaml:2:6: providers.z: << merges a mapping into itself"},
	},

	// Values of the wrong type.
	{
		name: "port not a number",
		yaml: "server:\n  host: 127.0.0.1\n  port: abc\n",
		want: []string{"config bad.yaml:3:9: server.port: must be a whole number"},
	},
	{
		name: "max_body not a size",
		yaml: "server:\n  max_body: lots\n",
		want: []string{`config bad.yaml:2:13: server.max_body: must be a size (want bytes or a number with a unit, like 1048576, "512KiB" or "32MiB")`},
	},
	{
		name: "duration without unit",
		yaml: "remote_strategy:\n  poll_interval: 60\n",
		want: []string{`config bad.yaml:2:18: remote_strategy.poll_interval: must be a duration, like "60s", "1m30s" or "500ms"`},
	},
	{
		name: "boolean",
		yaml: "notifications: maybe\n",
		want: []string{"config bad.yaml:1:16: notifications: must be true or false"},
	},
	{
		name: "local not a boolean",
		yaml: "providers:\n  x: {local: 1}\n",
		want: []string{"config bad.yaml:2:14: providers.x.local: must be true or false"},
	},
	{
		name: "empty list entry",
		yaml: "server:\n  allowed_origins:\n    - http://localhost:3000\n    -\n",
		want: []string{"config bad.yaml:4:6: server.allowed_origins[1]: must not be empty"},
	},

	// Values of the right type that Validate rejects.
	{
		name: "port out of range",
		yaml: "server:\n  port: 70000\n",
		want: []string{"config bad.yaml:2:3: server.port: must be between 1 and 65535"},
	},
	{
		name: "empty host",
		yaml: "server:\n  host: ''\n",
		want: []string{`config bad.yaml:2:3: server.host: must not be empty (use "127.0.0.1" for this machine only, "0.0.0.0" for every interface)`},
	},
	{
		name: "zero max_body",
		yaml: "server: {max_body: 0}\n",
		want: []string{"config bad.yaml:1:10: server.max_body: must be more than 0"},
	},
	{
		name: "origins",
		yaml: "server:\n  allowed_origins:\n    - http://localhost:3000/\n    - '*'\n    - https://ok.example.com\n    - HTTP://Upper.example.com\n    - vscode-webview://abc123\n    - http://user@host\n",
		want: []string{
			`config bad.yaml:3:7: server.allowed_origins[0]: must be an origin like "http://localhost:3000" (lower-case scheme, host and port only)`,
			`config bad.yaml:4:7: server.allowed_origins[1]: must be an origin like "http://localhost:3000" (lower-case scheme, host and port only)`,
			`config bad.yaml:6:7: server.allowed_origins[3]: must be an origin like "http://localhost:3000" (lower-case scheme, host and port only)`,
			`config bad.yaml:8:7: server.allowed_origins[5]: must be an origin like "http://localhost:3000" (lower-case scheme, host and port only)`,
		},
	},
	{
		name: "routing.default sideways",
		yaml: "routing:\n  local_model: qwen\n  default: sideways\n",
		want: []string{`config bad.yaml:3:3: routing.default: must be "local" or "remote"`},
	},
	{
		name: "negative local_backoff",
		yaml: "routing:\n  local_backoff: -5s\n",
		want: []string{`config bad.yaml:2:3: routing.local_backoff: must be 0 (off) or more`},
	},
	{
		name: "strategy url and durations",
		yaml: "remote_strategy:\n  url: ftp://example.com/s.json\n  poll_interval: 500ms\n  timeout: -1s\nmock:\n  token_delay: -1ms\n",
		want: []string{
			`config bad.yaml:2:3: remote_strategy.url: must be an http or https URL, like "https://host/path"`,
			"config bad.yaml:3:3: remote_strategy.poll_interval: must be at least 1s",
			"config bad.yaml:4:3: remote_strategy.timeout: must be more than 0",
			"config bad.yaml:6:3: mock.token_delay: must not be negative",
		},
	},
	{
		name: "bad base_url",
		yaml: "providers:\n  a: {base_url: 'ftp://x/v1'}\n  b: {base_url: 'http://'}\n  c: {base_url: 'localhost:8000/v1'}\n  d: {base_url: 'http://[::1'}\n",
		want: []string{
			`config bad.yaml:2:7: providers.a.base_url: must be an http or https URL, like "https://host/path"`,
			"config bad.yaml:3:7: providers.b.base_url: has no host",
			`config bad.yaml:4:7: providers.c.base_url: must be an http or https URL, like "https://host/path"`,
			"config bad.yaml:5:7: providers.d.base_url: is not a valid URL",
		},
	},
	{
		name: "provider fields",
		yaml: "providers:\n  x:\n    type: grpc\n    timeout: -5s\n    idle_timeout: 0s\n    context_window: -1\n    default_max_tokens: 0\n    models: [a, '  ']\n    headers: {'Bad Header': v}\n",
		want: []string{
			"config bad.yaml:3:5: providers.x.type: must be openai, anthropic, google or mock",
			"config bad.yaml:4:5: providers.x.timeout: must be more than 0",
			"config bad.yaml:5:5: providers.x.idle_timeout: must be more than 0",
			"config bad.yaml:6:5: providers.x.context_window: must not be negative",
			"config bad.yaml:7:5: providers.x.default_max_tokens: must be more than 0",
			"config bad.yaml:8:17: providers.x.models[1]: must not be empty",
			"config bad.yaml:9:15: providers.x.headers.Bad Header: is not a valid header name",
		},
	},
	{
		name: "aliases and protocols",
		yaml: "routing:\n  aliases:\n    'claude-*': nowhere/x\n    'gpt-*': sideways\n    ok: auto\n    also: [local]\nproviders:\n  ollama: {base_url: 'http://127.0.0.1:11434/v1', protocols: [anthropic, grpc]}\n",
		want: []string{
			`config bad.yaml:3:17: routing.aliases.claude-*: names a provider that is not configured: the part before "/" must be a key of providers`,
			`config bad.yaml:4:14: routing.aliases.gpt-*: must be "auto", "local", "remote" or "provider/model"`,
			"config bad.yaml:6:11: routing.aliases.also: must be a string, got a list",
			"config bad.yaml:8:74: providers.ollama.protocols[1]: must be one of openai, anthropic, responses, ollama, completions, embeddings",
		},
	},
	{
		name: "per-endpoint models",
		yaml: "routing:\n  fim_model: {local: qwen2.5-coder, edge: x}\n  embedding_model: nomic-embed-text\n",
		want: []string{
			`config bad.yaml:2:37: unknown field "edge" in routing.fim_model`,
			"config bad.yaml:3:20: routing.embedding_model: must be a mapping, got a string",
		},
	},
	{
		name: "provider name with a slash",
		yaml: "providers:\n  a/b: {}\n",
		want: []string{`config bad.yaml:2:3: providers.a/b: a provider name must not contain "/"`},
	},
	{
		// Found by FuzzParse: the name goes into the route header.
		name: "provider name with a line break",
		yaml: "providers:\n \"\\n0\": {}\n",
		want: []string{`config bad.yaml:2:2: providers."\n0": a provider name must not contain spaces or control characters`},
	},
	{
		name: "bad rules",
		yaml: "providers:\n  deepseek: {}\nrouting:\n  rules:\n    - when: has_images\n    - use: remote\n    - {when: x, use: sideways}\n    - {when: x, use: nobody/model}\n    - {when: x, use: deepseek/}\n    - {when: x, use: deepseek/chat}\n",
		want: []string{
			"config bad.yaml:5:7: routing.rules[0].use: is required",
			"config bad.yaml:6:7: routing.rules[1].when: is required",
			`config bad.yaml:7:17: routing.rules[2].use: must be "local", "remote" or "provider/model"`,
			`config bad.yaml:8:17: routing.rules[3].use: names a provider that is not configured: the part before "/" must be a key of providers`,
			`config bad.yaml:9:17: routing.rules[4].use: must be "local", "remote" or "provider/model"`,
		},
	},

	// Several problems at once, in file order.
	{
		name: "every problem reported",
		yaml: "server:\n  port: abc\n  prot: 1\nrouting:\n  default: sideways\nproviders:\n  x: {type: grpc, timeout: -1s}\n",
		want: []string{
			"config bad.yaml:2:9: server.port: must be a whole number",
			`config bad.yaml:3:3: unknown field "prot" in server`,
			`config bad.yaml:5:3: routing.default: must be "local" or "remote"`,
			"config bad.yaml:7:7: providers.x.type: must be openai, anthropic, google or mock",
			"config bad.yaml:7:19: providers.x.timeout: must be more than 0",
		},
	},
}

func TestParseErrors(t *testing.T) {
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.yaml), "bad.yaml")
			if err == nil {
				t.Fatalf("Parse succeeded, want errors:\n%s", strings.Join(tt.want, "\n"))
			}
			if c != nil {
				t.Errorf("Parse returned a config with its error")
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("got error:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// TestParseErrorsAreLocated checks the structure behind the messages: one
// fieldError per problem, each knowing its file.
func TestParseErrorsAreLocated(t *testing.T) {
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "bad.yaml")
			errs := unjoin(err)
			if len(errs) != len(tt.want) {
				t.Fatalf("got %d errors, want %d", len(errs), len(tt.want))
			}
			for _, e := range errs {
				var fe *fieldError
				if !errors.As(e, &fe) {
					t.Fatalf("got %T, want *fieldError", e)
				}
				if fe.file != "bad.yaml" {
					t.Errorf("file = %q, want bad.yaml", fe.file)
				}
			}
		})
	}
}

// unjoin returns the errors joined in err, or err alone.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	if err == nil {
		return nil
	}
	return []error{err}
}

func TestValidate(t *testing.T) {
	t.Run("defaults are valid", func(t *testing.T) {
		if err := Default().Validate(); err != nil {
			t.Errorf("Default().Validate() = %v, want nil", err)
		}
	})

	t.Run("built in code, so no file or line", func(t *testing.T) {
		c := Default()
		c.Server.Port = 0
		c.Routing.Default = "auto"
		c.Providers = []Provider{{Name: "x"}} // no defaults: zero timeouts
		want := []string{
			"config: server.port: must be between 1 and 65535",
			`config: routing.default: must be "local" or "remote"`,
			"config: providers.x.timeout: must be more than 0",
			"config: providers.x.idle_timeout: must be more than 0",
			"config: providers.x.default_max_tokens: must be more than 0",
		}
		err := c.Validate()
		if err == nil {
			t.Fatal("Validate() = nil, want errors")
		}
		if got := err.Error(); got != strings.Join(want, "\n") {
			t.Errorf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
		}
	})

	t.Run("after a change, a parsed config still knows its lines", func(t *testing.T) {
		c, err := Parse([]byte("server:\n  host: 127.0.0.1\n  port: 8080\n"), "x.yaml")
		if err != nil {
			t.Fatal(err)
		}
		c.Server.Port = -1
		c.Routing.Rules = append(c.Routing.Rules, Rule{Use: "local"})
		want := "config x.yaml:3:3: server.port: must be between 1 and 65535\n" +
			"config x.yaml: routing.rules[0].when: is required"
		if err := c.Validate(); err == nil || err.Error() != want {
			t.Errorf("got:\n%v\nwant:\n%s", err, want)
		}
	})
}
