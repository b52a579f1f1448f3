#!/bin/sh
# Entry point of the LocalRouter image (packaging/Dockerfile).
#
#   docker run … localrouter                 serve headless (the default)
#   docker run … localrouter check           validate the config, print the routing table
#   docker run … localrouter --version       print the version
#   docker run … localrouter --mock          extra arguments go to localrouter
#
# 1. When the config file ($LOCALROUTER_CONFIG_PATH, /app/config/config.yaml)
#    is missing, the image's default (/app/config.default.yaml, which listens on
#    0.0.0.0) is copied there. LocalRouter's own template would bind 127.0.0.1,
#    which is unreachable from outside a container. When the mounted folder is
#    not writable by this user, the default is served from where it is.
# 2. Off loopback LocalRouter's Host check is off and the client API key is the
#    only protection, and a "${LOCALROUTER_API_KEY}" that expands to nothing
#    means no key at all. So when the config refers to LOCALROUTER_API_KEY and
#    the variable is unset or empty, this script refuses to start.
#
# LOCALROUTER_APP_DIR (default /app) exists for tests/packaging_test.go.
set -eu

app=${LOCALROUTER_APP_DIR:-/app}
bin=$app/localrouter
default=$app/config.default.yaml
config=${LOCALROUTER_CONFIG_PATH:-$app/config/config.yaml}

say() { echo "localrouter-entrypoint: $*" >&2; }

mode=serve
case "${1:-}" in
check) mode=check; shift ;;
--version | -version) exec "$bin" --version ;;
esac

# A --config among the arguments wins over $LOCALROUTER_CONFIG_PATH.
explicit=
prev=
for a in "$@"; do
	case $prev in --config | -config) config=$a explicit=1 ;; esac
	case $a in --config=* | -config=*) config=${a#*=} explicit=1 ;; esac
	prev=$a
done

fallback=
if [ -z "$explicit" ] && [ ! -e "$config" ]; then
	if (umask 077 && cp "$default" "$config") 2>/dev/null; then
		say "created $config from the image's default config"
	else
		say "cannot create $config (is the mounted folder writable by uid $(id -u)?): serving the image's default $default; to customise it, put a config.yaml in the mounted folder and restart"
		fallback=$default
		config=$default
	fi
fi

if [ -r "$config" ] && sed -e 's/^#.*//' -e 's/[[:space:]]#.*//' "$config" | grep -q '\${LOCALROUTER_API_KEY}' && [ -z "${LOCALROUTER_API_KEY:-}" ]; then
	say "LOCALROUTER_API_KEY is not set: refusing to start."
	say "In a container LocalRouter listens on 0.0.0.0, where the client API key is its only protection,"
	say "and $config takes server.api_key from LOCALROUTER_API_KEY. Pick a key and pass it, e.g.:"
	say "  docker run -e LOCALROUTER_API_KEY=\"\$(openssl rand -hex 32)\" …"
	say "Clients then send \"Authorization: Bearer <key>\" (the OpenAI SDKs' api_key)."
	exit 78 # EX_CONFIG
fi

if [ "$mode" = check ]; then
	if [ -n "$fallback" ]; then
		exec "$bin" check --config "$fallback" "$@"
	fi
	exec "$bin" check "$@"
fi
if [ -n "$fallback" ]; then
	exec "$bin" --headless --config "$fallback" "$@"
fi
exec "$bin" --headless "$@"
