package strategy

import (
	"sync"
	"time"
)

// Sessions (DESIGN §10) keep a conversation on the route it began on, so
// that its prompt cache stays warm and its thinking signatures meet the
// model that wrote them. The doors find the key, each in its own protocol;
// the engine deals in keys and routes.

// Session modes (routing.sessions).
const (
	// SessionsSticky: a strategy flip or a rule change applies to new
	// sessions; a running one keeps its route until it ends.
	SessionsSticky = "sticky"
	// SessionsFollow: a running session moves at its next user turn,
	// never inside a tool loop.
	SessionsFollow = "follow"
	// SessionsOff: every request is routed on its own.
	SessionsOff = "off"
)

// The table's defaults (routing.session_max, routing.session_ttl).
const (
	DefaultSessionMax = 10000
	DefaultSessionTTL = time.Hour
)

// SessionKey names one conversation: the client's own session id, else
// the hash of its stable prefix, for one requested model, door and client.
// The model is in the key because one agent session asks for several
// (Claude Code sends its small tasks to the haiku tier under the same
// session id), each its own conversation with its own route; the door and
// the client because two tools that open with the same words are two
// conversations.
type SessionKey struct {
	ID       string
	Prefix   uint64
	Model    string
	Endpoint string
	Client   string
}

// sessionKey is r's session key; false when sessions are off or r names
// no session.
func (e *Engine) sessionKey(r *Request, live Live) (SessionKey, bool) {
	k := SessionKey{ID: r.Session, Prefix: r.Prefix, Model: r.Model, Endpoint: r.Endpoint, Client: r.Client}
	return k, e.t.Sessions != SessionsOff && live.Sessions != nil && (k.ID != "" || k.Prefix != 0)
}

// sessionRoute is where a session goes, and who answered its history.
type sessionRoute struct {
	side            Side
	provider, model string
	stints          *[]Stint // never changed once stored: a Decision shares it
}

// Stint is a stretch of a session's history one provider answered: the
// entries from From on, up to the next stint's From.
type Stint struct {
	Provider string
	From     int
}

// maxStints bounds what a session remembers of its moves; older stints
// merge into one of an unknown provider, foreign to every provider.
const maxStints = 8

// moved returns r's stints with a new one for provider from entry from.
func (e *Engine) moved(r sessionRoute, provider string, from int) *[]Stint {
	if r.stints == nil {
		// A new session; or one first seen mid-conversation (after a
		// restart), whose history is taken to be its provider's, as it
		// most likely is and as before sessions were kept.
		if w := e.whole[provider]; w != nil {
			return w
		}
		return &[]Stint{{Provider: provider}}
	}
	old := *r.stints
	if old[len(old)-1].Provider == provider {
		return r.stints
	}
	s := make([]Stint, 0, len(old)+1)
	s = append(append(s, old...), Stint{Provider: provider, From: from})
	if len(s) > maxStints {
		s = s[len(s)-maxStints:]
		s[0] = Stint{}
	}
	return &s
}

func (r sessionRoute) is(d Decision) bool {
	return r.side == d.Side && r.provider == d.Provider && r.model == d.Model
}

// Sessions is the bounded table of running sessions: least recently used
// dropped beyond max, idle ones ended after ttl. It outlives an Engine: a
// reload keeps the sessions. Safe for concurrent use.
type Sessions struct {
	mu   sync.Mutex
	max  int
	ttl  time.Duration
	m    map[SessionKey]*session
	head session // head.next is the most recently used, head.prev the least
	now  func() time.Time
}

type session struct {
	key        SessionKey
	route      sessionRoute
	used       time.Time
	prev, next *session
}

// NewSessions returns an empty table of at most max sessions, each ended
// after ttl idle; zero values take the defaults.
func NewSessions(max int, ttl time.Duration) *Sessions {
	s := &Sessions{m: map[SessionKey]*session{}, now: time.Now}
	s.head.prev, s.head.next = &s.head, &s.head
	s.SetLimits(max, ttl)
	return s
}

// SetLimits changes the bounds, as a reload does; sessions beyond a
// smaller max are dropped now.
func (s *Sessions) SetLimits(max int, ttl time.Duration) {
	if max <= 0 {
		max = DefaultSessionMax
	}
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	s.mu.Lock()
	s.max, s.ttl = max, ttl
	s.trim(s.now())
	s.mu.Unlock()
}

// Len is the number of running sessions.
func (s *Sessions) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.trim(s.now())
	return len(s.m)
}

// get returns k's route and marks it used; false when there is none or it
// ended.
func (s *Sessions) get(k SessionKey, now time.Time) (sessionRoute, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.m[k]
	if e == nil || now.Sub(e.used) > s.ttl {
		return sessionRoute{}, false
	}
	e.used = now
	s.unlink(e)
	s.pushFront(e)
	return e.route, true
}

// put sets k's route.
func (s *Sessions) put(k SessionKey, r sessionRoute, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.m[k]; e != nil {
		e.route, e.used = r, now
		s.unlink(e)
		s.pushFront(e)
		return
	}
	e := &session{key: k, route: r, used: now}
	s.m[k] = e
	s.pushFront(e)
	s.trim(now)
}

// trim drops the sessions idle past the TTL and those beyond max, least
// recently used first; both are at the list's tail.
func (s *Sessions) trim(now time.Time) {
	for t := s.head.prev; t != &s.head && (len(s.m) > s.max || now.Sub(t.used) > s.ttl); t = s.head.prev {
		s.unlink(t)
		delete(s.m, t.key)
	}
}

func (s *Sessions) unlink(e *session) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
}

func (s *Sessions) pushFront(e *session) {
	e.prev, e.next = &s.head, s.head.next
	s.head.next.prev = e
	s.head.next = e
}

// hold says how far a fresh decision lets a running session keep its own
// route.
type hold uint8

const (
	holdNone     hold = iota // named, forced, private: the decision wins
	holdSameSide             // the client asked for a side: the session keeps its route on that side
	holdAny                  // the strategy, a rule, the default: the session keeps its route
)

// session applies r's session to fresh, the decision r gets on its own.
func (e *Engine) session(r *Request, live Live, fresh Decision) Decision {
	k, ok := e.sessionKey(r, live)
	if !ok {
		return fresh
	}
	now := live.Sessions.now()
	prev, ok := live.Sessions.get(k, now)
	if !ok || r.Session == "" && r.Opening {
		prev, ok = sessionRoute{}, false
	} else if prev.is(fresh) {
		fresh.history = prev.stints
		return fresh
	} else if d, ok := e.keep(r, live, fresh, prev); ok {
		d.history = prev.stints
		return d
	}
	if ok {
		fresh.Reason += ", session moved"
	}
	next := sessionRoute{side: fresh.Side, provider: fresh.Provider, model: fresh.Model, stints: e.moved(prev, fresh.Provider, r.Turns)}
	live.Sessions.put(k, next, now)
	fresh.history = next.stints
	return fresh
}

// keep returns the session's own route for r when it may keep it.
func (e *Engine) keep(r *Request, live Live, fresh Decision, prev sessionRoute) (Decision, bool) {
	switch {
	case fresh.hold == holdNone || live.Override != "":
		return Decision{}, false
	case fresh.hold == holdSameSide && fresh.Side != prev.side:
		return Decision{}, false
	case e.t.Sessions == SessionsFollow && !r.ToolTurn:
		return Decision{}, false
	}
	p := e.byName[prev.provider]
	if p == nil || p.side() != prev.side {
		return Decision{}, false // the provider left the config
	}
	if prev.side == Local && (live.LocalDown || live.LocalDegraded) && e.t.Fallback {
		return Decision{}, false
	}
	d := Decision{Side: prev.side, Provider: prev.provider, Model: prev.model, Reason: "session"}
	if e.t.Sessions == SessionsFollow {
		d.Reason = "session, tool loop"
	}
	if g := e.guard(r, d, r.Model, live); !prev.is(g) {
		// The conversation outgrew the local model: it moves remote, as a
		// new one would.
		return Decision{}, false
	}
	return d, true
}

// moveSession records that r's session, which d routed, went where alt
// took it: a fallback moves the session with it, once. It returns alt's
// history.
func (e *Engine) moveSession(r *Request, live Live, d, alt Decision) *[]Stint {
	k, ok := e.sessionKey(r, live)
	if !ok {
		return nil
	}
	prev := sessionRoute{stints: d.history}
	if r.Opening {
		prev.stints = nil // a first turn's history is the client's own
	}
	next := sessionRoute{side: alt.Side, provider: alt.Provider, model: alt.Model, stints: e.moved(prev, alt.Provider, r.Turns)}
	live.Sessions.put(k, next, live.Sessions.now())
	return next.stints
}

// Foreign reports whether entry i of the request's history was answered
// by another provider than d's (DESIGN §10): what only that provider can
// read (thinking signatures, encrypted reasoning) must not reach d's. An
// entry of unknown authorship is foreign.
func (d Decision) Foreign(i int) bool {
	if d.history == nil {
		return false
	}
	h := *d.history
	for j := len(h) - 1; j >= 0; j-- {
		if h[j].From <= i {
			return h[j].Provider != d.Provider
		}
	}
	return false
}

// Mixed reports whether any of the history was answered elsewhere.
func (d Decision) Mixed() bool {
	if d.history == nil {
		return false
	}
	for _, s := range *d.history {
		if s.Provider != d.Provider {
			return true
		}
	}
	return false
}
