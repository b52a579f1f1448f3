package tray

import (
	"errors"
	"os/exec"
	"runtime"
	"strings"
)

// errNoClipboard means no clipboard tool was found: copying is a no-op.
var errNoClipboard = errors.New("no clipboard tool found")

// copyText puts text on the clipboard with the first tool found on PATH.
func copyText(text string) error {
	for _, c := range copyCommands(runtime.GOOS) {
		if _, err := exec.LookPath(c[0]); err != nil {
			continue
		}
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Stdin = strings.NewReader(text)
		return cmd.Run()
	}
	return errNoClipboard
}
