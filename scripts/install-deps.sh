#!/usr/bin/env bash
# Checks the system packages tallyq's tests need and installs the missing ones
# with apt-get when run as root; otherwise it names them and fails.
#
#   scripts/install-deps.sh        what `make test` needs (PostgreSQL,
#                                  RabbitMQ, util-linux)
#   scripts/install-deps.sh --all  also what later test suites need
#                                  (chromium, prometheus)
#
# Go itself is not installed here: Debian's is older than go.mod asks for.
set -euo pipefail

all=false
case ${1:-} in
"") ;;
--all) all=true ;;
*)
	sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac

missing=()          # Debian packages to install normally
missing_norecs=()   # ... and with --no-install-recommends

has_pg() {
	command -v initdb >/dev/null 2>&1 && return 0
	compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null
}
has_pkg() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}
need_cmd() { # need_cmd COMMAND DEBIAN-PACKAGE
	command -v "$1" >/dev/null 2>&1 || missing+=("$2")
}

if ! command -v go >/dev/null 2>&1; then
	echo "install-deps: go is not on PATH: install Go 1.26 (go.mod) and add its bin directory to PATH" >&2
	exit 1
fi
has_pg || missing+=(postgresql)
need_cmd psql postgresql-client
need_cmd flock util-linux
need_cmd runuser util-linux
need_cmd setsid util-linux
need_cmd sha256sum coreutils
has_pkg rabbitmq-server || missing+=(rabbitmq-server)
if $all; then
	has_pkg chromium || missing+=(chromium)
	has_pkg prometheus || missing_norecs+=(prometheus)
fi

# Deduplicate (several commands come from one package).
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sed '/^$/d' | sort -u)

if ((${#missing[@]} + ${#missing_norecs[@]} == 0)); then
	echo "install-deps: all system packages present" >&2
	exit 0
fi

if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: missing system packages; install them (as root, on Debian) with:" >&2
	((${#missing[@]} == 0)) || echo "  apt-get install -y ${missing[*]}" >&2
	((${#missing_norecs[@]} == 0)) || echo "  apt-get install -y --no-install-recommends ${missing_norecs[*]}" >&2
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]} ${missing_norecs[*]}" >&2
apt-get update -q
((${#missing[@]} == 0)) || apt-get install -y -q "${missing[@]}"
((${#missing_norecs[@]} == 0)) || apt-get install -y -q --no-install-recommends "${missing_norecs[@]}"
