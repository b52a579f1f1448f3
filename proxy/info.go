package proxy

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// models serves GET /v1/models: the routing names, then provider/model for
// every model a provider lists.
func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	st := s.state.Load()
	type model struct {
		ID      string `json:"id"`
		Object  string `json:"object"`
		Created int64  `json:"created"`
		OwnedBy string `json:"owned_by"`
	}
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list"}
	for _, id := range []string{"auto", "local", "remote"} {
		list.Data = append(list.Data, model{ID: id, Object: "model", OwnedBy: "localrouter"})
	}
	for _, p := range st.up.table.Providers {
		for _, m := range p.Models {
			list.Data = append(list.Data, model{ID: p.Name + "/" + m, Object: "model", OwnedBy: p.Name})
		}
	}
	writeJSON(w, list)
}

// Status is the /health document (DESIGN §6). It never holds a secret.
type Status struct {
	Status     string           `json:"status"`
	Version    string           `json:"version"`
	Side       string           `json:"side"`
	Override   string           `json:"override"`
	Mock       bool             `json:"mock"`
	MockReason string           `json:"mock_reason,omitempty"`
	LocalUp    bool             `json:"local_up"`
	Strategy   StrategyStatus   `json:"strategy"`
	Providers  []ProviderStatus `json:"providers"`
}

// StrategyStatus says which strategy is in force and where it came from.
type StrategyStatus struct {
	Source      string     `json:"source"`
	Strategy    string     `json:"strategy"`
	LocalModel  string     `json:"local_model"`
	RemoteModel string     `json:"remote_model"`
	UpdatedAt   string     `json:"updated_at,omitempty"`
	FetchedAt   *time.Time `json:"fetched_at,omitempty"`
	Error       string     `json:"error,omitempty"`
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
	t := st.up.table
	out := Status{
		Status: "ok", Version: s.version, Side: string(t.Default), Override: "auto",
		Mock: on, MockReason: why,
		Strategy: StrategyStatus{Source: "config", Strategy: string(t.Default), LocalModel: t.LocalModel, RemoteModel: t.RemoteModel},
	}
	for _, p := range t.Providers {
		out.LocalUp = out.LocalUp || p.Local
		out.Providers = append(out.Providers, ProviderStatus{Name: p.Name, Type: p.Kind, Local: p.Local})
	}
	for _, pc := range st.cfg.Providers {
		if why, ok := st.up.skipped[pc.Name]; ok {
			out.Providers = append(out.Providers, ProviderStatus{Name: pc.Name, Type: pc.Kind(), Local: pc.IsLocal(), Skipped: why})
		}
	}
	return out
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, s.Status())
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
