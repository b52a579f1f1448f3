package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/localrouter/localrouter/strategy"
)

// models serves GET /v1/models: the routing names, the aliases that name
// one model (a glob is no model name), then provider/model for every model
// a provider lists. Each entry carries OpenAI's fields and Anthropic's, and
// the list both envelopes (DESIGN §9), so either SDK reads it.
func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	st := s.state.Load()
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
		// Anthropic's.
		Type        string `json:"type"`
		DisplayName string `json:"display_name"`
		CreatedAt   string `json:"created_at"`
	}
	list := struct {
		Object  string  `json:"object"`
		Data    []model `json:"data"`
		HasMore bool    `json:"has_more"`
		FirstID string  `json:"first_id"`
		LastID  string  `json:"last_id"`
	}{Object: "list", Data: []model{}}
	for _, n := range routableNames(st) {
		list.Data = append(list.Data, model{ID: n.id, Object: "model", OwnedBy: n.owner, Type: "model", DisplayName: n.display,
			CreatedAt: "1970-01-01T00:00:00Z"})
	}
	list.FirstID, list.LastID = list.Data[0].ID, list.Data[len(list.Data)-1].ID
	writeJSON(w, list)
}

// routable is a name a client may send as its model.
type routable struct {
	id, owner, display string
	provider           string // for provider/model names
}

// routableNames lists the routing names, the aliases that name one model
// (a glob is no model name), then provider/model for every model a
// provider lists: what /v1/models and Ollama's /api/tags offer.
func routableNames(st *state) []routable {
	out := []routable{
		{id: "auto", owner: "localrouter", display: "LocalRouter: auto (follows the strategy)"},
		{id: "local", owner: "localrouter", display: "LocalRouter: local side"},
		{id: "remote", owner: "localrouter", display: "LocalRouter: remote side"},
	}
	for _, a := range st.cfg.Routing.Aliases {
		if !strings.ContainsAny(a.Glob, "*?") {
			out = append(out, routable{id: a.Glob, owner: "localrouter", display: "LocalRouter alias: " + a.Target})
		}
	}
	truth := st.truth.Load()
	for _, p := range st.up.table.Providers {
		for _, m := range p.Models {
			out = append(out, routable{id: p.Name + "/" + m, owner: p.Name, display: m + " (" + p.Name + ")", provider: p.Name})
		}
		// What a local backend really holds, as its probe last saw it.
		for _, m := range truth.models(p.Name) {
			// Ollama's "llama3.2:latest" is the config's "llama3.2".
			if !slices.Contains(p.Models, m) && !slices.Contains(p.Models, strings.TrimSuffix(m, ":latest")) {
				out = append(out, routable{id: p.Name + "/" + m, owner: p.Name, display: m + " (" + p.Name + ", on the local backend)",
					provider: p.Name})
			}
		}
	}
	return out
}

// Status is the /health document (DESIGN §6). It never holds a secret.
type Status struct {
	Status  string `json:"status"`
	Version string `json:"version"`
	Side    string `json:"side"`  // where "auto" goes now, before rules
	Route   string `json:"route"` // the model "auto" resolves to, as side:provider/model
	// Decision is Route as a structure, for in-process readers (the tray);
	// nil when "auto" cannot be routed.
	Decision   *strategy.Decision `json:"-"`
	Override   string             `json:"override"`
	Private    bool               `json:"private"` // Local only: no request leaves the machine
	Mock       bool               `json:"mock"`
	MockReason string             `json:"mock_reason,omitempty"`
	LocalUp    bool               `json:"local_up"`
	// LocalDegraded: a local provider answered 5xx; routed requests go
	// remote until routing.local_backoff ends.
	LocalDegraded bool             `json:"local_degraded"`
	Sessions      SessionsStatus   `json:"sessions"`
	Strategy      StrategyStatus   `json:"strategy"`
	Providers     []ProviderStatus `json:"providers"`
	LastFallback  *Fallback        `json:"last_fallback,omitempty"`
	ReloadError   string           `json:"config_error,omitempty"`
	Listen        string           `json:"listen"`
	ConfigPath    string           `json:"config_path"`
	Notifications bool             `json:"notifications"` // the config's switch for desktop notifications
	Usage         *UsageStatus     `json:"usage,omitempty"`
}

// SessionsStatus is the table of running sessions (DESIGN §10).
type SessionsStatus struct {
	Mode  string `json:"mode"` // sticky | follow | off
	Count int    `json:"count"`
	Max   int    `json:"max"`
}

// UsageStatus says whether usage records are kept (DESIGN §12): a usage
// database that cannot be opened or written never stops the gateway, it
// shows here.
type UsageStatus struct {
	Enabled bool   `json:"enabled"`
	Path    string `json:"path,omitempty"`
	Error   string `json:"error,omitempty"`   // why records are not kept
	Notice  string `json:"notice,omitempty"`  // what went wrong but is mended: a corrupt file moved aside
	Dropped int64  `json:"dropped,omitempty"` // records lost to a full queue or a failed write
}

// StrategyStatus says which strategy is in force and where it came from.
type StrategyStatus struct {
	Source      string     `json:"source"` // remote | cache | config
	URL         string     `json:"url,omitempty"`
	Strategy    string     `json:"strategy"`
	LocalModel  string     `json:"local_model"`
	RemoteModel string     `json:"remote_model"`
	UpdatedAt   string     `json:"updated_at,omitempty"`
	FetchedAt   *time.Time `json:"fetched_at,omitempty"`
	Error       string     `json:"error,omitempty"`
	Rules       int        `json:"rules"`
	Stale       bool       `json:"stale,omitempty"` // the last fetch failed; routing uses the last good strategy
}

// ProviderStatus describes one configured provider.
type ProviderStatus struct {
	Name    string `json:"name"`
	Type    string `json:"type"`
	Local   bool   `json:"local"`
	Skipped string `json:"skipped,omitempty"`
}

// Status returns the current status document.
func (s *Server) Status() Status {
	st := s.state.Load()
	on, why := st.mockMode(s)
	live := s.live()
	t := st.up.table
	out := Status{
		Status: "ok", Version: s.version, Override: s.Override(), Private: live.Private,
		Mock: on, MockReason: why, LocalUp: !live.LocalDown, LocalDegraded: live.LocalDegraded,
		Strategy: StrategyStatus{Source: strategy.SourceConfig, Strategy: string(t.Default), LocalModel: t.LocalModel, RemoteModel: t.RemoteModel},
		Listen:   "http://" + st.cfg.Addr() + "/v1", ConfigPath: st.cfg.Path, Notifications: st.cfg.Notifications,
		Sessions: SessionsStatus{Mode: st.cfg.Routing.Sessions, Count: s.sessions.Len(), Max: st.cfg.Routing.SessionMax},
	}
	if p := s.poller.Load(); p != nil {
		ps := p.Status()
		out.Strategy.Source, out.Strategy.URL, out.Strategy.Error, out.Strategy.Stale = ps.Source, ps.URL, ps.Error, ps.Stale
		if !ps.FetchedAt.IsZero() {
			out.Strategy.FetchedAt = &ps.FetchedAt
		}
		if cur := live.Strategy; cur != nil {
			out.Strategy.Strategy, out.Strategy.UpdatedAt, out.Strategy.Rules = string(cur.Strategy), cur.UpdatedAt, len(cur.Rules)
			if cur.LocalModel != "" {
				out.Strategy.LocalModel = cur.LocalModel
			}
			if cur.RemoteModel != "" {
				out.Strategy.RemoteModel = cur.RemoteModel
			}
		}
	}
	out.Side = out.Strategy.Strategy
	if live.Override != "" {
		out.Side = string(live.Override)
	}
	if live.Private {
		out.Side = string(strategy.Local) // Local only: nothing goes remote
	}
	if d, err := st.router.Decide(&strategy.Request{Model: "auto"}, live); err == nil {
		out.Route = d.String()
		out.Decision = &d
	}
	for _, p := range t.Providers {
		out.Providers = append(out.Providers, ProviderStatus{Name: p.Name, Type: p.Kind, Local: p.Local})
	}
	for _, pc := range st.cfg.Providers {
		if why, ok := st.up.skipped[pc.Name]; ok {
			out.Providers = append(out.Providers, ProviderStatus{Name: pc.Name, Type: pc.Kind(), Local: pc.IsLocal(), Skipped: why})
		}
	}
	if b := s.bound.Load(); b != nil {
		out.Listen = "http://" + *b + "/v1"
	}
	if s.usageStatus != nil {
		u := s.usageStatus()
		out.Usage = &u
	}
	s.ev.mu.Lock()
	out.LastFallback, out.ReloadError = s.ev.lastFallback, s.ev.reloadError
	s.ev.mu.Unlock()
	return out
}

// RefreshStrategy fetches the remote strategy now.
func (s *Server) RefreshStrategy(ctx context.Context) error {
	p := s.poller.Load()
	if p == nil {
		return errors.New("no remote_strategy.url is configured")
	}
	return p.Refresh(ctx)
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.Status())
}

// maxControlBody caps control request bodies; they hold one small field.
const maxControlBody = 4 << 10

func (s *Server) putOverride(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Override *string `json:"override"`
	}
	if aerr := decodeControl(w, r, &body); aerr != nil {
		writeError(w, aerr)
		return
	}
	if body.Override == nil {
		writeError(w, newAPIError(http.StatusBadRequest, "invalid_request_error", "invalid_value", "override", `send {"override":"auto|local|remote"}`))
		return
	}
	if err := s.SetOverride(*body.Override); err != nil {
		writeError(w, newAPIError(http.StatusBadRequest, "invalid_request_error", "invalid_value", "override", err.Error()))
		return
	}
	s.log.Info("override set", "override", s.Override())
	writeJSON(w, s.Status())
}

func (s *Server) putMock(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Mock *bool `json:"mock"`
	}
	if aerr := decodeControl(w, r, &body); aerr != nil {
		writeError(w, aerr)
		return
	}
	if body.Mock == nil {
		writeError(w, newAPIError(http.StatusBadRequest, "invalid_request_error", "invalid_value", "mock", `send {"mock":true} or {"mock":false}`))
		return
	}
	s.SetMock(*body.Mock)
	s.log.Info("mock mode set", "mock", *body.Mock)
	writeJSON(w, s.Status())
}

func (s *Server) refresh(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if err := s.RefreshStrategy(ctx); err != nil {
		// The status document carries the error; the refresh itself was done.
		s.log.Warn("strategy refresh failed", "err", err)
	}
	writeJSON(w, s.Status())
}

func decodeControl(w http.ResponseWriter, r *http.Request, v any) *apiError {
	body, aerr := readBody(w, r, maxControlBody)
	if aerr != nil {
		return aerr
	}
	if err := json.Unmarshal(body, v); err != nil {
		return newAPIError(http.StatusBadRequest, "invalid_request_error", "invalid_json", "", "request body is not valid JSON: "+err.Error())
	}
	return nil
}

func writeJSON(w http.ResponseWriter, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeError(w, newAPIError(http.StatusInternalServerError, "server_error", "", "", err.Error()))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}
