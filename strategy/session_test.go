package strategy

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// convo is one conversation's requests, turn by turn, as a door gives them
// to the engine: the session key stays, the history grows, and a tool
// result is a tool turn.
type convo struct {
	id    string
	turns int
}

func (c *convo) next(tool bool) *Request {
	c.turns += 2
	return &Request{Model: "auto", Session: c.id, ToolTurn: tool, Turns: c.turns, Endpoint: "chat"}
}

var (
	toLocal  = &Strategy{Strategy: Local}
	toRemote = &Strategy{Strategy: Remote}
)

func decideOK(t *testing.T, e *Engine, r *Request, live Live) Decision {
	t.Helper()
	d, err := e.Decide(r, live)
	if err != nil {
		t.Fatalf("Decide: %v", err)
	}
	return d
}

func TestSessionsSticky(t *testing.T) {
	e, _ := NewEngine(engineTable())
	sessions := NewSessions(0, 0)
	live := Live{Strategy: toRemote, Sessions: sessions}
	a := &convo{id: "a"}
	if d := decideOK(t, e, a.next(false), live); d.Side != Remote {
		t.Fatalf("turn 1 went %s, want the strategy's remote", d)
	}
	live.Strategy = toLocal // the strategy flips
	for i, tool := range []bool{false, true, false, false} {
		d := decideOK(t, e, a.next(tool), live)
		if d.Side != Remote || d.Reason != "session" {
			t.Errorf("turn %d after the flip: %s, want the session's remote route with reason session", i+2, d)
		}
	}
	b := &convo{id: "b"}
	if d := decideOK(t, e, b.next(false), live); d.Side != Local || strings.Contains(d.Reason, "session") {
		t.Errorf("a new session after the flip: %s, want the strategy's local route", d)
	}
	if n := sessions.Len(); n != 2 {
		t.Errorf("%d sessions, want 2", n)
	}
}

func TestSessionsFollow(t *testing.T) {
	tbl := engineTable()
	tbl.Sessions = SessionsFollow
	e, _ := NewEngine(tbl)
	live := Live{Strategy: toRemote, Sessions: NewSessions(0, 0)}
	a := &convo{id: "a"}
	decideOK(t, e, a.next(false), live)
	live.Strategy = toLocal
	if d := decideOK(t, e, a.next(true), live); d.Side != Remote || d.Reason != "session, tool loop" {
		t.Errorf("a tool turn after the flip: %s, want it kept remote inside its tool loop", d)
	}
	d := decideOK(t, e, a.next(false), live)
	if d.Side != Local || !strings.HasSuffix(d.Reason, "session moved") {
		t.Errorf("the next user turn: %s, want the strategy's local route, session moved", d)
	}
	moved := a.turns
	if !d.Mixed() || !d.Foreign(moved-1) || d.Foreign(moved) {
		t.Errorf("after the move at entry %d: Mixed %v, Foreign(%d) %v, Foreign(%d) %v; want the history before it foreign",
			moved, d.Mixed(), moved-1, d.Foreign(moved-1), moved, d.Foreign(moved))
	}
	if d := decideOK(t, e, a.next(true), live); d.Side != Local || !d.Foreign(moved-1) || d.Foreign(moved+1) {
		t.Errorf("the turn after the move: %s, Foreign(%d) %v, Foreign(%d) %v", d, moved-1, d.Foreign(moved-1), moved+1, d.Foreign(moved+1))
	}
}

// TestSessionHistoryByProvider: after local and back, each provider's own
// turns are its own and the other's foreign, so Anthropic gets its own
// thinking signatures back and never a local model's.
func TestSessionHistoryByProvider(t *testing.T) {
	e, _ := NewEngine(engineTable())
	live := Live{Strategy: toRemote, Sessions: NewSessions(0, 0)}
	a := &convo{id: "a"}
	r := a.next(false)
	r.Opening = true
	if d := decideOK(t, e, r, live); d.Mixed() {
		t.Errorf("a first turn is not mixed: %s", d)
	}
	decideOK(t, e, a.next(false), live) // entries 0..3 remote's
	live.Override = Local
	decideOK(t, e, a.next(false), live) // from 6 local's
	decideOK(t, e, a.next(false), live)
	live.Override = Remote
	d := decideOK(t, e, a.next(false), live) // from 10 remote's again
	for i, want := range map[int]bool{1: false, 5: false, 6: true, 9: true, 10: false} {
		if got := d.Foreign(i); got != want {
			t.Errorf("entry %d foreign to %s: %v, want %v", i, d.Provider, got, want)
		}
	}
}

func TestSessionsOverrideMovesAll(t *testing.T) {
	e, _ := NewEngine(engineTable())
	live := Live{Strategy: toLocal, Sessions: NewSessions(0, 0)}
	var cs []*convo
	for i := range 5 {
		c := &convo{id: fmt.Sprint(i)}
		decideOK(t, e, c.next(false), live)
		cs = append(cs, c)
	}
	live.Override = Remote
	for _, c := range cs {
		if d := decideOK(t, e, c.next(true), live); d.Side != Remote {
			t.Errorf("session %s under Force remote: %s, want remote at once, even in a tool loop", c.id, d)
		}
	}
}

func TestSessionsLeaveAFailingLocalSide(t *testing.T) {
	e, _ := NewEngine(engineTable())
	live := Live{Strategy: toLocal, Sessions: NewSessions(0, 0)}
	a := &convo{id: "a"}
	decideOK(t, e, a.next(false), live)
	live.LocalDegraded = true
	if d := decideOK(t, e, a.next(true), live); d.Side != Remote {
		t.Errorf("a local session with the local side degraded: %s, want remote", d)
	}
	live.LocalDegraded = false
	if d := decideOK(t, e, a.next(false), live); d.Side != Remote || d.Reason != "session" {
		t.Errorf("after the back-off: %s, want the session to stay where it moved", d)
	}
}

func TestSessionsOutgrowTheLocalContext(t *testing.T) {
	tbl := engineTable()
	tbl.ContextGuard = true
	e, _ := NewEngine(tbl)
	live := Live{Strategy: toLocal, Sessions: NewSessions(0, 0)}
	a := &convo{id: "a"}
	decideOK(t, e, a.next(false), live)
	r := a.next(false)
	r.EstTokens = 40000 // ollama's context_window is 32768
	if d := decideOK(t, e, r, live); d.Side != Remote || !strings.Contains(d.Reason, "exceeds local context 32768") {
		t.Errorf("a local session grown past the context: %s, want remote, exceeds local context", d)
	}
}

func TestSessionFallbackMovesOnce(t *testing.T) {
	e, _ := NewEngine(engineTable())
	live := Live{Strategy: toLocal, Sessions: NewSessions(0, 0)}
	a := &convo{id: "a"}
	r := a.next(false)
	d := decideOK(t, e, r, live)
	alt, ok := e.Fallback(r, d, live)
	if !ok || alt.Side != Remote {
		t.Fatalf("fallback %v %s, want remote", ok, alt)
	}
	for range 2 {
		if d := decideOK(t, e, a.next(true), live); d.Side != Remote || d.Reason != "session" {
			t.Errorf("after the fallback: %s, want the session on the fallback's route", d)
		}
	}
}

func TestSessionsNamedRoutes(t *testing.T) {
	e, _ := NewEngine(engineTable())
	live := Live{Strategy: toRemote, Sessions: NewSessions(0, 0)}
	r := &Request{Model: "auto", Session: "a", Turns: 1}
	decideOK(t, e, r, live)
	// The same session asking by name for a model is served as asked.
	named := &Request{Model: "ollama/qwen3", Session: "a", Turns: 3}
	if d := decideOK(t, e, named, live); d.Side != Local {
		t.Errorf("a named model in a session: %s, want it as asked", d)
	}
	// Asking for a side keeps the session's route only on that side.
	live.Override = Remote
	decideOK(t, e, &Request{Model: "remote", Session: "b", Turns: 1}, live)
	live.Override = ""
	if d := decideOK(t, e, &Request{Model: "remote", Session: "b", Turns: 3}, live); d.Side != Remote {
		t.Errorf("model remote: %s, want remote", d)
	}
	if d := decideOK(t, e, &Request{Model: "local", Session: "b2", Turns: 1}, live); d.Side != Local {
		t.Errorf("model local: %s, want local", d)
	}
	// One session id, another model: another conversation.
	live.Strategy = toLocal
	if d := decideOK(t, e, &Request{Model: "claude-haiku", Session: "a", Turns: 1}, live); d.Side != Local {
		t.Errorf("another model under the same session id: %s, want it routed on its own", d)
	}
	// A request with no key is routed on its own.
	if d := decideOK(t, e, &Request{Model: "auto", Turns: 9}, live); d.Side != Local || strings.Contains(d.Reason, "session") {
		t.Errorf("no session key: %s, want the strategy's route", d)
	}
}

func TestSessionsOff(t *testing.T) {
	tbl := engineTable()
	tbl.Sessions = SessionsOff
	e, _ := NewEngine(tbl)
	sessions := NewSessions(0, 0)
	live := Live{Strategy: toRemote, Sessions: sessions}
	a := &convo{id: "a"}
	decideOK(t, e, a.next(false), live)
	live.Strategy = toLocal
	if d := decideOK(t, e, a.next(true), live); d.Side != Local {
		t.Errorf("sessions off: %s, want the strategy's route", d)
	}
	if n := sessions.Len(); n != 0 {
		t.Errorf("sessions off keeps %d sessions", n)
	}
}

func TestSessionsBoundAndTTL(t *testing.T) {
	s := NewSessions(3, time.Minute)
	now := time.Unix(1e9, 0)
	s.now = func() time.Time { return now }
	for i := range 5 {
		s.put(SessionKey{ID: fmt.Sprint(i)}, sessionRoute{side: Local}, now)
	}
	if n := s.Len(); n != 3 {
		t.Fatalf("%d sessions, want the bound 3", n)
	}
	if _, ok := s.get(SessionKey{ID: "0"}, now); ok {
		t.Error("the least recently used session is still there")
	}
	// Using 2 makes 3 the least recently used.
	s.get(SessionKey{ID: "2"}, now)
	s.put(SessionKey{ID: "5"}, sessionRoute{side: Local}, now)
	if _, ok := s.get(SessionKey{ID: "3"}, now); ok {
		t.Error("session 3, least recently used, survived a new one")
	}
	if _, ok := s.get(SessionKey{ID: "2"}, now); !ok {
		t.Error("session 2, just used, was dropped")
	}
	now = now.Add(2 * time.Minute)
	if _, ok := s.get(SessionKey{ID: "2"}, now); ok {
		t.Error("a session idle past the TTL is still running")
	}
	if n := s.Len(); n != 0 {
		t.Errorf("%d sessions after the TTL, want 0", n)
	}
	s.SetLimits(1, time.Hour)
	s.put(SessionKey{ID: "x"}, sessionRoute{}, now)
	s.put(SessionKey{ID: "y"}, sessionRoute{}, now)
	if n := s.Len(); n != 1 {
		t.Errorf("%d sessions after SetLimits(1), want 1", n)
	}
}

// TestSessionsRace: many goroutines over many sessions while the strategy
// flips; run with -race. The table never holds more than its bound, and a
// sticky session never leaves its route while only the strategy changes.
func TestSessionsRace(t *testing.T) {
	e, _ := NewEngine(engineTable())
	const max = 150
	sessions := NewSessions(max, time.Hour)
	var mu sync.RWMutex
	cur := toLocal
	flip := make(chan struct{})
	go func() {
		defer close(flip)
		for i := range 200 {
			mu.Lock()
			cur = map[bool]*Strategy{true: toLocal, false: toRemote}[i%2 == 0]
			mu.Unlock()
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan string, 1000)
	for g := range 1000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint(g % 200)
			for turn := range 5 {
				mu.RLock()
				live := Live{Strategy: cur, Sessions: sessions}
				mu.RUnlock()
				r := &Request{Model: "auto", Session: id, Turns: 2*turn + 1, ToolTurn: turn%2 == 1}
				if _, err := e.Decide(r, live); err != nil {
					errs <- err.Error()
					return
				}
				if n := sessions.Len(); n > max {
					errs <- fmt.Sprintf("%d sessions, over the bound %d", n, max)
					return
				}
			}
		}()
	}
	wg.Wait()
	<-flip
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestStickyRouteSurvivesFlips(t *testing.T) {
	e, _ := NewEngine(engineTable())
	sessions := NewSessions(0, 0)
	var wg sync.WaitGroup
	for g := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprint(g)
			first := decideOK(t, e, &Request{Model: "auto", Session: id, Turns: 1}, Live{Strategy: []*Strategy{toLocal, toRemote}[g%2], Sessions: sessions})
			for turn := range 4 {
				live := Live{Strategy: []*Strategy{toLocal, toRemote}[turn%2], Sessions: sessions}
				if d := decideOK(t, e, &Request{Model: "auto", Session: id, Turns: 3 + 2*turn}, live); d.Side != first.Side {
					t.Errorf("session %s moved from %s to %s on a strategy flip", id, first.Side, d.Side)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkSessionLookup: the table's cost per request of a running
// session, on top of the decision itself.
func BenchmarkSessionLookup(b *testing.B) {
	e, _ := NewEngine(engineTable())
	sessions := NewSessions(0, 0)
	live := Live{Strategy: toLocal, Sessions: sessions}
	for i := range 10000 {
		e.Decide(&Request{Model: "auto", Session: fmt.Sprint(i), Turns: 1}, live)
	}
	r := &Request{Model: "auto", Session: "42", Turns: 3}
	b.ReportAllocs()
	for b.Loop() {
		e.Decide(r, live)
	}
}
