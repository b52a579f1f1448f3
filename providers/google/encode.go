package google

import (
	"bytes"
	"encoding/json"
	"errors"

	"github.com/localrouter/localrouter/providers"
)

// encodeRequest returns the body for g, in one buffer of the exact size:
// what encoding/json writes for it, except that <, > and & are not
// escaped (they need not be in JSON, and the Anthropic body does not
// escape them either). The contents and the system instruction, nearly all
// of a large request, are written by hand: json.Marshal grew its buffer by
// doubling, copied it once more, and compacted every raw value on the way,
// so that a 30 MiB request allocated several times that (issue 9). The
// other fields are few and small and keep encoding/json's rules.
func encodeRequest(g *generateRequest) ([]byte, error) {
	frame := *g
	frame.Contents, frame.SystemInstruction = nil, nil
	head, err := marshalNoHTML(&frame)
	if err != nil {
		return nil, err
	}
	// contents is the first field, and systemInstruction the second.
	const lead = `{"contents":null`
	if !bytes.HasPrefix(head, []byte(lead)) {
		return nil, errors.New("google: encode request: contents is not the first field")
	}
	return providers.EncodeJSON(func(w *providers.JSONWriter) {
		w.Raw(`{"contents":`)
		writeContents(w, g.Contents)
		if g.SystemInstruction != nil {
			w.Raw(`,"systemInstruction":`)
			writeContent(w, g.SystemInstruction)
		}
		w.RawBytes(head[len(lead):])
	})
}

// marshalNoHTML is json.Marshal without HTML escaping.
func marshalNoHTML(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func writeContents(w *providers.JSONWriter, cs []content) {
	if cs == nil {
		w.Raw("null")
		return
	}
	w.Raw("[")
	for i := range cs {
		if i > 0 {
			w.Raw(",")
		}
		writeContent(w, &cs[i])
	}
	w.Raw("]")
}

func writeContent(w *providers.JSONWriter, c *content) {
	w.Raw("{")
	if c.Role != "" {
		w.Raw(`"role":`)
		w.String(c.Role)
		w.Raw(",")
	}
	w.Raw(`"parts":`)
	if c.Parts == nil {
		w.Raw("null}")
		return
	}
	w.Raw("[")
	for i := range c.Parts {
		if i > 0 {
			w.Raw(",")
		}
		writePart(w, &c.Parts[i])
	}
	w.Raw("]}")
}

// writePart writes p's fields in declaration order without the empty
// omitempty ones, as encoding/json does.
func writePart(w *providers.JSONWriter, p *part) {
	sep := "{"
	key := func(k string) {
		w.Raw(sep)
		w.Raw(k)
		sep = ","
	}
	if p.Text != "" {
		key(`"text":`)
		w.String(p.Text)
	}
	if p.Thought {
		key(`"thought":true`)
	}
	if p.ThoughtSignature != "" {
		key(`"thoughtSignature":`)
		w.String(p.ThoughtSignature)
	}
	if b := p.InlineData; b != nil {
		key(`"inlineData":{"mimeType":`)
		w.String(b.MimeType)
		w.Raw(`,"data":`)
		w.String(b.Data)
		w.Raw("}")
	}
	if f := p.FileData; f != nil {
		key(`"fileData":{`)
		if f.MimeType != "" {
			w.Raw(`"mimeType":`)
			w.String(f.MimeType)
			w.Raw(",")
		}
		w.Raw(`"fileUri":`)
		w.String(f.FileURI)
		w.Raw("}")
	}
	if fc := p.FunctionCall; fc != nil {
		key(`"functionCall":{`)
		if fc.ID != "" {
			w.Raw(`"id":`)
			w.String(fc.ID)
			w.Raw(",")
		}
		w.Raw(`"name":`)
		w.String(fc.Name)
		// Args and Response come compact from argsObject and
		// responseObject: compacting a large tool result again would
		// only cost time.
		if len(fc.Args) > 0 {
			w.Raw(`,"args":`)
			w.RawBytes(fc.Args)
		}
		w.Raw("}")
	}
	if fr := p.FunctionResponse; fr != nil {
		key(`"functionResponse":{"name":`)
		w.String(fr.Name)
		w.Raw(`,"response":`)
		if fr.Response == nil {
			w.Raw("null")
		} else {
			w.RawBytes(fr.Response)
		}
		w.Raw("}")
	}
	if sep == "{" {
		w.Raw("{")
	}
	w.Raw("}")
}
