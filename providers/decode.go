package providers

import (
	"encoding/json"
	"errors"
	"fmt"
)

// DecodeOptional decodes an optional field of a request in another
// protocol; absent and null leave v alone. A failure is a *RequestError
// naming the field, its message prefixed with the protocol's name.
func DecodeOptional(protocol string, raw json.RawMessage, v any, param string) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return DecodeError(protocol, param, err)
	}
	return nil
}

// DecodeError turns an encoding/json error into a *RequestError naming the
// field, param being where the decoded value sat in the request.
func DecodeError(protocol, param string, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &RequestError{Msg: protocol + ": request body is not valid JSON: " + err.Error()}
	case errors.As(err, &te):
		p := param
		if te.Field != "" {
			if p != "" {
				p += "."
			}
			p += te.Field
		}
		if p == "" {
			return &RequestError{Msg: protocol + ": request body must be a JSON object"}
		}
		return &RequestError{Param: p, Msg: fmt.Sprintf("%s: %s must not be a JSON %s", protocol, p, te.Value)}
	}
	return &RequestError{Param: param, Msg: fmt.Sprintf("%s: %s: %v", protocol, param, err)}
}
