package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/localrouter/localrouter/providers"
)

// encodeRequest returns the body for mr: the bytes marshal(mr) writes, in
// one buffer of the exact size. The messages, nearly all of a large
// request, are written by hand: through encoding/json every block was
// encoded into a buffer of its own, then compacted into a growing buffer,
// then copied once more, so that a 30 MiB request allocated over 100 MiB
// (issue 9). The other fields are few and small and keep encoding/json's
// rules by going through marshal.
func encodeRequest(mr *messagesRequest) ([]byte, error) {
	frame := *mr
	frame.Messages = nil
	head, err := marshal(&frame)
	if err != nil {
		return nil, err
	}
	// The first `"messages":null` is the field: model is a string, in which
	// quotes are escaped, and system holds only text blocks.
	i := bytes.Index(head, []byte(`"messages":null`))
	if i < 0 {
		return nil, errors.New("anthropic: encode request: no messages field")
	}
	i += len(`"messages":`)
	return providers.EncodeJSON(func(w *providers.JSONWriter) {
		w.RawBytes(head[:i])
		writeMessages(w, mr.Messages)
		w.RawBytes(head[i+len("null"):])
	})
}

func writeMessages(w *providers.JSONWriter, ms []message) {
	if ms == nil {
		w.Raw("null")
		return
	}
	w.Raw("[")
	for i := range ms {
		if i > 0 {
			w.Raw(",")
		}
		w.Raw(`{"role":`)
		w.String(ms[i].Role)
		w.Raw(`,"content":`)
		writeBlocks(w, ms[i].Content)
		w.Raw("}")
	}
	w.Raw("]")
}

// encodeBlocks returns marshal(bs), for tool_result content and system.
func encodeBlocks(bs []block) json.RawMessage {
	b, err := providers.EncodeJSON(func(w *providers.JSONWriter) { writeBlocks(w, bs) })
	if err != nil {
		return nil // as marshal's error was dropped: only a corrupt cached block can fail
	}
	return b
}

// encodeString returns marshal(s) at its exact size: tool results are
// large, and a growing buffer would copy them.
func encodeString(s string) json.RawMessage {
	b, _ := providers.EncodeJSON(func(w *providers.JSONWriter) { w.String(s) })
	return b
}

func writeBlocks(w *providers.JSONWriter, bs []block) {
	if bs == nil {
		w.Raw("null")
		return
	}
	w.Raw("[")
	for i := range bs {
		if i > 0 {
			w.Raw(",")
		}
		writeBlock(w, &bs[i])
	}
	w.Raw("]")
}

// writeBlock writes b as block.MarshalJSON does: raw as it came, else the
// fields in declaration order without the empty omitempty ones.
func writeBlock(w *providers.JSONWriter, b *block) {
	if b.raw != nil {
		w.Compact(b.raw)
		return
	}
	field := func(key, v string) {
		w.Raw(key)
		w.String(v)
	}
	field(`{"type":`, b.Type)
	if b.Text != nil {
		field(`,"text":`, *b.Text)
	}
	if s := b.Source; s != nil {
		field(`,"source":{"type":`, s.Type)
		if s.MediaType != "" {
			field(`,"media_type":`, s.MediaType)
		}
		if s.Data != "" {
			field(`,"data":`, s.Data)
		}
		if s.URL != "" {
			field(`,"url":`, s.URL)
		}
		w.Raw("}")
	}
	if b.ID != "" {
		field(`,"id":`, b.ID)
	}
	if b.Name != "" {
		field(`,"name":`, b.Name)
	}
	if len(b.Input) > 0 {
		w.Raw(`,"input":`)
		w.Compact(b.Input)
	}
	if b.ToolUseID != "" {
		field(`,"tool_use_id":`, b.ToolUseID)
	}
	if len(b.Content) > 0 {
		// encodeString or encodeBlocks wrote it, compact: compacting a
		// large tool result again would only cost time.
		w.Raw(`,"content":`)
		w.RawBytes(b.Content)
	}
	if b.IsError {
		w.Raw(`,"is_error":true`)
	}
	if b.Thinking != nil {
		field(`,"thinking":`, *b.Thinking)
	}
	if b.Signature != nil {
		field(`,"signature":`, *b.Signature)
	}
	if b.Data != "" {
		field(`,"data":`, b.Data)
	}
	w.Raw("}")
}
