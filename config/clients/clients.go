package clients

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// client is one tool setup knows.
type client struct {
	name, title string
	// path is the tool's user-level config file on env's platform.
	path func(Env) string
	// edit merges ops into the file's content (editJSON, editTOML, editYAML).
	edit func(name string, data []byte, ops []op) ([]byte, error)
	// ops are the settings LocalRouter owns in it.
	ops func(Target) []op
	// note is what the user still has to do after the write.
	note func(Target) string
	// paste, for a tool whose settings are not a file to edit safely, is
	// the text to paste instead.
	paste func(Target, Env) string
	// refuse, when set, says why path cannot be written as things are.
	refuse func(path string, exists bool) error
}

// envKey names the variable the clients that read their key from the
// environment (Codex, Qwen Code, Zed) are told to read.
const envKey = "LOCALROUTER_API_KEY"

// outputTokens is the output limit opencode is given: LocalRouter's
// default max_tokens for Anthropic upstreams.
const outputTokens = 8192

var clients = []client{
	{
		name: "claude-code", title: "Claude Code",
		path: func(e Env) string {
			return filepath.Join(dirOr(e, "CLAUDE_CONFIG_DIR", e.Home, ".claude"), "settings.json")
		},
		edit: editJSON,
		ops: func(t Target) []op {
			return []op{
				set(t.URL, "env", "ANTHROPIC_BASE_URL"),
				set(t.keyOr("localrouter"), "env", "ANTHROPIC_AUTH_TOKEN"),
				set("", "env", "ANTHROPIC_API_KEY"),
				set(t.tier("opus"), "env", "ANTHROPIC_DEFAULT_OPUS_MODEL"),
				set(t.tier("sonnet"), "env", "ANTHROPIC_DEFAULT_SONNET_MODEL"),
				set(t.tier("haiku"), "env", "ANTHROPIC_DEFAULT_HAIKU_MODEL"),
			}
		},
		note: func(Target) string { return "Restart Claude Code to use it." },
	},
	{
		name: "codex", title: "Codex",
		path: func(e Env) string { return filepath.Join(dirOr(e, "CODEX_HOME", e.Home, ".codex"), "config.toml") },
		edit: editTOML,
		ops: func(t Target) []op {
			key := del("model_providers", "localrouter", "env_key")
			if t.APIKey != "" {
				key = set(envKey, "model_providers", "localrouter", "env_key")
			}
			return []op{
				set(t.Model, "model"),
				set("localrouter", "model_provider"),
				set("LocalRouter", "model_providers", "localrouter", "name"),
				set(t.v1(), "model_providers", "localrouter", "base_url"),
				set("responses", "model_providers", "localrouter", "wire_api"),
				key,
			}
		},
		note: envNote("Codex"),
	},
	{
		name: "opencode", title: "opencode",
		path: opencodePath,
		edit: editJSON,
		ops: func(t Target) []op {
			options := obj{{"baseURL", t.v1()}}
			if t.APIKey != "" {
				options = append(options, kv{"apiKey", t.APIKey})
			}
			return []op{
				setIfAbsent("https://opencode.ai/config.json", "$schema"),
				set(obj{
					{"npm", "@ai-sdk/openai-compatible"},
					{"name", "LocalRouter"},
					{"options", options},
					{"models", obj{{t.Model, obj{
						{"name", "LocalRouter " + t.Model},
						{"limit", obj{{"context", t.Context}, {"output", outputTokens}}},
					}}}},
				}, "provider", "localrouter"),
				set("localrouter/"+t.Model, "model"),
			}
		},
	},
	{
		name: "continue", title: "Continue",
		path: func(e Env) string {
			return filepath.Join(dirOr(e, "CONTINUE_GLOBAL_DIR", e.Home, ".continue"), "config.yaml")
		},
		edit:   editYAML,
		refuse: continueJSON,
		ops: func(t Target) []op {
			model := func(name string, roles ...string) op {
				m := obj{{"name", name}, {"provider", "openai"}, {"model", t.Model}, {"apiBase", t.v1()}}
				if t.APIKey != "" {
					m = append(m, kv{"apiKey", t.APIKey})
				}
				return upsert(field("name", name), append(m, kv{"roles", roles}), "models")
			}
			return []op{
				setIfAbsent("LocalRouter", "name"),
				setIfAbsent("1.0.0", "version"),
				setIfAbsent("v1", "schema"),
				model("LocalRouter", "chat", "edit", "apply"),
				model("LocalRouter autocomplete", "autocomplete"),
				model("LocalRouter embeddings", "embed"),
			}
		},
	},
	{
		name: "zed", title: "Zed",
		path: zedPath,
		edit: editJSON,
		ops: func(t Target) []op {
			return []op{
				set(obj{
					{"api_url", t.v1()},
					{"available_models", []any{obj{
						{"name", t.Model},
						{"display_name", "LocalRouter " + t.Model},
						{"max_tokens", t.Context},
						{"capabilities", obj{{"tools", true}, {"images", false}, {"parallel_tool_calls", false}, {"prompt_cache_key", false}}},
					}}},
				}, "language_models", "openai_compatible", "LocalRouter"),
				set(obj{{"provider", "LocalRouter"}, {"model", t.Model}}, "agent", "default_model"),
			}
		},
		note: func(t Target) string {
			if t.APIKey == "" {
				return "Zed asks for an API key once (Agent settings → LLM Providers → LocalRouter): any text will do."
			}
			return fmt.Sprintf("Zed reads the key from $%s or from Agent settings → LLM Providers → LocalRouter: give it server.api_key from %s.", envKey, t.ConfigPath)
		},
	},
	{
		name: "cline", title: "Cline",
		path: clinePath,
		edit: editJSON,
		ops: func(t Target) []op {
			return []op{
				set("openai-compatible", "lastUsedProvider"),
				set(obj{{"provider", "openai-compatible"}, {"model", t.Model}, {"baseUrl", t.v1()}, {"apiKey", t.keyOr("localrouter")}},
					"providers", "openai-compatible", "settings"),
			}
		},
	},
	{
		name: "qwen-code", title: "Qwen Code",
		path: func(e Env) string { return filepath.Join(e.Home, ".qwen", "settings.json") },
		edit: editJSON,
		ops: func(t Target) []op {
			return []op{
				// Found by name, so a new port or model replaces the entry.
				upsert(namePrefix("name", "LocalRouter "), obj{{"id", t.Model}, {"name", "LocalRouter " + t.Model}, {"baseUrl", t.v1()}, {"envKey", envKey}},
					"modelProviders", "openai"),
				set("openai", "security", "auth", "selectedType"),
				set(t.Model, "model", "name"),
			}
		},
		note: envNote("Qwen Code"),
	},
	{
		name: "aider", title: "Aider",
		path: func(e Env) string { return filepath.Join(e.Home, ".aider.conf.yml") },
		edit: editYAML,
		ops: func(t Target) []op {
			return []op{
				set(t.v1(), "openai-api-base"),
				set(t.keyOr("localrouter"), "openai-api-key"),
				// openai/ makes aider's LiteLLM use the OpenAI-compatible route; the
				// name after it reaches LocalRouter as is.
				set("openai/"+t.Model, "model"),
			}
		},
	},
	{name: "copilot-cli", title: "GitHub Copilot CLI", paste: copilotCLIPaste},
	{name: "jetbrains", title: "JetBrains AI Assistant", paste: jetbrainsPaste},
	{name: "copilot", title: "GitHub Copilot in VS Code", paste: copilotPaste},
}

// continueJSON refuses to create config.yaml beside an older config.json:
// Continue reads config.yaml instead once it exists, and every setting in
// config.json would seem lost.
func continueJSON(path string, exists bool) error {
	old := filepath.Join(filepath.Dir(path), "config.json")
	if _, err := os.Stat(old); exists || err != nil {
		return nil
	}
	return fmt.Errorf("setup: %s holds your Continue settings, and Continue would read a new config.yaml instead: convert it to config.yaml first (Continue's docs explain how), then run setup again", old)
}

func setIfAbsent(value any, path ...string) op {
	o := set(value, path...)
	o.ifAbsent = true
	return o
}

// envNote tells the user of a tool that reads its key from the environment
// to set it, when LocalRouter has one.
func envNote(tool string) func(Target) string {
	return func(t Target) string {
		if t.APIKey == "" {
			if tool == "Qwen Code" {
				return fmt.Sprintf("%s wants a key in $%s: any value will do (LocalRouter has no server.api_key).", tool, envKey)
			}
			return ""
		}
		return fmt.Sprintf("%s reads the key from $%s: set it to server.api_key from %s.", tool, envKey, t.ConfigPath)
	}
}

// dirOr is $name when set, else the joined default.
func dirOr(e Env, name string, def ...string) string {
	if d := e.getenv(name); d != "" {
		return d
	}
	return filepath.Join(def...)
}

// xdgConfig is $XDG_CONFIG_HOME, else ~/.config: what opencode uses on
// every platform and Zed on Linux.
func xdgConfig(e Env) string { return dirOr(e, "XDG_CONFIG_HOME", e.Home, ".config") }

// opencodePath is $OPENCODE_CONFIG, else the global opencode.json (or the
// opencode.jsonc the user has instead).
func opencodePath(e Env) string {
	if p := e.getenv("OPENCODE_CONFIG"); p != "" {
		return p
	}
	dir := filepath.Join(xdgConfig(e), "opencode")
	json, jsonc := filepath.Join(dir, "opencode.json"), filepath.Join(dir, "opencode.jsonc")
	if _, err := os.Stat(json); err != nil {
		if _, err := os.Stat(jsonc); err == nil {
			return jsonc
		}
	}
	return json
}

// zedPath follows Zed's docs: %APPDATA%\Zed on Windows, ~/.config/zed on
// macOS, $XDG_CONFIG_HOME/zed on Linux.
func zedPath(e Env) string {
	switch e.GOOS {
	case "windows":
		return filepath.Join(dirOr(e, "APPDATA", e.Home, "AppData", "Roaming"), "Zed", "settings.json")
	case "darwin":
		return filepath.Join(e.Home, ".config", "zed", "settings.json")
	default:
		return filepath.Join(xdgConfig(e), "zed", "settings.json")
	}
}

// clinePath follows the Cline CLI's own lookup of its provider settings.
func clinePath(e Env) string {
	if p := e.getenv("CLINE_PROVIDER_SETTINGS_PATH"); p != "" {
		return p
	}
	if d := e.getenv("CLINE_DATA_DIR"); d != "" {
		return filepath.Join(d, "settings", "providers.json")
	}
	return filepath.Join(dirOr(e, "CLINE_DIR", e.Home, ".cline"), "data", "settings", "providers.json")
}

func copilotCLIPaste(t Target, e Env) string {
	vars := [][2]string{
		{"COPILOT_PROVIDER_BASE_URL", t.v1()},
		{"COPILOT_PROVIDER_TYPE", "openai"},
		{"COPILOT_MODEL", t.Model},
	}
	if t.APIKey != "" {
		vars = append(vars, [2]string{"COPILOT_PROVIDER_API_KEY", "<server.api_key from " + t.ConfigPath + ">"})
	}
	var b strings.Builder
	b.WriteString("GitHub Copilot CLI reads its provider from the environment. Set these before running copilot:\n\n")
	for _, v := range vars {
		if e.GOOS == "windows" {
			fmt.Fprintf(&b, "$env:%s = \"%s\"\n", v[0], v[1])
		} else {
			fmt.Fprintf(&b, "export %s=\"%s\"\n", v[0], v[1])
		}
	}
	return b.String()
}

func jetbrainsPaste(t Target, _ Env) string {
	key := "leave empty"
	if t.APIKey != "" {
		key = "server.api_key from " + t.ConfigPath
	}
	return fmt.Sprintf(`JetBrains AI Assistant keeps its providers in the IDE's settings, not in a file to edit.
Settings → Tools → AI Assistant → Models & API keys → Third-party AI providers:

  Provider: OpenAI-compatible
  URL:      %s
  API key:  %s

then pick %q under Models. (Or Provider: Ollama, URL %s: LocalRouter also speaks Ollama's API.)
`, t.v1(), key, t.Model, t.URL)
}

func copilotPaste(t Target, _ Env) string {
	return fmt.Sprintf(`GitHub Copilot in VS Code adds models through its Manage Models dialog, not a file to edit.
LocalRouter speaks Ollama's API, which Copilot reaches without a key. Add to your VS Code settings.json:

  "github.copilot.chat.byok.ollamaEndpoint": %q

then Chat → Manage Models… → Ollama, and pick %q.%s
`, t.URL, t.Model, keyWarning(t))
}

// keyWarning is for an Ollama client, which sends no key.
func keyWarning(t Target) string {
	if t.APIKey == "" {
		return ""
	}
	return "\nCopilot sends Ollama no API key, and LocalRouter asks for server.api_key: requests will get 401 until it is empty."
}
