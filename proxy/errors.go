package proxy

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/strategy"
)

// statusClientClosed is logged (never sent) when the client hung up, as nginx does.
const statusClientClosed = 499

// apiError is an error in OpenAI's shape with the status it is sent with.
type apiError struct {
	status int
	body   providers.ErrorBody
}

func newAPIError(status int, typ, code, param, msg string) *apiError {
	e := &apiError{status: status}
	e.body.Error = providers.ErrorDetail{Message: msg, Type: typ}
	if code != "" {
		e.body.Error.Code = &code
	}
	if param != "" {
		e.body.Error.Param = &param
	}
	return e
}

func (e *apiError) Error() string { return e.body.Error.Message }

// errorFor maps any error from routing or an upstream to what the client gets.
func errorFor(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var qe *providers.RequestError
	if errors.As(err, &qe) {
		if qe.Param == "" {
			return newAPIError(http.StatusBadRequest, "invalid_request_error", "invalid_json", "", qe.Msg)
		}
		return newAPIError(http.StatusBadRequest, "invalid_request_error", "invalid_value", qe.Param, qe.Msg)
	}
	if pe, ok := privateError(err); ok {
		return pe
	}
	var re *strategy.RouteError
	if errors.As(err, &re) {
		return newAPIError(http.StatusNotFound, "invalid_request_error", "model_not_found", "model", re.Msg)
	}
	var pe *providers.Error
	if errors.As(err, &pe) {
		return upstreamError(pe)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return newAPIError(http.StatusGatewayTimeout, "upstream_error", "upstream_timeout", "", err.Error())
	}
	return newAPIError(http.StatusBadGateway, "upstream_error", "upstream_error", "", err.Error())
}

func upstreamError(pe *providers.Error) *apiError {
	switch {
	case pe.Status != 0:
		// The upstream's own status is the most useful thing to pass on:
		// SDKs retry 429 and 5xx and surface 4xx to the user.
		typ := pe.Type
		if typ == "" {
			typ, _ = providers.ErrorTypeCode(pe.Status)
		}
		msg := pe.Provider + ": " + pe.Message
		if pe.Message == "" {
			msg = pe.Provider + ": upstream answered " + strconv.Itoa(pe.Status)
		}
		status := pe.Status
		if status < 400 || status > 599 {
			status = http.StatusBadGateway
		}
		return newAPIError(status, typ, pe.Code, pe.Param, msg)
	case pe.Timeout:
		return newAPIError(http.StatusGatewayTimeout, "upstream_error", "upstream_timeout", "", pe.Error())
	case pe.Stage == providers.StageConnect:
		return newAPIError(http.StatusBadGateway, "upstream_error", "upstream_unreachable", "", pe.Error())
	}
	// A failure inside a stream: keep what the upstream said it was.
	typ, code := pe.Type, pe.Code
	if typ == "" {
		typ = "upstream_error"
	}
	if code == "" {
		code = "upstream_error"
	}
	return newAPIError(http.StatusBadGateway, typ, code, pe.Param, pe.Error())
}

// writeErrorFor sends e in the shape of the front door r is for: what a
// client's SDK parses is its own protocol's error, even for a request that
// never reached the door (guard, method, unknown URL).
func writeErrorFor(w http.ResponseWriter, r *http.Request, e *apiError) {
	p := r.URL.Path
	if p == "/v1/messages" || p == "/messages" || strings.HasPrefix(p, "/v1/messages/") || strings.HasPrefix(p, "/messages/") {
		messagesDoor{}.writeError(w, e)
		return
	}
	if strings.HasPrefix(p, "/api/") {
		writeOllamaError(w, e.status, e.Error())
		return
	}
	writeError(w, e)
}

// writeError sends e as JSON. Retry-After from a rate-limited upstream is
// passed on so the client's own back-off works.
func writeError(w http.ResponseWriter, e *apiError) {
	body, _ := json.Marshal(e.body)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.status)
	w.Write(body)
}

// appendStreamError appends the final SSE event sent when a stream fails
// after it began.
func appendStreamError(dst []byte, e *apiError) []byte {
	body, _ := json.Marshal(e.body)
	dst = append(dst, "data: "...)
	dst = append(dst, body...)
	return append(dst, "\n\n"...)
}
