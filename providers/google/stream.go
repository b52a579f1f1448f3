package google

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/localrouter/localrouter/providers"
)

// streamState turns the events of streamGenerateContent?alt=sse into Chat
// Completions chunks. Each event is a whole GenerateContentResponse; it does
// no I/O, so it is tested by feeding it events.
type streamState struct {
	id, model    string
	created      int64
	includeUsage bool
	sigs         *sigCache

	cands []candState // by candidate index
	usage *usageMetadata
	done  bool // a finishReason has been seen

	noFast   bool // tests: always use the general decoder
	fast     fastScanner
	fev      fastEvent
	usageVal usageMetadata // usage's storage when the fast path found it
}

// candState is what the stream remembers per candidate.
type candState struct {
	started  bool   // the role has been sent
	finished bool   // the finish chunk has been sent
	calls    int    // tool calls so far: the next call's index
	lastSig  string // the latest thought signature seen in this candidate
}

// maxCandidates bounds the candidate index a stream may use (Gemini allows
// candidateCount up to 8).
const maxCandidates = 64

var errNoFinish = errors.New("stream ended before finishReason")

func newStreamState(id, model string, created int64, includeUsage bool, sigs *sigCache) *streamState {
	return &streamState{id: id, model: model, created: created, includeUsage: includeUsage, sigs: sigs}
}

// event translates one event's data and appends the chunks to out.
func (s *streamState) event(data []byte, out []*providers.ChatCompletionStreamResponse) ([]*providers.ChatCompletionStreamResponse, error) {
	if !s.noFast && s.fast.fastText(data, &s.fev) {
		if s.fev.hasUsage {
			s.usageVal = s.fev.usage
			s.usage = &s.usageVal
		}
		if len(s.fev.text) > 0 {
			if len(s.cands) == 0 {
				s.cands = append(s.cands, candState{})
			}
			out = append(out, s.textChunk(&s.cands[0], s.fev.text))
		}
		return out, nil
	}
	var ev generateResponse
	if err := json.Unmarshal(data, &ev); err != nil {
		return out, fmt.Errorf("decode stream event: %w", err)
	}
	if ev.Error != nil {
		b, _ := json.Marshal(errorBody{Error: ev.Error})
		e := mapError(0, b)
		e.Stage = providers.StageStream
		return out, e
	}
	if ev.UsageMetadata != nil {
		s.usage = ev.UsageMetadata
	}
	for i := range ev.Candidates {
		c := &ev.Candidates[i]
		if c.Index < 0 || c.Index >= maxCandidates {
			return out, fmt.Errorf("stream event has candidate index %d", c.Index)
		}
		for len(s.cands) <= c.Index {
			s.cands = append(s.cands, candState{})
		}
		out = s.candidate(c, &s.cands[c.Index], out)
	}
	if len(ev.Candidates) == 0 && ev.PromptFeedback != nil && ev.PromptFeedback.BlockReason != "" {
		if len(s.cands) == 0 {
			s.cands = append(s.cands, candState{})
		}
		if cs := &s.cands[0]; !cs.finished {
			out = append(out, s.finishChunk(0, cs, "content_filter"))
		}
	}
	return out, nil
}

func (s *streamState) candidate(c *candidate, cs *candState, out []*providers.ChatCompletionStreamResponse) []*providers.ChatCompletionStreamResponse {
	var delta providers.Delta
	var text, thought strings.Builder
	hasText, hasThought := false, false
	if c.Content != nil {
		for _, p := range c.Content.Parts {
			if p.ThoughtSignature != "" {
				cs.lastSig = p.ThoughtSignature
			}
			switch {
			case p.FunctionCall != nil:
				idx := cs.calls
				cs.calls++
				args := argsString(p.FunctionCall.Args)
				id := toolCallID(p.FunctionCall.Name, args, idx, cs.lastSig)
				if p.ThoughtSignature != "" {
					s.sigs.put(id, p.ThoughtSignature)
				}
				delta.ToolCalls = append(delta.ToolCalls, providers.ToolCall{
					Index: &idx, ID: id, Type: "function",
					Function: providers.FunctionCall{Name: p.FunctionCall.Name, Arguments: args},
				})
			case p.Thought:
				thought.WriteString(p.Text)
				hasThought = hasThought || p.Text != ""
			default:
				text.WriteString(p.Text)
				hasText = hasText || p.Text != ""
			}
		}
	}
	if hasText {
		t := text.String()
		delta.Content = &t
	}
	if hasThought {
		t := thought.String()
		delta.ReasoningContent = &t
	}
	if hasText || hasThought || len(delta.ToolCalls) > 0 {
		out = append(out, s.chunk(c.Index, cs, delta, nil))
	}
	if c.FinishReason != "" && !cs.finished {
		out = append(out, s.finishChunk(c.Index, cs, finishReason(c.FinishReason, cs.calls > 0)))
	}
	return out
}

func (s *streamState) chunk(index int, cs *candState, d providers.Delta, finish *string) *providers.ChatCompletionStreamResponse {
	if !cs.started {
		cs.started = true
		d.Role = "assistant"
	}
	return &providers.ChatCompletionStreamResponse{
		ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
		Choices: []providers.StreamChoice{{Index: index, Delta: d, FinishReason: finish}},
	}
}

// textChunk is a text delta of candidate 0 in one allocation (plus the
// text's): the chunk, its only choice and the content string together.
func (s *streamState) textChunk(cs *candState, text []byte) *providers.ChatCompletionStreamResponse {
	box := &struct {
		chunk  providers.ChatCompletionStreamResponse
		choice [1]providers.StreamChoice
		text   string
	}{text: string(text)}
	box.choice[0].Delta.Content = &box.text
	if !cs.started {
		cs.started = true
		box.choice[0].Delta.Role = "assistant"
	}
	box.chunk = providers.ChatCompletionStreamResponse{
		ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model, Choices: box.choice[:],
	}
	return &box.chunk
}

func (s *streamState) finishChunk(index int, cs *candState, reason string) *providers.ChatCompletionStreamResponse {
	cs.finished = true
	s.done = true
	return s.chunk(index, cs, providers.Delta{}, &reason)
}

// end is called when the upstream closed the stream. It appends the usage
// chunk the client asked for, or fails when no candidate finished.
func (s *streamState) end(out []*providers.ChatCompletionStreamResponse) ([]*providers.ChatCompletionStreamResponse, error) {
	if !s.done {
		return out, errNoFinish
	}
	if s.includeUsage && s.usage != nil {
		out = append(out, &providers.ChatCompletionStreamResponse{
			ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
			Choices: []providers.StreamChoice{}, Usage: toUsage(s.usage),
		})
	}
	return out, nil
}
