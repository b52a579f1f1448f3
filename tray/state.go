// Package tray is LocalRouter's system tray: a fixed menu that shows the
// live route and lets the user force a side, switch to mock mode, refresh the
// strategy, open the config or the log, launch at login and quit; plus
// desktop notifications when the route changes.
//
// The package depends on nothing of LocalRouter but assets: it declares the
// small Core interface it needs, and main adapts the proxy to it.
package tray

import "time"

// Core is what the tray needs from the running gateway.
type Core interface {
	// State returns a fresh snapshot.
	State() State
	// Changes is signalled (coalesced, never blocking) whenever State may
	// have changed.
	Changes() <-chan struct{}
	// SetOverride sets "auto", "local" or "remote".
	SetOverride(string) error
	// SetMock turns mock mode on or off.
	SetMock(bool)
	// SetPrivate turns Local only on or off.
	SetPrivate(bool)
	// Refresh fetches the remote strategy now; it may block for the fetch.
	Refresh()
	// Quit stops the gateway (it drains running streams on its own).
	Quit()
}

// Override values.
const (
	OverrideAuto   = "auto"
	OverrideLocal  = "local"
	OverrideRemote = "remote"
)

// State is a snapshot of what the tray shows.
type State struct {
	// Route is where a request for "auto" goes now; zero when nothing can
	// be routed.
	Route Route
	// Side is where requests go ("local" or "remote"), used when Route is zero.
	Side string
	// Override is "auto", "local" or "remote".
	Override string
	// Private reports whether Local only is on: no request leaves the
	// machine, whatever the override or the strategy say.
	Private bool
	// Mock reports whether answers come from the mock provider; MockReason says why.
	Mock       bool
	MockReason string
	// LocalUp reports whether the local side answers its health probe.
	LocalUp bool
	// LocalDegraded reports whether a local provider answered 5xx and
	// routed requests go remote for its back-off.
	LocalDegraded bool
	// StrategySource is "remote", "cache" or "config".
	StrategySource string
	// StrategyError is the last strategy fetch error; "" when it succeeded.
	StrategyError string
	// StrategyFetchedAt is when the strategy was last fetched; zero if never.
	StrategyFetchedAt time.Time
	// Listen is the API address, e.g. "http://127.0.0.1:8080/v1".
	Listen string
	// ConfigPath is the config file in use.
	ConfigPath string
	// FallbackAt is when a request last fell back to the other side
	// (zero: never); the routes it went from and to and the error describe it.
	FallbackAt   time.Time
	FallbackFrom string
	FallbackTo   string
	FallbackErr  string
	// ReloadError is why the last config reload was rejected; "" if it was not.
	ReloadError string
	// Notifications reports whether desktop notifications are on (config
	// "notifications"; it may change on reload).
	Notifications bool
	// Today is today's usage, for the line under the strategy's.
	Today Today
}

// Today sums today's routed requests (DESIGN §12). The core reads it from
// the usage store every few seconds, never per request.
type Today struct {
	// Off: usage.enabled is false. Error says why there are no records
	// (the database cannot be opened or written).
	Off   bool
	Error string
	// Notice is a mended problem (a corrupt database moved aside), shown
	// until there is something to count.
	Notice string
	// Requests is how many requests were routed today, Local how many of
	// them went to the local side.
	Requests, Local, Tokens int64
	// SavedUSD is the estimated price the local answers would have cost
	// remotely.
	SavedUSD float64
}

// Route is one routing decision.
type Route struct {
	Side     string // "local" or "remote"
	Provider string
	Model    string
	Reason   string
}

// route returns the live route's side and model; the side is State.Side
// when nothing can be routed.
func (s State) route() (side, model string) {
	if s.Route.Side == "" {
		return s.Side, ""
	}
	return s.Route.Side, s.Route.Model
}

// strategyFailing reports whether the strategy source is failing.
func (s State) strategyFailing() bool { return s.StrategyError != "" }

// chosenSideDown reports whether requests are meant for a side that is down.
func (s State) chosenSideDown() bool {
	side, _ := s.route()
	return (side == OverrideLocal || s.Side == OverrideLocal || s.Private) && !s.LocalUp
}
