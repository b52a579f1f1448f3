package tray

import (
	"runtime"

	"fyne.io/systray"

	"github.com/localrouter/localrouter/assets"
)

// setIcon shows the icon for state ("local", "remote", "mock", "error") in
// the platform's format: ICO on Windows, a monochrome template on macOS
// (the menu bar tints it for light and dark), PNG elsewhere.
func setIcon(state string) {
	switch runtime.GOOS {
	case "darwin":
		b := assets.TrayIcon(state, "darwin")
		systray.SetTemplateIcon(b, b)
	case "windows":
		systray.SetIcon(assets.TrayIcon(state, "windows"))
	default:
		systray.SetIcon(iconBytes(state))
	}
}

// iconBytes is the icon for state on Linux and the BSDs.
func iconBytes(state string) []byte { return assets.TrayIcon(state, "linux") }
