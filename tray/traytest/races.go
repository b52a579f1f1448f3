//go:build linux

package traytest

import (
	"strings"
	"testing"
)

// RaceEnv is the GORACE setting for an app run as a child process under
// -race: a report must not end the child (exit status 66) before the test
// has read it with CheckRaces.
const RaceEnv = "GORACE=exitcode=0 halt_on_error=0 atexit_sleep_ms=0"

// CheckRaces fails the test for every data race in a child's stderr, except
// a known one inside fyne.io/systray v1.12.2: the first GetLayout starts a
// goroutine that bumps menuVersion under another lock than GetLayout reads
// it with (systray_menu_unix.go, GetLayout and refresh). An app cannot
// prevent it, and it is a counter, harmless in practice; it is why tray
// tests run the app in a child process.
func CheckRaces(t testing.TB, stderr string) {
	t.Helper()
	for _, report := range strings.Split(stderr, "==================") {
		if !strings.Contains(report, "WARNING: DATA RACE") {
			continue
		}
		if strings.Contains(report, "fyne.io/systray.refresh()") && strings.Contains(report, "fyne.io/systray.(*tray).GetLayout()") &&
			!strings.Contains(report, "localrouter") {
			continue
		}
		t.Errorf("data race in the app:%s", report)
	}
}
