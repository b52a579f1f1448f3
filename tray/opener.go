package tray

// openCommand returns the command that opens a file with the user's default
// application on goos: "open" on macOS, "xdg-open" elsewhere. Windows uses
// the shell instead (opener_windows.go).
func openCommand(goos, path string) (string, []string) {
	if goos == "darwin" {
		return "open", []string{path}
	}
	return "xdg-open", []string{path}
}

// copyCommands lists the clipboard tools to try on goos, best first; each
// reads the text on stdin.
func copyCommands(goos string) [][]string {
	switch goos {
	case "darwin":
		return [][]string{{"pbcopy"}}
	case "windows":
		return [][]string{{"clip.exe"}}
	default:
		return [][]string{{"wl-copy"}, {"xclip", "-selection", "clipboard"}, {"xsel", "--clipboard", "--input"}}
	}
}
