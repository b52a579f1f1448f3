package proxy

import (
	"container/list"
	"sync"
)

// responseStore keeps the conversations of recent Responses answers, so a
// request naming one in previous_response_id continues it (DESIGN §9). It is
// in memory and bounded: the oldest conversations go first once it holds
// maxEntries of them or maxBytes in all. A chain of turns stores each turn's
// whole history, so long chains age out sooner; the client is told plainly
// (400) when an id is gone, and Codex, which sends store: false and its
// whole history each turn, never depends on it.
type responseStore struct {
	mu         sync.Mutex // guards the fields below
	byID       map[string]*list.Element
	order      *list.List // of *storedResponse, newest at the front
	bytes      int
	maxEntries int
	maxBytes   int
}

// storedResponse is one response's conversation: the input items it
// answered, previous turns included, then its output items, as one JSON
// array of Responses items.
type storedResponse struct {
	id    string
	items []byte
}

func newResponseStore(maxEntries, maxBytes int) *responseStore {
	return &responseStore{byID: map[string]*list.Element{}, order: list.New(), maxEntries: maxEntries, maxBytes: maxBytes}
}

// The default bounds: a few hundred agent turns of ordinary size.
const (
	storeMaxEntries = 1024
	storeMaxBytes   = 64 << 20
)

func (s *responseStore) put(id string, items []byte) {
	if len(items) > s.maxBytes {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.byID[id]; ok {
		s.bytes -= len(e.Value.(*storedResponse).items)
		s.order.Remove(e)
	}
	s.byID[id] = s.order.PushFront(&storedResponse{id: id, items: items})
	s.bytes += len(items)
	for s.order.Len() > s.maxEntries || s.bytes > s.maxBytes {
		e := s.order.Back()
		r := e.Value.(*storedResponse)
		s.order.Remove(e)
		delete(s.byID, r.id)
		s.bytes -= len(r.items)
	}
}

// get returns the conversation of response id; the slice is shared and must
// not be changed.
func (s *responseStore) get(id string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.byID[id]
	if !ok {
		return nil, false
	}
	s.order.MoveToFront(e)
	return e.Value.(*storedResponse).items, true
}
