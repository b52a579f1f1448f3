package main

import (
	"log/slog"
	"net/http"

	"github.com/localrouter/localrouter/proxy/ui"
)

// dashboard is the /ui page over the usage store and its live feed; with
// usage off or broken the page says so and its Health page still works.
func (u *usageStore) dashboard(log *slog.Logger) http.Handler {
	o := ui.Options{Logger: log}
	if u.err != "" {
		o.Off = "usage records are not kept: " + u.err
	}
	// Only set ones: a nil *usage.Store would be a non-nil ui.Store.
	if u.store != nil {
		o.Store = u.store
	}
	if u.recorder != nil {
		o.Feed = u.recorder
	}
	return ui.New(o)
}
