package providers

import (
	"encoding/json"
	"hash/maphash"
)

// prefixSeed is the process's seed for session prefixes: sessions live in
// memory only, so a prefix never has to match across restarts.
var prefixSeed = maphash.MakeSeed()

// prefix hashes a conversation's stable start while the scan passes it
// (DESIGN §10): the text of the system prompt and of the messages up to
// and including the first user message, and the tools' names. Only text
// counts, not the blocks around it: clients move cache_control markers to
// the newest message on every turn, and the key must not move with them.
// Hashing as the scan goes copies nothing.
type prefix struct {
	all, msg maphash.Hash
	seeded   bool
	on       bool // the current message's text is being hashed
	done     bool // the first user message is in
	answered bool // the history holds a model's turn: the conversation is under way
}

func (p *prefix) seed() {
	if !p.seeded {
		p.all.SetSeed(prefixSeed)
		p.msg.SetSeed(prefixSeed)
		p.seeded = true
	}
}

// begin starts a message; its text is hashed until end says what it was.
func (p *prefix) begin() {
	if p.done {
		return
	}
	p.seed()
	p.msg.Reset()
	p.on = true
}

// text hashes raw text of the current message, as sent.
func (p *prefix) text(raw []byte) {
	if p.on {
		p.msg.Write(raw)
	}
}

// end closes a message: a system prompt or the first user message joins
// the prefix; anything before them (an assistant greeting) does not.
func (p *prefix) end(r role) {
	if r == roleAssistant || r == roleTool {
		p.answered = true
	}
	if !p.on {
		return
	}
	p.on = false
	if r != roleSystem && r != roleUser {
		return
	}
	var b [9]byte
	b[0] = byte(r)
	sum := p.msg.Sum64()
	for i := range 8 {
		b[i+1] = byte(sum >> (8 * i))
	}
	p.all.Write(b[:])
	p.done = r == roleUser
}

// name hashes a tool's name.
func (p *prefix) name(raw []byte) {
	p.seed()
	p.all.Write(raw)
	p.all.WriteByte(0)
}

// sum is the prefix's hash, 0 until a user message was seen: without one
// there is no conversation to key.
func (p *prefix) sum() uint64 {
	if !p.done {
		return 0
	}
	if h := p.all.Sum64(); h != 0 {
		return h
	}
	return 1
}

// role is a message's role, as far as sessions care.
type role byte

const (
	roleOther role = iota
	roleSystem
	roleUser
	roleTool
	roleAssistant // or any model's item: a tool call, reasoning
)

// role scans a role value without allocating for the usual unescaped one.
func (s *scanner) role() (role, error) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return roleOther, s.value()
	}
	start := s.i
	esc, err := s.str()
	if err != nil {
		return roleOther, err
	}
	raw := s.b[start+1 : s.i-1]
	if esc {
		var v string
		json.Unmarshal(s.b[start:s.i], &v)
		raw = []byte(v)
	}
	switch string(raw) {
	case "system", "developer":
		return roleSystem, nil
	case "user":
		return roleUser, nil
	case "tool":
		return roleTool, nil
	case "assistant", "model":
		return roleAssistant, nil
	}
	return roleOther, nil
}

// Prefix builds a session prefix from parts a door decoded itself
// (Ollama's /api/chat), by the same rule as the shared scanner.
type Prefix struct{ p prefix }

// Message adds one message, in order: its role as sent and its text as
// raw JSON. Only system prompts and the first user message count.
func (x *Prefix) Message(roleName string, raw []byte) {
	r := roleOther
	switch roleName {
	case "system", "developer":
		r = roleSystem
	case "user":
		r = roleUser
	case "assistant", "tool":
		r = roleAssistant
	}
	x.p.begin()
	x.p.text(raw)
	x.p.end(r)
}

// Tool adds a tool's name, as raw JSON.
func (x *Prefix) Tool(raw []byte) { x.p.name(raw) }

// Sum is the prefix, 0 without a user message.
func (x *Prefix) Sum() uint64 { return x.p.sum() }

// Opening reports a conversation's first turn: no model has answered yet.
func (x *Prefix) Opening() bool { return !x.p.answered }

// TextHash hashes raw text for Prefix.Message without keeping it.
func TextHash(raw []byte) uint64 { return maphash.Bytes(prefixSeed, raw) }
