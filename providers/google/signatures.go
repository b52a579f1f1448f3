package google

import "sync"

// sigCache remembers the thought signatures of the function calls Gemini
// made, by the tool call id LocalRouter gave them. OpenAI-shaped clients
// drop unknown fields, so without it the next turn of a tool loop would come
// back unsigned and Gemini 3 would refuse it ("Function call is missing a
// thought_signature"). It holds at most max entries and forgets the oldest
// first. A nil *sigCache remembers nothing. Safe for concurrent use.
type sigCache struct {
	max int

	mu   sync.Mutex // guards the fields below
	m    map[string]string
	ring []string // ids in insertion order, used as a circular buffer
	next int      // where the next id goes in ring
}

// defaultSigCacheSize bounds the cache: a few thousand tool calls cover many
// concurrent agent loops, at a few hundred bytes each.
const defaultSigCacheSize = 4096

// sharedSigs is the cache every Client uses, so that a config reload, which
// builds new clients, does not forget the signatures of a tool loop in flight.
var sharedSigs = newSigCache(defaultSigCacheSize)

func newSigCache(max int) *sigCache {
	return &sigCache{max: max, m: make(map[string]string, max), ring: make([]string, 0, max)}
}

func (c *sigCache) put(id, sig string) {
	if c == nil || id == "" || sig == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[id]; ok {
		c.m[id] = sig
		return
	}
	if len(c.ring) < c.max {
		c.ring = append(c.ring, id)
	} else {
		delete(c.m, c.ring[c.next])
		c.ring[c.next] = id
		c.next = (c.next + 1) % c.max
	}
	c.m[id] = sig
}

func (c *sigCache) get(id string) string {
	if c == nil || id == "" {
		return ""
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

func (c *sigCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
