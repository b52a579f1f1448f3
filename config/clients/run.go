package clients

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/localrouter/localrouter/config"
	"github.com/localrouter/localrouter/strategy"
)

// defaultContext is the context window written for a model whose provider
// sets no context_window: what today's common local and remote coding
// models hold.
const defaultContext = 128000

// mu serializes the reads and writes of clients' files, so two clicks in
// the tray cannot interleave one file's backup and write.
var mu sync.Mutex

// resolve follows a symbolic link to the file it names: dotfiles managed
// by a tool (stow, a dotfiles repository) stay links, and their target is
// what gets edited and backed up.
func resolve(path string) string {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		return p
	}
	return path
}

// Info names a client.
type Info struct {
	Name, Title string
	// Path is the file setup writes; "" when it prints settings to paste.
	Path string
}

// Clients lists every client setup knows, in the order the docs show,
// with the file each writes under env.Home (none when Home is empty).
func Clients(env Env) []Info {
	out := make([]Info, len(clients))
	for i, c := range clients {
		out[i] = Info{Name: c.name, Title: c.title}
		if c.path != nil && env.Home != "" {
			out[i].Path = c.path(env)
		}
	}
	return out
}

func find(name string) (*client, error) {
	for i := range clients {
		if clients[i].name == name {
			return &clients[i], nil
		}
	}
	names := make([]string, len(clients))
	for i, c := range clients {
		names[i] = c.name
	}
	return nil, fmt.Errorf("setup: unknown client %q (known: %s)", name, strings.Join(names, ", "))
}

// Apply writes the client's settings so that it talks to t (or, for a
// client configured by pasting, says what to paste).
func Apply(name string, t Target, env Env) (Result, error) { return run(name, t, env, true) }

// Preview is Apply without writing anything: Result.Diff is the change.
func Preview(name string, t Target, env Env) (Result, error) { return run(name, t, env, false) }

func run(name string, t Target, env Env, write bool) (Result, error) {
	c, err := find(name)
	if err != nil {
		return Result{}, err
	}
	r := Result{Client: c.name}
	if c.paste != nil {
		r.Note = t.mask(c.paste(t, env))
		return r, nil
	}
	mu.Lock()
	defer mu.Unlock()
	r.Path = resolve(c.path(env))
	ch, err := readChange(r.Path)
	if err != nil {
		return r, err
	}
	if c.refuse != nil {
		if err := c.refuse(r.Path, ch.existed); err != nil {
			return r, err
		}
	}
	if ch.new, err = c.edit(r.Path, ch.old, c.ops(t)); err != nil {
		return r, err
	}
	r.Changed = ch.changed()
	r.Diff = t.mask(ch.diff())
	if c.note != nil {
		r.Note = t.mask(c.note(t))
	}
	r.Backup, _ = existingBackup(r.Path)
	if write && r.Changed {
		if r.Backup, err = ch.write(); err != nil {
			return r, err
		}
	}
	return r, nil
}

// Undo restores the client's file as it was before the first setup, or
// removes it if setup created it. It returns ErrNothingToUndo (wrapped)
// when there is no backup.
func Undo(name string, env Env) (Result, error) {
	c, err := find(name)
	if err != nil {
		return Result{}, err
	}
	r := Result{Client: c.name}
	if c.paste != nil {
		return r, fmt.Errorf("setup: %s: %w: LocalRouter writes no file for it", c.name, ErrNothingToUndo)
	}
	mu.Lock()
	defer mu.Unlock()
	r.Path = resolve(c.path(env))
	r.Backup, err = undo(r.Path)
	r.Changed = err == nil
	return r, err
}

// claudeTiers are names Claude Code sends for each tier, newest first: an
// alias whose glob matches one routes that tier.
var claudeTiers = []struct {
	tier  string
	names []string
}{
	{"opus", []string{"claude-opus-4-6", "claude-opus-4-5", "claude-opus-4-1", "claude-3-opus-latest"}},
	{"sonnet", []string{"claude-sonnet-4-6", "claude-sonnet-4-5", "claude-3-7-sonnet-latest", "claude-3-5-sonnet-latest"}},
	{"haiku", []string{"claude-haiku-4-5", "claude-3-5-haiku-latest"}},
}

// TargetFor points clients at the LocalRouter cfg describes, asking for
// model ("" means auto). Without a model, each Claude Code tier gets the
// target of the first routing.aliases glob that matches its Claude names
// (claude-*haiku*: local gives haiku "local"), else auto: the tiers keep
// the routing the config already gives Claude Code's own names.
func TargetFor(cfg *config.Config, model string) Target {
	tiers := map[string]string{}
	if model == "" {
		model = "auto"
		for _, ct := range claudeTiers {
		aliases:
			for _, a := range cfg.Routing.Aliases {
				for _, n := range ct.names {
					if strategy.MatchGlob(a.Glob, n) {
						tiers[ct.tier] = a.Target
						break aliases
					}
				}
			}
		}
	}
	host := cfg.Server.Host
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1" // listening everywhere includes loopback
	}
	return Target{
		URL:        "http://" + net.JoinHostPort(host, strconv.Itoa(cfg.Server.Port)),
		APIKey:     string(cfg.Server.APIKey),
		Model:      model,
		Tiers:      tiers,
		Context:    contextWindow(cfg, model),
		ConfigPath: cfg.Path,
	}
}

// contextWindow is the context_window of the provider model routes to:
// provider/model names it; local and remote (and auto, by routing.default)
// go to that side's configured model, else its first provider that sets
// one; any other name to a provider that lists it.
func contextWindow(cfg *config.Config, model string) int {
	side := model
	if model == "auto" {
		side = cfg.Routing.Default
	}
	if side == "local" || side == "remote" {
		sideModel := cfg.Routing.LocalModel
		if side == "remote" {
			sideModel = cfg.Routing.RemoteModel
		}
		if n := providerWindow(cfg, sideModel); n > 0 {
			return n
		}
		for _, p := range cfg.Providers {
			if p.IsLocal() == (side == "local") && p.ContextWindow > 0 {
				return p.ContextWindow
			}
		}
		return defaultContext
	}
	if n := providerWindow(cfg, model); n > 0 {
		return n
	}
	return defaultContext
}

// providerWindow is the context window of the provider serving
// provider/model or a bare model name it lists.
func providerWindow(cfg *config.Config, model string) int {
	if prov, _, ok := strings.Cut(model, "/"); ok {
		if p, found := cfg.Provider(prov); found && p.ContextWindow > 0 {
			return p.ContextWindow
		}
	}
	for _, p := range cfg.Providers {
		for _, m := range p.Models {
			if m == model && p.ContextWindow > 0 {
				return p.ContextWindow
			}
		}
	}
	return 0
}
