package tray

import (
	"runtime"
	"strings"
)

// menuLabel returns s as a menu label. On Linux the menu travels over
// dbusmenu, whose hosts (GTK, Qt) read "_" as a mnemonic marker: "api_key"
// would show as "apikey". A doubled underscore is a literal one there.
func menuLabel(s string) string {
	if runtime.GOOS == "windows" || runtime.GOOS == "darwin" {
		return s
	}
	return strings.ReplaceAll(s, "_", "__")
}
