package strategy

// RemoteFor returns the remote route r would take on the remote side: d
// itself when d is remote, else the remote model Fallback would pick. A
// local answer saved what that route would have cost (DESIGN §12); unlike
// Fallback it ignores whether fallback is on or the request may leave.
func (e *Engine) RemoteFor(r *Request, d Decision, live Live) (Decision, bool) {
	if d.Side == Remote {
		return d, true
	}
	requested := r.Model
	if a, ok := e.alias(requested); ok {
		requested = a.Target
	}
	alt, err := e.onSideModel(Remote, requested, "", r.Endpoint, live)
	return alt, err == nil
}
