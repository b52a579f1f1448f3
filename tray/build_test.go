//go:build linux

package tray

import (
	"os"
	"os/exec"
	"testing"
)

// TestCrossBuilds proves the two release builds in CI: Linux without cgo,
// and Windows with cgo through MinGW (go-autostart's Windows code is cgo).
func TestCrossBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: builds the whole program twice")
	}
	for _, b := range []struct {
		name string
		env  []string
		need string // compiler that must be installed, if any
	}{
		{"linux", []string{"GOOS=linux", "GOARCH=amd64", "CGO_ENABLED=0"}, ""},
		{"windows", []string{"GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=1", "CC=x86_64-w64-mingw32-gcc"}, "x86_64-w64-mingw32-gcc"},
	} {
		t.Run(b.name, func(t *testing.T) {
			if b.need != "" {
				if _, err := exec.LookPath(b.need); err != nil {
					t.Skipf("%s not installed (apt-get install gcc-mingw-w64-x86-64)", b.need)
				}
			}
			cmd := exec.Command("go", "build", "-o", os.DevNull, "github.com/localrouter/localrouter")
			cmd.Env = append(os.Environ(), b.env...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v go build: %v\n%s", b.env, err, out)
			}
		})
	}
}
