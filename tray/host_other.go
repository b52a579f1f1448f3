//go:build !((linux || freebsd || openbsd || netbsd) && !android)

package tray

import "log/slog"

// On Windows and macOS the setters need the native tray to exist: onReady
// sets the first icon, title and tooltip, and there is no D-Bus.
const presets = false

func checkHost(*slog.Logger) error { return nil }

func prepare(*slog.Logger, []byte, string, string) {}
