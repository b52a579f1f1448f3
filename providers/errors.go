package providers

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"
)

// Stage says how far an upstream call got before it failed. The gateway
// needs it to pick a status and to know whether another side may be tried.
type Stage int

const (
	// StageConnect: no response arrived (refused, DNS, TLS, header timeout).
	StageConnect Stage = iota
	// StageStatus: the upstream answered with an error status.
	StageStatus
	// StageStream: the upstream failed after its stream had started.
	StageStream
)

func (s Stage) String() string {
	switch s {
	case StageConnect:
		return "connect"
	case StageStatus:
		return "status"
	default:
		return "stream"
	}
}

// Error is an upstream failure. None of its texts, headers included, holds
// a provider key: an Upstream makes sure with RedactError.
type Error struct {
	Provider string
	Stage    Stage
	Status   int    // the upstream's HTTP status, 0 when none arrived
	Type     string // OpenAI error type, when the upstream gave one
	Code     string
	Param    string
	Message  string
	Timeout  bool        // the upstream did not answer in time
	Header   http.Header // the upstream's response headers, for Retry-After
	Err      error       // underlying transport error, if any
	// Raw is the upstream's error body, redacted, when the request was
	// passed through in the client's own protocol: it goes back as is.
	Raw []byte
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Provider)
	b.WriteString(": ")
	switch {
	case e.Status != 0:
		fmt.Fprintf(&b, "upstream status %d", e.Status)
	case e.Timeout:
		b.WriteString("upstream timed out")
	default:
		fmt.Fprintf(&b, "upstream %s failed", e.Stage)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorBody is the body of an OpenAI error response.
type ErrorBody struct {
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is OpenAI's error object. Param and Code are null when unset.
type ErrorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// ParseErrorBody extracts a message, type, code and param from an upstream
// error body. It understands OpenAI's shape and the variants vendors use
// instead: {"error":"text"} (Ollama), {"detail":…} (FastAPI servers such as
// vLLM), {"message":…} and {"base_resp":{…}} (Minimax). It knows no
// secrets and cuts long text, so pass it a body already redacted
// (Upstream.RedactBody).
func ParseErrorBody(body []byte) (msg, typ, code, param string) {
	var v struct {
		Error   json.RawMessage `json:"error"`
		Detail  json.RawMessage `json:"detail"`
		Message string          `json:"message"`
		Base    *struct {
			Code int    `json:"status_code"`
			Msg  string `json:"status_msg"`
		} `json:"base_resp"`
	}
	if json.Unmarshal(body, &v) != nil {
		return strings.TrimSpace(truncate(string(body), 512)), "", "", ""
	}
	if len(v.Error) > 0 && v.Error[0] == '{' {
		var d struct {
			Message string          `json:"message"`
			Type    string          `json:"type"`
			Code    json.RawMessage `json:"code"`
			Param   string          `json:"param"`
		}
		if json.Unmarshal(v.Error, &d) == nil {
			return d.Message, d.Type, rawString(d.Code), d.Param
		}
	}
	if s := rawString(v.Error); s != "" {
		return s, "", "", ""
	}
	if s := rawString(v.Detail); s != "" {
		return s, "", "", ""
	}
	if len(v.Detail) > 0 {
		return truncate(string(v.Detail), 512), "", "", ""
	}
	if v.Message != "" {
		return v.Message, "", "", ""
	}
	if v.Base != nil && v.Base.Code != 0 {
		return v.Base.Msg, "", fmt.Sprint(v.Base.Code), ""
	}
	return strings.TrimSpace(truncate(string(body), 512)), "", "", ""
}

// rawString returns a JSON string's value, a number's text, or "".
func rawString(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9' {
		return string(raw)
	}
	return ""
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a character boundary: a split UTF-8 sequence would reach the
	// client as U+FFFD.
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// ErrorTypeCode is OpenAI's error type and code for an HTTP status that
// came without them: the one table every provider and the gateway use for
// the OpenAI shape (Anthropic's own types are its package's table).
func ErrorTypeCode(status int) (typ, code string) {
	switch {
	case status == http.StatusUnauthorized:
		return "authentication_error", "invalid_api_key"
	case status == http.StatusForbidden:
		return "permission_error", "permission_denied"
	case status == http.StatusNotFound:
		return "invalid_request_error", "not_found"
	case status == http.StatusTooManyRequests:
		return "rate_limit_error", "rate_limit_exceeded"
	case status >= 500:
		return "server_error", "server_error"
	}
	return "invalid_request_error", ""
}
