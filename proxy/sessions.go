package proxy

import "net/http"

// sessionHeaders are the headers agents name their session by (DESIGN
// §10), first found wins: Claude Code's, Codex's (session_id before 0.150),
// and the generic one a user's own client may send.
var sessionHeaders = [...]string{"X-Claude-Code-Session-Id", "Session-Id", "Session_id", "X-Session-Id"}

// sessionHeader is the client's own session id, "" when it sends none; the
// router then keys the session by the conversation's prefix.
func sessionHeader(r *http.Request) string {
	for _, k := range sessionHeaders {
		if v := r.Header[k]; len(v) > 0 && v[0] != "" {
			return v[0]
		}
	}
	return ""
}
