package assets

import "embed"

// UI is the dashboard's page (proxy/ui serves it): hand-written HTML, CSS
// and JavaScript, nothing fetched from elsewhere.
//
//go:embed ui
var UI embed.FS
