package anthropic

import (
	"encoding/json"
	"net/http"

	"github.com/localrouter/localrouter/providers"
)

// errorKind is how one Anthropic error type reaches an OpenAI client: the
// status Anthropic documents for it and OpenAI's error type. The Anthropic
// type itself becomes the error's code, so nothing is lost.
type errorKind struct {
	status int
	openAI string
}

// errorKinds follows https://docs.claude.com/en/api/errors.
var errorKinds = map[string]errorKind{
	"invalid_request_error": {http.StatusBadRequest, "invalid_request_error"},
	"authentication_error":  {http.StatusUnauthorized, "authentication_error"},
	"billing_error":         {http.StatusPaymentRequired, "invalid_request_error"},
	"permission_error":      {http.StatusForbidden, "permission_error"},
	"not_found_error":       {http.StatusNotFound, "invalid_request_error"},
	"request_too_large":     {http.StatusRequestEntityTooLarge, "invalid_request_error"},
	"rate_limit_error":      {http.StatusTooManyRequests, "rate_limit_error"},
	"api_error":             {http.StatusInternalServerError, "server_error"},
	"timeout_error":         {http.StatusGatewayTimeout, "server_error"},
	// 529 is kept: SDKs retry it like any 5xx, and it tells the user the
	// overload is Anthropic's, not their rate limit.
	"overloaded_error": {529, "server_error"},
}

// upstreamError builds the *providers.Error for an Anthropic error body.
// status is the HTTP status, or 0 for an error event inside a stream, where
// the status documented for the type is used instead.
func (c *Client) upstreamError(stage providers.Stage, status int, body []byte, header http.Header) *providers.Error {
	typ, msg := parseError(c.up.RedactBody(body))
	e := &providers.Error{Provider: c.up.Name(), Stage: stage, Status: status, Header: header, Code: typ, Message: msg}
	k, known := errorKinds[typ]
	if e.Status == 0 && known {
		e.Status = k.status
	}
	switch {
	case known:
		e.Type = k.openAI
	case e.Status >= 400:
		e.Type, _ = providers.ErrorTypeCode(e.Status)
	}
	return c.up.RedactError(e)
}

// parseError reads {"type":"error","error":{"type":…,"message":…}}, or
// falls back to the generic parser (a proxy's or load balancer's page).
func parseError(body []byte) (typ, msg string) {
	var r errorResponse
	if json.Unmarshal(body, &r) == nil && r.Error != nil && (r.Error.Type != "" || r.Error.Message != "") {
		return r.Error.Type, r.Error.Message
	}
	msg, typ, _, _ = providers.ParseErrorBody(body)
	return typ, msg
}
