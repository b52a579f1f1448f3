// Package assets holds the files LocalRouter embeds in its binary: the
// config template written for a new user, and the tray icons (icons.go).
package assets

import _ "embed"

// ConfigTemplate is the config file written when none exists yet. With no
// API keys in the environment it configures no usable provider, so
// LocalRouter starts in mock mode and a first request still gets an answer.
//
//go:embed config.yaml
var ConfigTemplate []byte
