package proxy

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/localrouter/localrouter/config"
	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/providers/anthropic"
	"github.com/localrouter/localrouter/providers/google"
	"github.com/localrouter/localrouter/providers/mock"
	"github.com/localrouter/localrouter/providers/openai"
	"github.com/localrouter/localrouter/strategy"
)

// upstreams is one configuration's providers and routing table.
type upstreams struct {
	byName map[string]providers.Provider
	table  strategy.Table
	// skipped says, per configured provider that will not be used, why.
	skipped map[string]string
}

// buildUpstreams turns the config's provider entries into providers. An
// entry that cannot work (no key, a protocol not built yet) is skipped with a
// reason; an entry that is wrong (no base URL for an unknown vendor) is an error.
func buildUpstreams(cfg *config.Config, userAgent string) (*upstreams, error) {
	u := &upstreams{byName: map[string]providers.Provider{}, skipped: map[string]string{}}
	u.table = strategy.Table{
		Default:      strategy.Side(cfg.Routing.Default),
		LocalModel:   cfg.Routing.LocalModel,
		RemoteModel:  cfg.Routing.RemoteModel,
		Fallback:     cfg.Routing.Fallback,
		ContextGuard: cfg.Routing.ContextGuard,
		Sessions:     cfg.Routing.Sessions,
		FIMModel:     strategy.SideModels{Local: cfg.Routing.FIMModel.Local, Remote: cfg.Routing.FIMModel.Remote},
		EmbeddingModel: strategy.SideModels{Local: cfg.Routing.EmbeddingModel.Local,
			Remote: cfg.Routing.EmbeddingModel.Remote},
	}
	for _, r := range cfg.Routing.Rules {
		u.table.Rules = append(u.table.Rules, strategy.RuleSpec{When: r.When, Use: r.Use})
	}
	for _, a := range cfg.Routing.Aliases {
		u.table.Aliases = append(u.table.Aliases, strategy.Alias{Glob: a.Glob, Target: a.Target})
	}
	var errs []string
	for _, pc := range cfg.Providers {
		kind := pc.Kind()
		switch kind {
		case "mock":
			u.byName[pc.Name] = mock.New(cfg.Mock.TokenDelay)
		case "anthropic", "google":
			if pc.APIKey == "" && !(kind == "anthropic" && pc.IsLocal()) {
				u.skipped[pc.Name] = "no api_key"
				continue
			}
			var c providers.Provider
			var err error
			// Both default an empty base_url to the vendor's API root and
			// tolerate a trailing version path.
			if kind == "anthropic" {
				c, err = anthropic.New(anthropic.Options{
					Name: pc.Name, BaseURL: pc.BaseURL, APIKey: string(pc.APIKey), Headers: headerValues(pc),
					Timeout: pc.Timeout, IdleTimeout: pc.IdleTimeout, DefaultMaxTokens: pc.DefaultMaxTokens,
					UserAgent: userAgent, Local: pc.IsLocal(),
				})
			} else {
				c, err = google.New(google.Options{
					Name: pc.Name, BaseURL: pc.BaseURL, APIKey: string(pc.APIKey), Headers: headerValues(pc),
					Timeout: pc.Timeout, IdleTimeout: pc.IdleTimeout, UserAgent: userAgent,
				})
			}
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			u.byName[pc.Name] = c
		case "openai":
			if pc.BaseURL == "" {
				def, ok := openai.DefaultBaseURL(pc.Name)
				if !ok {
					errs = append(errs, fmt.Sprintf("providers.%s: no base_url, and %q is not a vendor LocalRouter knows: set base_url", pc.Name, pc.Name))
					continue
				}
				pc.BaseURL = def
			}
			// A cloud endpoint without a key can only answer 401; a server
			// on this machine or the LAN usually needs none.
			if pc.APIKey == "" && !pc.IsLocal() {
				u.skipped[pc.Name] = "no api_key"
				continue
			}
			c, err := openai.New(openai.Options{
				Name: pc.Name, BaseURL: pc.BaseURL, APIKey: string(pc.APIKey), Headers: headerValues(pc),
				Timeout: pc.Timeout, IdleTimeout: pc.IdleTimeout, UserAgent: userAgent,
				Protocols: protocols(pc.Protocols),
			})
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			u.byName[pc.Name] = c
		default:
			u.skipped[pc.Name] = "type " + kind + " is not supported by this version yet"
			continue
		}
		u.table.Providers = append(u.table.Providers, strategy.Provider{
			Name: pc.Name, Kind: kind, Local: pc.IsLocal(), Models: pc.Models, ContextWindow: pc.ContextWindow,
		})
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("config %s: %s", cfg.Path, strings.Join(errs, "; "))
	}
	for _, pc := range cfg.Providers {
		if _, ok := u.skipped[pc.Name]; ok {
			u.table.Skipped = append(u.table.Skipped, pc.Name)
		}
	}
	return u, nil
}

func (u *upstreams) logSkipped(log *slog.Logger) {
	for _, name := range u.table.Skipped {
		log.Warn("provider skipped", "provider", name, "reason", u.skipped[name])
	}
}

// skippedFor explains a provider/model request whose provider is configured
// but skipped, which is more useful than "no such provider".
func (st *state) skippedFor(model string) (string, bool) {
	name, _, ok := strings.Cut(model, "/")
	if !ok {
		return "", false
	}
	why, ok := st.up.skipped[name]
	if !ok {
		return "", false
	}
	return fmt.Sprintf("model %q: provider %s is configured but skipped: %s", model, name, why), true
}

// headerValues returns a provider's extra headers as plain strings.
func headerValues(pc config.Provider) map[string]string {
	h := make(map[string]string, len(pc.Headers))
	for k, v := range pc.Headers {
		h[k] = string(v)
	}
	return h
}

func protocols(names []string) []providers.Protocol {
	out := make([]providers.Protocol, len(names))
	for i, n := range names {
		out[i] = providers.Protocol(n)
	}
	return out
}
