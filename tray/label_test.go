package tray

import (
	"runtime"
	"testing"
)

func TestMenuLabelKeepsUnderscores(t *testing.T) {
	got := menuLabel("Mock · set an api_key or base_url")
	want := "Mock · set an api__key or base__url"
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		want = "Mock · set an api_key or base_url"
	}
	if got != want {
		t.Errorf("menuLabel = %q, want %q", got, want)
	}
}
