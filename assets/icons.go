package assets

import (
	"embed"

	"github.com/localrouter/localrouter/assets/internal/iconart"
)

// The tray icons are drawn by internal/genicons; icons_test.go fails when
// the files below differ from what it draws.
//
//go:generate go run ./internal/genicons -out icons
//go:embed icons/*.png icons/*.ico
var icons embed.FS

// TrayIcon returns the tray icon for state ("local", "remote", "mock",
// "error") in the format goos wants:
//
//   - "linux" (and any other goos): a 32×32 RGBA PNG with alpha, in colour
//     with a dark outline, which the tray host scales to its panel (16-bit
//     channels, so that systray passes the edges on intact: see
//     iconart.ForSystray);
//   - "windows": an ICO with 16, 20, 24, 32, 40 and 48 px PNG-compressed
//     entries;
//   - "darwin": a 32×32 template PNG (black and alpha only, for
//     systray.SetTemplateIcon, shown at 16×16 points: 2× on Retina).
//
// An unknown state gets the "error" icon. Each call returns a new slice.
func TrayIcon(state, goos string) []byte {
	switch state {
	case "local", "remote", "mock", "error":
	default:
		state = "error"
	}
	name := iconart.PNGName(state)
	switch goos {
	case "windows":
		name = iconart.ICOName(state)
	case "darwin":
		name = iconart.TemplateName(state)
	}
	b, err := icons.ReadFile("icons/" + name)
	if err != nil {
		panic("assets: tray icon missing from the build: " + err.Error())
	}
	return b
}
