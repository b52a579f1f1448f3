//go:build !windows

package tray

import (
	"os/exec"
	"runtime"
)

// openPath opens path with the desktop's default application; xdg-open and
// open return once the application has started.
func openPath(path string) error {
	name, args := openCommand(runtime.GOOS, path)
	return exec.Command(name, args...).Run()
}
