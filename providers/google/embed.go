package google

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/localrouter/localrouter/providers"
)

// OpenAI embeddings requests are translated to Gemini's batchEmbedContents
// (https://ai.google.dev/api/embeddings#method:-models.batchembedcontents)
// and the answer back to OpenAI's list of embeddings, so RAG tools and
// editors that embed over /v1/embeddings (or Ollama's /api/embed, bridged
// through it) can use a Gemini embedding model.

// Speaks reports whether the client takes p as is: OpenAI embeddings,
// translated on the way. Chat goes through ChatCompletion.
func (c *Client) Speaks(p providers.Protocol) bool { return p == providers.ProtocolEmbeddings }

// Forward sends an OpenAI embeddings request to Gemini and answers in
// OpenAI's form. Embeddings never stream.
func (c *Client) Forward(ctx context.Context, req providers.NativeRequest, out providers.Sink[[]byte]) (*providers.NativeResponse, error) {
	if req.Protocol != providers.ProtocolEmbeddings {
		return nil, fmt.Errorf("%s: does not serve the %s protocol natively", c.up.Name(), req.Protocol)
	}
	if out != nil {
		return nil, fmt.Errorf("%s: embeddings do not stream", c.up.Name())
	}
	er, err := parseEmbeddingsRequest(req.Body)
	if err != nil {
		return nil, err
	}
	model := strings.TrimPrefix(er.model, "models/")
	endpoint := c.base + url.PathEscape(model) + ":batchEmbedContents"
	vectors := make([]json.RawMessage, 0, len(er.inputs))
	tokens, counted := 0, true
	for start := 0; start < len(er.inputs); start += maxBatch {
		batch := er.inputs[start:min(start+maxBatch, len(er.inputs))]
		body, err := encodeBatch(model, batch, er.dimensions)
		if err != nil {
			return nil, fmt.Errorf("%s: encode request: %w", c.up.Name(), err)
		}
		got, n, err := c.embedBatch(ctx, endpoint, body, len(batch))
		if err != nil {
			return nil, err
		}
		vectors = append(vectors, got...)
		tokens += n
		counted = counted && n > 0
	}
	if !counted {
		tokens = estimateTokens(er.inputs)
	}
	body, err := encodeEmbeddings(vectors, er.model, tokens, er.base64)
	if err != nil {
		return nil, &providers.Error{Provider: c.up.Name(), Stage: providers.StageStream, Status: http.StatusBadGateway, Message: err.Error()}
	}
	return &providers.NativeResponse{Status: http.StatusOK, ContentType: "application/json", Body: body,
		Usage: &providers.Usage{PromptTokens: tokens, TotalTokens: tokens}}, nil
}

// maxBatch is the most requests one batchEmbedContents call takes; a
// longer input list (OpenAI takes 2048) goes in several calls.
const maxBatch = 100

// embeddingsRequest is what the translation reads of an OpenAI embeddings
// request; the other fields (user, …) are dropped.
type embeddingsRequest struct {
	model      string
	inputs     []string
	dimensions *int
	base64     bool
}

func parseEmbeddingsRequest(body []byte) (*embeddingsRequest, error) {
	var in struct {
		Model          string          `json:"model"`
		Input          json.RawMessage `json:"input"`
		Dimensions     *int            `json:"dimensions"`
		EncodingFormat string          `json:"encoding_format"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, providers.DecodeError("embeddings", "", err)
	}
	r := &embeddingsRequest{model: in.Model, dimensions: in.Dimensions}
	switch in.EncodingFormat {
	case "", "float":
	case "base64":
		r.base64 = true
	default:
		return nil, &providers.RequestError{Param: "encoding_format", Msg: `embeddings: encoding_format must be "float" or "base64"`}
	}
	var one string
	switch raw := bytes.TrimSpace(in.Input); {
	case len(raw) == 0 || string(raw) == "null":
		return nil, &providers.RequestError{Param: "input", Msg: "embeddings: input is required"}
	case json.Unmarshal(raw, &one) == nil:
		r.inputs = []string{one}
	case json.Unmarshal(raw, &r.inputs) == nil:
		if len(r.inputs) == 0 {
			return nil, &providers.RequestError{Param: "input", Msg: "embeddings: input must not be empty"}
		}
	default:
		return nil, &providers.RequestError{Param: "input",
			Msg: "embeddings: Gemini embeds text only: input must be a string or a list of strings, not token ids"}
	}
	return r, nil
}

// batchRequest is a batchEmbedContents request.
type batchRequest struct {
	Requests []embedRequest `json:"requests"`
}

type embedRequest struct {
	Model                string  `json:"model"`
	Content              content `json:"content"`
	OutputDimensionality *int    `json:"outputDimensionality,omitempty"`
}

func encodeBatch(model string, inputs []string, dimensions *int) ([]byte, error) {
	b := batchRequest{Requests: make([]embedRequest, len(inputs))}
	for i, s := range inputs {
		b.Requests[i] = embedRequest{Model: "models/" + model, Content: content{Parts: []part{{Text: s}}},
			OutputDimensionality: dimensions}
	}
	return marshalNoHTML(b)
}

// batchResponse is a batchEmbedContents answer. usageMetadata is read when
// the API sends it.
type batchResponse struct {
	Embeddings []struct {
		Values json.RawMessage `json:"values"`
	} `json:"embeddings"`
	UsageMetadata *struct {
		PromptTokenCount int `json:"promptTokenCount"`
	} `json:"usageMetadata"`
	Error *apiError `json:"error"`
}

var errEmbedAnswer = errors.New("upstream answered with something that is not a BatchEmbedContentsResponse")

// embedBatch makes one batchEmbedContents call and returns its vectors, as
// JSON arrays of numbers, and the token count it reports (0 for none).
func (c *Client) embedBatch(ctx context.Context, endpoint string, body []byte, want int) ([]json.RawMessage, int, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	resp, err := c.up.Send(ctx, endpoint, body, "application/json", c.statusError)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	answer, err := c.up.ReadAnswer(ctx, cancel, resp)
	if err != nil {
		return nil, 0, err
	}
	var br batchResponse
	if json.Unmarshal(answer, &br) != nil {
		return nil, 0, &providers.Error{Provider: c.up.Name(), Stage: providers.StageStream, Status: http.StatusBadGateway, Message: errEmbedAnswer.Error()}
	}
	if br.Error != nil {
		return nil, 0, c.statusError(resp.StatusCode, answer)
	}
	if len(br.Embeddings) != want {
		return nil, 0, &providers.Error{Provider: c.up.Name(), Stage: providers.StageStream, Status: http.StatusBadGateway,
			Message: fmt.Sprintf("upstream answered %d embeddings for %d inputs", len(br.Embeddings), want)}
	}
	out := make([]json.RawMessage, len(br.Embeddings))
	for i, e := range br.Embeddings {
		if v := bytes.TrimSpace(e.Values); len(v) == 0 || v[0] != '[' {
			return nil, 0, &providers.Error{Provider: c.up.Name(), Stage: providers.StageStream, Status: http.StatusBadGateway,
				Message: "upstream answered an embedding without values"}
		}
		out[i] = e.Values
	}
	n := 0
	if br.UsageMetadata != nil {
		n = br.UsageMetadata.PromptTokenCount
	}
	return out, n, nil
}

// estimateTokens stands in for the count Gemini's embeddings answer does
// not carry, for the request log and the client's usage: four characters
// a token, as providers.Facts estimates prompts.
func estimateTokens(inputs []string) int {
	n := 0
	for _, s := range inputs {
		n += (utf8.RuneCountInString(s) + 3) / 4
	}
	return n
}

// encodeEmbeddings writes OpenAI's embeddings answer: each vector as the
// JSON array Gemini sent, or as base64 of little-endian float32s, which is
// what OpenAI's encoding_format "base64" means (and what its Python SDK
// asks for by default).
func encodeEmbeddings(vectors []json.RawMessage, model string, tokens int, b64 bool) ([]byte, error) {
	var w bytes.Buffer
	w.WriteString(`{"object":"list","data":[`)
	for i, v := range vectors {
		if i > 0 {
			w.WriteByte(',')
		}
		w.WriteString(`{"object":"embedding","index":`)
		w.WriteString(strconv.Itoa(i))
		w.WriteString(`,"embedding":`)
		if !b64 {
			// Gemini indents its answers; a vector of 3072 numbers need
			// not carry the whitespace on.
			if err := json.Compact(&w, v); err != nil {
				return nil, fmt.Errorf("embedding %d: %w", i, err)
			}
		} else {
			var fs []float64
			if err := json.Unmarshal(v, &fs); err != nil {
				return nil, fmt.Errorf("embedding %d: %w", i, err)
			}
			raw := make([]byte, 4*len(fs))
			for j, f := range fs {
				binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(float32(f)))
			}
			w.WriteByte('"')
			w.WriteString(base64.StdEncoding.EncodeToString(raw))
			w.WriteByte('"')
		}
		w.WriteByte('}')
	}
	w.WriteString(`],"model":`)
	m, _ := marshalNoHTML(model)
	w.Write(m)
	fmt.Fprintf(&w, `,"usage":{"prompt_tokens":%d,"total_tokens":%d}}`, tokens, tokens)
	return w.Bytes(), nil
}

var _ providers.Native = (*Client)(nil)
