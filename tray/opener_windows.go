package tray

import "golang.org/x/sys/windows"

// openPath asks the shell to open path with its associated application:
// no console window, no cmd.exe quoting rules.
func openPath(path string) error {
	return windows.ShellExecute(0, windows.StringToUTF16Ptr("open"),
		windows.StringToUTF16Ptr(path), nil, nil, windows.SW_SHOWNORMAL)
}
