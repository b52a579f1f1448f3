package anthropic

import (
	"encoding/json"
	"sync"
)

// signatureCache remembers, per tool call id, the thinking blocks of the
// assistant turn that made the call, so they can go back byte-exact with the
// tool results: OpenAI-shaped clients keep tool calls but drop thinking
// blocks and their signatures, and the API needs them in a tool loop with
// thinking on. It is bounded; the oldest turn is forgotten first.
type signatureCache struct {
	max int

	mu    sync.Mutex // guards byID and order
	byID  map[string][]json.RawMessage
	order []string // ids in insertion order, oldest first (a ring once full)
	next  int      // where the next id goes in order once full
}

func newSignatureCache(max int) *signatureCache {
	return &signatureCache{max: max, byID: make(map[string][]json.RawMessage, max)}
}

// signatures is shared by every Client: tool call ids are unique, and a
// config reload that rebuilds the clients must not forget a running loop.
var signatures = newSignatureCache(4096)

// put records blocks under each of the turn's tool call ids.
func (c *signatureCache) put(ids []string, blocks []json.RawMessage) {
	if len(ids) == 0 || len(blocks) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		if _, ok := c.byID[id]; ok {
			c.byID[id] = blocks
			continue
		}
		if len(c.order) < c.max {
			c.order = append(c.order, id)
		} else {
			delete(c.byID, c.order[c.next])
			c.order[c.next] = id
			c.next = (c.next + 1) % c.max
		}
		c.byID[id] = blocks
	}
}

// get returns the blocks recorded for a tool call id, or nil.
func (c *signatureCache) get(id string) []json.RawMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.byID[id]
}
