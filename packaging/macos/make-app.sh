#!/bin/sh
# Assembles LocalRouter.app, a menu-bar app (LSUIElement: no Dock icon).
# Runs on macOS only: the tray (fyne.io/systray) and notifications use Cocoa
# through cgo, so the binary cannot be cross-built from Linux or Windows.
#
#   packaging/macos/make-app.sh              # for this Mac's architecture
#   UNIVERSAL=1 packaging/macos/make-app.sh  # arm64 + amd64 in one binary (lipo)
#
# Output: dist/LocalRouter.app and dist/LocalRouter_<version>_macos_<arch>.zip.
# Environment: VERSION, COMMIT, DATE (default from git, like the Makefile),
# OUT (default dist), CODESIGN_IDENTITY (default "-": ad-hoc signature, which
# Apple silicon requires; use a Developer ID to distribute outside your Mac).
#
# "Launch at login" in the tray menu writes a LaunchAgent
# (~/Library/LaunchAgents/localrouter.plist, via go-autostart) that records
# the executable's absolute path: move LocalRouter.app to /Applications
# before ticking it.
set -eu

if [ "$(uname -s)" != Darwin ]; then
	echo "make-app.sh: LocalRouter.app must be built on macOS (cgo with Apple's SDK); this is $(uname -s)." >&2
	echo "make-app.sh: on Linux use 'make dist' for the Linux and Windows builds." >&2
	exit 1
fi

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"

VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
COMMIT=${COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}
DATE=${DATE:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}
OUT=${OUT:-dist}
# Bundle versions must be numeric: v1.2.3-4-gabcdef → 1.2.3; an untagged build → 0.0.0.
short=$(printf '%s\n' "$VERSION" | sed -n 's/^v\{0,1\}\([0-9]\{1,\}\(\.[0-9]\{1,\}\)\{1,2\}\)\([-+].*\)\{0,1\}$/\1/p')
short=${short:-0.0.0}
ldflags="-s -w -X main.version=$VERSION -X main.commit=$COMMIT -X main.date=$DATE"

app=$OUT/LocalRouter.app
rm -rf "$app"
mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"

build() { # build GOARCH OUTPUT
	CGO_ENABLED=1 GOOS=darwin GOARCH=$1 go build -trimpath -ldflags "$ldflags" -o "$2" .
}
if [ -n "${UNIVERSAL:-}" ]; then
	arch=universal
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	build arm64 "$tmp/localrouter_arm64"
	build amd64 "$tmp/localrouter_amd64"
	lipo -create -output "$app/Contents/MacOS/localrouter" "$tmp/localrouter_arm64" "$tmp/localrouter_amd64"
else
	arch=$(go env GOARCH)
	build "$arch" "$app/Contents/MacOS/localrouter"
fi

sed -e "s/@SHORT_VERSION@/$short/g" -e "s/@VERSION@/$VERSION/g" "$here/Info.plist" >"$app/Contents/Info.plist"
printf 'APPL????' >"$app/Contents/PkgInfo"
cp "$here/LocalRouter.icns" "$app/Contents/Resources/LocalRouter.icns"
plutil -lint "$app/Contents/Info.plist" >/dev/null

identity=${CODESIGN_IDENTITY:--}
if [ "$identity" = - ]; then
	codesign --force --sign - "$app"
else # a Developer ID: hardened runtime and a secure timestamp, as notarization requires
	codesign --force --options runtime --timestamp --sign "$identity" "$app"
fi
codesign --verify --strict "$app"

zip=$OUT/LocalRouter_${VERSION}_macos_$arch.zip
rm -f "$zip"
ditto -c -k --keepParent "$app" "$zip"
echo "built $app ($VERSION, $arch) and $zip"
"$app/Contents/MacOS/localrouter" --version
