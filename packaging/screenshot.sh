#!/usr/bin/env bash
# screenshot.sh: a screenshot of LocalRouter's tray icon with its menu open,
# in a real tray host (xfce4-panel's status tray) on a private headless X
# display, for the README.
#
#   packaging/screenshot.sh [--out FILE.png] [--bin PATH] [--config FILE] [--keep DIR]
#
#   --out FILE    where to write the screenshot (default docs/tray.png)
#   --bin PATH    run this binary instead of building bin/localrouter
#                 (`make build`); it is started as PATH --config FILE
#   --config FILE the config to run with; default: the built-in template
#                 (assets/config.yaml) on port 8080, or a free port when
#                 8080 is taken, which with no API keys runs in mock mode
#                 (LocalRouter runs with a clean environment: a config that
#                 reads keys with ${NAME} does not see yours)
#   --keep DIR    copy the session's logs and intermediate screenshots to DIR
#
# It installs nothing. It needs, on Debian/Ubuntu:
#   apt-get install -y --no-install-recommends xvfb xfce4-panel dunst imagemagick xdotool dbus
# plus Go and make to build. Everything runs inside a temporary directory:
# a private D-Bus session bus (no service activation: only what this script
# starts is on it), Xvfb on a free display, xfconfd + xfce4-panel (whose
# systray plugin is the StatusNotifierWatcher and host and draws the menu
# with GTK), dunst for notifications, and LocalRouter with a temporary HOME
# and XDG directories and a clean environment (no API keys from yours). On
# exit every process it started is stopped, and the directory removed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=$root/docs/tray.png
bin=""
config=""
keep=""
while (($#)); do
	case $1 in
	--out) out=${2:?--out needs a file}; shift ;;
	--bin) bin=${2:?--bin needs a path}; shift ;;
	--config) config=${2:?--config needs a file}; shift ;;
	--keep) keep=${2:?--keep needs a directory}; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "screenshot.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
	shift
done

say() { echo "screenshot.sh: $*" >&2; }
die() { say "$*"; exit 1; }

# --- what is needed ---------------------------------------------------------

missing=()
need() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need Xvfb xvfb
need xfce4-panel xfce4-panel
need dunst dunst
need import imagemagick
need convert imagemagick
need xdotool xdotool
need dbus-daemon dbus
need dbus-send dbus
need setsid util-linux
if [[ -z $bin ]]; then
	need go golang
	need make make
fi
xfconfd=$(sed -n 's/^Exec=//p' /usr/share/dbus-1/services/org.xfce.Xfconf.service 2>/dev/null | head -n1 || true)
[[ -n $xfconfd && -x $xfconfd ]] || missing+=(xfconf)
if ((${#missing[@]})); then
	mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
	die "missing programs; install them with:
  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}
(golang: or Go from https://go.dev/dl/)"
fi

# --- the session, and cleaning it up ----------------------------------------

tmp=$(mktemp -d "${TMPDIR:-/tmp}/localrouter-screenshot.XXXXXX")
# Every process started here carries this variable, so that cleanup can find
# one that left its process group, and never touches anything else.
marker="LOCALROUTER_SCREENSHOT=$tmp"
pids=()

# ours PID: PID is alive, not a zombie, and carries the marker.
ours() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	[[ ${stat%% *} != Z ]] || return 1
	{ tr '\0' '\n' <"/proc/$1/environ"; } 2>/dev/null | grep -qxF "$marker"
}

# stop PID: TERM its process group (each helper runs in its own session),
# wait up to 3 s, then KILL what is left.
stop() {
	local pid=$1 i
	ours "$pid" || return 0
	kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 60; i++)); do
		ours "$pid" || return 0
		sleep 0.05
	done
	kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
}

cleanup() {
	local status=$? i pid f
	trap - EXIT
	trap '' INT TERM # finish cleaning up even when interrupted again
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do # newest first
		stop "${pids[i]}"
	done
	for f in /proc/[0-9]*/environ; do # anything that escaped its group
		pid=${f#/proc/}
		pid=${pid%/environ}
		[[ $pid != "$$" && $pid != "$BASHPID" ]] && ours "$pid" && stop "$pid"
	done
	wait 2>/dev/null || true
	if [[ -n $keep ]]; then
		mkdir -p "$keep" && cp -r "$tmp"/. "$keep"/ 2>/dev/null || true
	fi
	rm -rf "$tmp"
	exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# spawn NAME CMD...: start CMD in its own session (so its children can be
# stopped with it) with the marker, logging to $tmp/NAME.log.
spawn() {
	local name=$1
	shift
	env "$marker" setsid "$@" >"$tmp/$name.log" 2>&1 </dev/null &
	pids+=($!)
}

# fail MESSAGE LOGNAME...: report, show the logs named, exit.
fail() {
	local msg=$1 l
	shift
	say "$msg"
	for l in "$@"; do
		[[ -s $tmp/$l.log ]] && { say "--- $l.log:"; tail -n 30 "$tmp/$l.log" >&2; }
	done
	exit 1
}

wait_file() { # FILE SECONDS: until FILE is non-empty
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		[[ -s $1 ]] && return 0
		sleep 0.05
	done
	return 1
}

has_owner() {
	dbus-send --bus="$DBUS_SESSION_BUS_ADDRESS" --print-reply=literal --dest=org.freedesktop.DBus \
		/org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null | grep -q true
}

wait_name() { # NAME SECONDS
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		has_owner "$1" && return 0
		sleep 0.05
	done
	return 1
}

# region WxH+X+Y: a checksum of that part of the screen.
region() { import -display "$DISPLAY" -window root -crop "$1" +repage rgb:- 2>/dev/null | md5sum; }

# colours WxH+X+Y: how many distinct colours that part of the screen has.
colours() { import -display "$DISPLAY" -window root -crop "$1" +repage miff:- 2>/dev/null | convert - -format '%k' info:; }

# wait_icon GEOMETRY SECONDS: until an icon is drawn there, i.e. the region
# holds more than a few colours (an empty panel is one flat colour, an
# anti-aliased icon dozens) and then holds still for 0.3 s.
wait_icon() {
	local i n sum
	for ((i = 0; i < $2 * 10; i++)); do
		n=$(colours "$1")
		if ((n > 8)); then
			sum=$(region "$1")
			sleep 0.3
			[[ $(region "$1") == "$sum" ]] && return 0
		fi
		sleep 0.1
	done
	return 1
}

# wait_change GEOMETRY BEFORE SECONDS: until the region differs from BEFORE
# and then holds still for 0.3 s (drawn, not half-drawn).
wait_change() {
	local i now last=""
	for ((i = 0; i < $3 * 10; i++)); do
		now=$(region "$1")
		if [[ $now != "$2" && $now == "$last" ]]; then
			sleep 0.3
			[[ $(region "$1") == "$now" ]] && return 0
		fi
		last=$now
		sleep 0.1
	done
	return 1
}

# free_port: 8080, the default (so the menu shows the usual URL), unless
# something listens there; then a random free one.
free_port() {
	local p=8080 i
	for ((i = 0; i < 100; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
		p=$((20000 + RANDOM % 40000))
	done
	return 1
}

# --- build ------------------------------------------------------------------

if [[ -z $bin ]]; then
	say "building bin/localrouter"
	make -C "$root" --no-print-directory build >&2
	bin=$root/bin/localrouter
fi
[[ -x $bin ]] || die "$bin is not an executable"

# --- start the desktop ------------------------------------------------------

mkdir -p "$tmp/run" "$tmp/panel/config" "$tmp/panel/cache" \
	"$tmp/home/.config" "$tmp/home/.cache" "$tmp/home/.local/share" "$tmp/home/.local/state"
chmod 700 "$tmp/run"

cat >"$tmp/bus.conf" <<EOF
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=$tmp/run</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
EOF
spawn dbus dbus-daemon --config-file="$tmp/bus.conf" --nofork --print-address=3 3>"$tmp/bus.addr"
wait_file "$tmp/bus.addr" 10 || fail "dbus-daemon did not start" dbus
DBUS_SESSION_BUS_ADDRESS=$(head -n1 "$tmp/bus.addr")
export DBUS_SESSION_BUS_ADDRESS

# -wr: a white root window, which is what shows around the menu.
spawn xvfb Xvfb -displayfd 3 -screen 0 800x600x24 -nolisten tcp -wr 3>"$tmp/display"
wait_file "$tmp/display" 15 || fail "Xvfb did not start" xvfb
DISPLAY=:$(head -n1 "$tmp/display")
export DISPLAY

# One panel along the top edge: the status tray first, then empty space.
xml=$tmp/panel/config/xfce4/xfconf/xfce-perchannel-xml
mkdir -p "$xml"
cat >"$xml/xfce4-panel.xml" <<'EOF'
<?xml version="1.0" encoding="UTF-8"?>
<channel name="xfce4-panel" version="1.0">
  <property name="configver" type="int" value="2"/>
  <property name="panels" type="array">
    <value type="int" value="1"/>
    <property name="panel-1" type="empty">
      <property name="position" type="string" value="p=6;x=0;y=0"/>
      <property name="length" type="uint" value="100"/>
      <property name="position-locked" type="bool" value="true"/>
      <property name="size" type="uint" value="32"/>
      <property name="icon-size" type="uint" value="24"/>
      <property name="plugin-ids" type="array">
        <value type="int" value="1"/>
        <value type="int" value="2"/>
      </property>
    </property>
  </property>
  <property name="plugins" type="empty">
    <property name="plugin-1" type="string" value="systray">
      <property name="square-icons" type="bool" value="true"/>
    </property>
    <property name="plugin-2" type="string" value="separator">
      <property name="expand" type="bool" value="true"/>
      <property name="style" type="uint" value="0"/>
    </property>
  </property>
</channel>
EOF

# The GTK helpers: config under $tmp, no accessibility bus, dconf or gvfs.
gtk=(env XDG_CONFIG_HOME="$tmp/panel/config" XDG_CACHE_HOME="$tmp/panel/cache"
	XDG_RUNTIME_DIR="$tmp/run" NO_AT_BRIDGE=1 GTK_A11Y=none
	GSETTINGS_BACKEND=memory GIO_USE_VFS=local)
spawn xfconfd "${gtk[@]}" "$xfconfd"
wait_name org.xfce.Xfconf 10 || fail "xfconfd did not take its bus name" xfconfd
spawn panel "${gtk[@]}" xfce4-panel --disable-wm-check
wait_name org.kde.StatusNotifierWatcher 20 ||
	fail "xfce4-panel's tray did not own org.kde.StatusNotifierWatcher" panel xfconfd
spawn dunst "${gtk[@]}" dunst
wait_name org.freedesktop.Notifications 10 || fail "dunst did not start" dunst

# --- start LocalRouter --------------------------------------------------------

if [[ -z $config ]]; then
	port=$(free_port) || die "found no free port"
	config=$tmp/config.yaml
	sed "s/^\(  port:[[:space:]]*\)8080/\1$port/" "$root/assets/config.yaml" >"$config"
	grep -q "^  port:[[:space:]]*$port" "$config" || die "could not set the port in assets/config.yaml's copy"
	chmod 600 "$config"
fi

tray_area=40x32+0+0 # the start of the panel, where the first tray icon sits
spawn app env -i PATH="$PATH" LANG=C.UTF-8 HOME="$tmp/home" \
	XDG_CONFIG_HOME="$tmp/home/.config" XDG_CACHE_HOME="$tmp/home/.cache" \
	XDG_DATA_HOME="$tmp/home/.local/share" XDG_STATE_HOME="$tmp/home/.local/state" \
	XDG_RUNTIME_DIR="$tmp/run" DISPLAY="$DISPLAY" DBUS_SESSION_BUS_ADDRESS="$DBUS_SESSION_BUS_ADDRESS" \
	"$marker" "$bin" --config "$config"
app=${pids[-1]}
for ((i = 0; i < 400; i++)); do # 20 s
	has_owner "org.kde.StatusNotifierItem-$app-1" && break
	ours "$app" || fail "LocalRouter exited before showing its tray item" app
	sleep 0.05
done
((i < 400)) || fail "LocalRouter's tray item did not appear on the bus" app
wait_icon "$tray_area" 20 || fail "the tray icon was not drawn" app panel

# --- open the menu and take the picture --------------------------------------

import -display "$DISPLAY" -window root "$tmp/closed.png"
below=800x560+0+40 # everything under the panel
before=$(region "$below")
opened=""
for button in 1 3; do # left click opens an ItemIsMenu item; right click any
	xdotool mousemove 16 16 click "$button"
	if wait_change "$below" "$before" 5; then
		opened=$button
		break
	fi
	xdotool key Escape
done
[[ -n $opened ]] || fail "clicking the tray icon did not open a menu" app panel
xdotool mousemove 799 599 # pointer off the menu: no item highlighted
sleep 0.3
import -display "$DISPLAY" -window root "$tmp/open.png"

# The menu's extent: where the two screenshots differ under the panel.
box=$(convert "$tmp/closed.png" "$tmp/open.png" -compose difference -composite \
	-crop 800x560+0+40 +repage -threshold 0 -format '%@' info:)
[[ $box =~ ^([0-9]+)x([0-9]+)\+([0-9]+)\+([0-9]+)$ ]] || die "could not find the menu in the screenshot ($box)"
w=${BASH_REMATCH[1]} h=${BASH_REMATCH[2]} x=${BASH_REMATCH[3]} y=${BASH_REMATCH[4]}
# A tooltip is a line or two; the menu has a dozen items.
((w >= 80 && h >= 80)) || fail "what opened is ${w}x${h} px: not the menu" app panel
right=$((x + w + 12))
bottom=$((40 + y + h + 12))
mkdir -p "$(dirname "$out")"
convert "$tmp/open.png" -crop "${right}x${bottom}+0+0" +repage -strip "$out"
say "wrote $out (${right}x${bottom}; menu ${w}x${h} at $x,$((40 + y)), opened with button $opened)"
