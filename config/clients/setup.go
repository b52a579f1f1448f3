// Package clients points a coding tool at LocalRouter by writing the tool's
// own configuration file (localrouter setup <client>, the tray's Connect a
// client…): it merges the few keys LocalRouter owns into what the user
// has, keeps a backup it can restore byte for byte, and never loses the
// user's settings or comments. Tools whose settings are not a file it can
// edit safely get the exact settings to paste.
package clients

import (
	"errors"
	"fmt"
	"strings"
)

// ErrNothingToUndo means a client has no backup to restore.
var ErrNothingToUndo = errors.New("nothing to undo")

// ParseError is a client's file that does not parse; the file is left
// alone.
type ParseError struct {
	Path         string
	Line, Column int // 1-based; 0 when the parser gave none
	Msg          string
}

func (e *ParseError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("setup: %s:%d:%d: %s (file left unchanged)", e.Path, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("setup: %s:%d: %s (file left unchanged)", e.Path, e.Line, e.Msg)
	default:
		return fmt.Sprintf("setup: %s: %s (file left unchanged)", e.Path, e.Msg)
	}
}

// Env is where the clients keep their files.
type Env struct {
	// Home is the user's home directory.
	Home string
	// GOOS picks the platform's paths ("linux", "darwin", "windows").
	GOOS string
	// Getenv reads the variables that move a tool's config dir
	// (CODEX_HOME, XDG_CONFIG_HOME, APPDATA, ...); nil reads none.
	Getenv func(string) string
}

func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

// Target is the LocalRouter a client is pointed at.
type Target struct {
	// URL is LocalRouter's root, e.g. "http://127.0.0.1:8080"; OpenAI
	// clients get URL+"/v1".
	URL string
	// APIKey is server.api_key; "" when LocalRouter takes any client.
	APIKey string
	// Model is the name the client asks for: "auto" unless --model.
	Model string
	// Tiers name the model for each of Claude Code's tiers ("opus",
	// "sonnet", "haiku"); see TargetFor.
	Tiers map[string]string
	// Context is Model's context window in tokens.
	Context int
	// ConfigPath is LocalRouter's config file, named in notes.
	ConfigPath string
}

func (t Target) v1() string { return t.URL + "/v1" }

// tier is the model for a Claude Code tier, Model unless Tiers names one.
func (t Target) tier(name string) string {
	if m := t.Tiers[name]; m != "" {
		return m
	}
	return t.Model
}

// keyOr is the API key, or placeholder for a client that refuses to start
// without one (LocalRouter ignores it when server.api_key is empty).
func (t Target) keyOr(placeholder string) string {
	if t.APIKey != "" {
		return t.APIKey
	}
	return placeholder
}

// Result says what setup did or would do.
type Result struct {
	Client string
	// Path is the file written; "" for a client whose settings are pasted.
	Path string
	// Changed reports whether the file differs (or would) from what it was.
	Changed bool
	// Diff is the change as a unified diff, the API key masked.
	Diff string
	// Note is what the user still has to do, or the settings to paste.
	Note string
	// Backup is the file undo restores from; "" when there is none.
	Backup string
}

// mask hides the key in text shown to the user.
func (t Target) mask(s string) string {
	if t.APIKey == "" {
		return s
	}
	return strings.ReplaceAll(s, t.APIKey, "[redacted]")
}
