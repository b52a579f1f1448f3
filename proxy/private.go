package proxy

import (
	"errors"
	"net/http"
	"strings"

	"github.com/localrouter/localrouter/providers"
	"github.com/localrouter/localrouter/strategy"
)

// privateHeader makes one request private (DESIGN §11).
const privateHeader = "X-LocalRouter-Private"

// privateHeaderKey is privateHeader as net/http stores it.
const privateHeaderKey = "X-Localrouter-Private"

// SetPrivate turns Local only on or off: while it is on no request leaves
// the machine. It is persisted like the override.
func (s *Server) SetPrivate(on bool) {
	s.private.Store(on)
	s.saveState()
	s.notify()
}

// Private reports whether Local only is on.
func (s *Server) Private() bool { return s.private.Load() }

// privateWhy says why the request r with body must stay local whatever
// Local only says: its header asks, or its body holds a secret; "" when
// neither. Under Local only the scan is skipped: it cannot change the route.
func (s *Server) privateWhy(r *http.Request, st *state, body []byte) string {
	if s.private.Load() {
		return ""
	}
	// Looked up by its canonical form: Get would canonicalize the name,
	// an allocation on every request.
	switch strings.ToLower(strings.TrimSpace(r.Header.Get(privateHeaderKey))) {
	case "1", "true", "yes", "on":
		return "header " + privateHeader
	}
	if kind := st.secrets.Find(body); kind != "" {
		return "secret: " + kind
	}
	return ""
}

// errPrivateEstimate stands for a private request's route that cannot be
// served: count_tokens answers its estimate instead.
var errPrivateEstimate = errors.New("private: estimate")

// privateFailed is what a private request gets when its local provider
// failed in a way another side might not have: it is not sent there.
func privateFailed(dec strategy.Decision, err error) error {
	if !dec.Private || !isRetryable(err) {
		return err
	}
	why := dec.Reason
	if i := strings.Index(why, "private: "); i >= 0 {
		why = why[i+len("private: "):]
		if j := strings.Index(why, ", "); j >= 0 {
			why = why[:j]
		}
	}
	msg := "the request is private (" + why + ") and the local provider " + dec.Provider + " failed"
	var pe *providers.Error
	if errors.As(err, &pe) {
		msg += " (" + errorFor(pe).Error() + ")"
	}
	return &strategy.PrivateError{Msg: msg + ": LocalRouter does not send it remote"}
}

// privateError maps a *strategy.PrivateError to 503: the service that may
// serve the request, the local one, is not available now.
func privateError(err error) (*apiError, bool) {
	var pe *strategy.PrivateError
	if !errors.As(err, &pe) {
		return nil, false
	}
	return newAPIError(http.StatusServiceUnavailable, "server_error", "private_local_unavailable", "", pe.Msg), true
}

func (s *Server) putPrivate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Private *bool `json:"private"`
	}
	if aerr := decodeControl(w, r, &body); aerr != nil {
		writeError(w, aerr)
		return
	}
	if body.Private == nil {
		writeError(w, newAPIError(http.StatusBadRequest, "invalid_request_error", "invalid_value", "private", `send {"private":true} or {"private":false}`))
		return
	}
	s.SetPrivate(*body.Private)
	s.log.Info("local only set", "private", *body.Private)
	writeJSON(w, s.Status())
}
