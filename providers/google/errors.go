package google

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/localrouter/localrouter/providers"
)

// statusError maps a Gemini error body, {"error":{"code","message","status"}},
// to a *providers.Error with OpenAI's type and code. httpStatus is the HTTP
// status the body came with (0 for an error event inside a stream).
// https://ai.google.dev/gemini-api/docs/troubleshooting lists the statuses.
func (c *Client) statusError(httpStatus int, body []byte) *providers.Error {
	e := mapError(httpStatus, c.up.RedactBody(body))
	e.Provider = c.up.Name()
	return c.up.RedactError(e)
}

func mapError(httpStatus int, body []byte) *providers.Error {
	e := &providers.Error{Stage: providers.StageStatus, Status: httpStatus}
	var eb errorBody
	if json.Unmarshal(body, &eb) != nil || eb.Error == nil {
		// Not Gemini's shape (a proxy's HTML page, or another vendor's form).
		msg, typ, code, param := providers.ParseErrorBody(body)
		e.Message, e.Type, e.Code, e.Param = msg, typ, code, param
		if e.Status/100 == 2 || e.Status == 0 {
			e.Status = http.StatusBadGateway
		}
		if e.Type == "" {
			e.Type, e.Code = providers.ErrorTypeCode(httpStatus)
		}
		return e
	}
	a := eb.Error
	e.Message = a.Message
	if e.Status == 0 || e.Status/100 == 2 {
		e.Status = a.Code
	}
	status := a.Status
	if status == "" {
		status = grpcStatusFor(e.Status)
	}
	switch status {
	case "INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE":
		e.Type, e.Code = "invalid_request_error", strings.ToLower(status)
		// Gemini answers a bad key with 400 INVALID_ARGUMENT; clients and
		// the gateway's health accounting expect 401 for that.
		if strings.Contains(a.Message, "API key not valid") || strings.Contains(a.Message, "API_KEY_INVALID") {
			e.Status, e.Type, e.Code = http.StatusUnauthorized, "authentication_error", "invalid_api_key"
		}
	case "UNAUTHENTICATED":
		e.Type, e.Code = "authentication_error", "invalid_api_key"
	case "PERMISSION_DENIED":
		e.Type, e.Code = "permission_error", "permission_denied"
	case "NOT_FOUND":
		e.Type, e.Code = "invalid_request_error", "not_found"
		if strings.Contains(a.Message, "models/") {
			e.Code = "model_not_found"
		}
	case "RESOURCE_EXHAUSTED":
		e.Type, e.Code = "rate_limit_error", "rate_limit_exceeded"
	case "DEADLINE_EXCEEDED":
		e.Type, e.Code = "server_error", "timeout"
		e.Timeout = true
	case "INTERNAL", "UNAVAILABLE", "UNKNOWN":
		e.Type, e.Code = "server_error", strings.ToLower(status)
	default:
		e.Type, e.Code = providers.ErrorTypeCode(e.Status)
	}
	if e.Status == 0 {
		e.Status = httpStatusFor(status)
	}
	return e
}

func grpcStatusFor(httpStatus int) string {
	switch httpStatus {
	case 400:
		return "INVALID_ARGUMENT"
	case 401:
		return "UNAUTHENTICATED"
	case 403:
		return "PERMISSION_DENIED"
	case 404:
		return "NOT_FOUND"
	case 429:
		return "RESOURCE_EXHAUSTED"
	case 500:
		return "INTERNAL"
	case 503:
		return "UNAVAILABLE"
	case 504:
		return "DEADLINE_EXCEEDED"
	}
	return ""
}

func httpStatusFor(grpc string) int {
	switch grpc {
	case "INVALID_ARGUMENT", "FAILED_PRECONDITION", "OUT_OF_RANGE":
		return 400
	case "UNAUTHENTICATED":
		return 401
	case "PERMISSION_DENIED":
		return 403
	case "NOT_FOUND":
		return 404
	case "RESOURCE_EXHAUSTED":
		return 429
	case "UNAVAILABLE":
		return 503
	case "DEADLINE_EXCEEDED":
		return 504
	}
	return 500
}
