// Package usage keeps one record per routed request (DESIGN §12) in a local
// SQLite database, prices it from an embedded catalog, and answers the
// questions the tray, the dashboard and `localrouter usage` ask of it.
package usage

import "time"

// Record is one routed request, as stored.
type Record struct {
	ID      int64
	Time    time.Time // when the request finished
	Door    string    // front door endpoint: chat, responses, messages, completions, embeddings, ollama-chat...
	Path    string
	Client  string // from the User-Agent, "" when unknown
	Session string
	Side    string // "local" | "remote" | "" when no route
	// Provider, Model and Reason are the route taken (after fallback).
	Provider, Model, Reason string
	Status                  int
	Stream, Fallback        bool
	// Estimated is true when the tokens are LocalRouter's estimate, not
	// the upstream's usage.
	Estimated                 bool
	Latency, TTFB             time.Duration
	InputTokens, OutputTokens int
	// CostUSD and SavedUSD are estimates from the price table. Saved is
	// what a local answer's tokens would have cost on RemoteProvider's
	// RemoteModel.
	CostUSD, SavedUSD float64
	Error             string
	// RemoteProvider and RemoteModel name the remote route the request
	// would have taken, for a local one: what SavedUSD is priced at.
	RemoteProvider, RemoteModel string
}

// Tokens is the record's input and output tokens together.
func (r *Record) Tokens() int { return r.InputTokens + r.OutputTokens }

// Filter selects records for Recent; zero fields select everything.
type Filter struct {
	Side, Provider, Client string
	ErrorsOnly             bool  // status >= 400 or an error
	BeforeID               int64 // for paging: only records older than this one
	Limit                  int   // default 100, at most 1000
}

// Bucket is one group of a Summary. Day is YYYY-MM-DD in local time when
// grouped by day; Key is the group's value (the day, provider, model,
// client or side), Side splits every group local/remote.
type Bucket struct {
	Day, Key, Side                                         string
	Requests, InputTokens, OutputTokens, Errors, Fallbacks int64
	CostUSD, SavedUSD                                      float64
}

// Totals sums the records of a window.
type Totals struct {
	Requests, LocalRequests, InputTokens, OutputTokens, Errors, Fallbacks int64
	CostUSD, SavedUSD                                                     float64
}

// Tokens is the window's input and output tokens together.
func (t Totals) Tokens() int64 { return t.InputTokens + t.OutputTokens }

// LocalShare is the share of requests served locally, 0..1.
func (t Totals) LocalShare() float64 {
	if t.Requests == 0 {
		return 0
	}
	return float64(t.LocalRequests) / float64(t.Requests)
}
