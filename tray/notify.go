package tray

import (
	"fmt"
	"time"
)

// note is one desktop notification.
type note struct {
	Title, Body string
	fallback    bool // rate-limited separately
}

// fallbackEvery limits fallback notifications (DESIGN §7: at most one a minute).
const fallbackEvery = time.Minute

// notes returns the notifications the change from prev to cur deserves
// (DESIGN §7): route changed, strategy source failing or recovered, a
// fallback, a rejected config reload. Polls that change nothing give none.
func notes(prev, cur State) []note {
	var out []note
	if a, b := summary(prev), summary(cur); a != b {
		out = append(out, note{Title: fmt.Sprintf(noteRouteTitle, b), Body: routeReason(prev, cur)})
	} else if !prev.LocalDegraded && cur.LocalDegraded {
		// The route "auto" shows did not move, but routed requests that
		// would go local do: say so once.
		out = append(out, note{Title: noteLocalDegraded, Body: noteLocalDegradedTxt})
	}
	switch {
	case !prev.strategyFailing() && cur.strategyFailing():
		out = append(out, note{Title: noteStrategyFailing, Body: fmt.Sprintf(noteStrategyKeeps, cur.StrategyError)})
	case prev.strategyFailing() && !cur.strategyFailing():
		out = append(out, note{Title: noteStrategyBack, Body: noteStrategyBackTxt})
	}
	if !cur.FallbackAt.IsZero() && cur.FallbackAt.After(prev.FallbackAt) {
		out = append(out, note{fmt.Sprintf(noteFallback, cur.FallbackTo), fmt.Sprintf(noteFallbackText, cur.FallbackFrom, cur.FallbackErr), true})
	}
	if cur.ReloadError != "" && cur.ReloadError != prev.ReloadError {
		out = append(out, note{Title: noteReloadRejected, Body: fmt.Sprintf(noteReloadKeeps, cur.ReloadError)})
	}
	return out
}

// routeReason says why the route changed.
func routeReason(prev, cur State) string {
	switch {
	case prev.Mock != cur.Mock && cur.Mock:
		return noteRouteMockOn
	case prev.Mock != cur.Mock:
		return noteRouteMockOff
	case prev.Private != cur.Private && cur.Private:
		return noteRoutePrivateOn
	case prev.Private != cur.Private:
		return noteRoutePrivateOff
	case prev.Override != cur.Override:
		label := map[string]string{OverrideLocal: menuLocal, OverrideRemote: menuRemote}[cur.Override]
		if label == "" {
			label = menuFollow
		}
		return fmt.Sprintf(noteRouteOverride, label)
	case prev.LocalUp && !cur.LocalUp:
		return noteRouteLocalDown
	case !prev.LocalUp && cur.LocalUp:
		return noteRouteLocalUp
	case !prev.LocalDegraded && cur.LocalDegraded:
		return noteLocalDegradedTxt
	case prev.LocalDegraded && !cur.LocalDegraded:
		return noteRouteLocalBack
	default:
		return noteRouteStrategy
	}
}

// notifier filters notes: nothing when notifications are off, a fallback at
// most once a minute, never the same note twice in a row. It is used by the
// tray's one loop goroutine only.
type notifier struct {
	last         note
	lastFallback time.Time
}

// filter returns the notes of prev→cur that should be shown at now.
func (n *notifier) filter(prev, cur State, now time.Time) []note {
	var out []note
	for _, x := range notes(prev, cur) {
		if x.fallback {
			if !n.lastFallback.IsZero() && now.Sub(n.lastFallback) < fallbackEvery {
				continue
			}
			n.lastFallback = now
		}
		if !cur.Notifications || x == n.last {
			continue
		}
		n.last = x
		out = append(out, x)
	}
	return out
}
