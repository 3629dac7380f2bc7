#!/usr/bin/env bash
# Runs a private PostgreSQL server from the installed binaries, for `make run`,
# `make test` and fault-injection tests. Nothing here touches a system cluster.
#
#   scripts/postgres.sh start DIR [--fsync on|off] [--watch-pid PID]
#   scripts/postgres.sh stop|status|url|crash|destroy DIR
#
# Exit status: 0 done; 3 `status` of a stopped server, 4 of none; 5 PostgreSQL
# is not installed; other non-zero: failed (the reason is on stderr).
#
# DIR is the project-side state directory (./.tallyq for `make run`). The server
# listens on 127.0.0.1 on a free port, with its unix socket in its data
# directory, scram password auth for user "tallyq" (password generated once,
# kept mode 600) and a database "tallyq". `start` prints the connection URL as
# the last line of stdout; everything else goes to stderr.
#
# Postgres refuses to run as root. As root the server therefore runs as the
# "postgres" user, with its files under /var/tmp/tallyq-<hash of DIR>/ (a
# checkout under /root is unreachable for that user); DIR/pg-home points there.
# Otherwise the files live in DIR/pg/.
#
# `start` on an initialised DIR reuses it: same port when that is still free,
# else a new one. --fsync is remembered; off (also full_page_writes off) is for
# throwaway test servers only: committed data survives a killed server but not
# a machine crash. --watch-pid makes a detached watcher destroy the server once
# that process has exited, so a killed test binary leaves no server behind.
# `crash` is `pg_ctl stop -m immediate`: no shutdown checkpoint, crash recovery
# on the next start.
set -euo pipefail

readonly PG_USER=tallyq
readonly PG_DB=tallyq
readonly RUN_AS=postgres # the OS user the server runs as when we are root
NAME=postgres.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

usage() {
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

# pg_bin_dir finds initdb: on PATH, else Debian's newest /usr/lib/postgresql/N/bin.
pg_bin_dir() {
	local p
	if p=$(command -v initdb 2>/dev/null); then
		dirname "$(readlink -f "$p")"
		return
	fi
	for p in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [[ -x $p/initdb ]]; then
			echo "$p"
			return
		fi
	done
	echo "$NAME: initdb not found: install PostgreSQL (Debian: apt-get install -y postgresql)" >&2
	exit 5
}

is_root() { [[ $(id -u) -eq 0 ]]; }

# as_server runs a command as the user that owns the data directory, from /
# (as root, postgres cannot read a current directory under /root), without
# the lock descriptor: a server that inherited it would hold DIR's lock.
as_server() {
	if is_root; then
		(cd / && runuser -u "$RUN_AS" -- "$@" 9>&-)
	else
		(cd / && "$@" 9>&-)
	fi
}

# home_for prints where DIR's server files live: data/, password, port, log.
home_for() {
	local dir=$1 home
	if [[ -f $dir/pg-home ]]; then
		home=$(cat "$dir/pg-home")
		# The pointer is read back into rm -rf: accept only what we write.
		[[ $home =~ ^/var/tmp/tallyq-[0-9a-f]{12}$ ]] || die "$dir/pg-home holds an unexpected path: $home"
		echo "$home"
	elif is_root; then
		echo "/var/tmp/tallyq-$(printf %s "$dir" | sha256sum | cut -c1-12)"
	else
		echo "$dir/pg"
	fi
}

url_of() {
	local home=$1
	[[ -f $home/password && -f $home/port ]] || die "no server initialised in $DIR (run: $0 start $DIR)"
	echo "postgres://$PG_USER:$(cat "$home/password")@127.0.0.1:$(cat "$home/port")/$PG_DB?sslmode=disable"
}

is_running() {
	local home=$1
	[[ -f $home/data/PG_VERSION ]] || return 1
	as_server "$BIN/pg_ctl" status -D "$home/data" >/dev/null 2>&1
}

init_server() {
	local home=$1 fsync=$2
	say "initialising a new server in $home"
	rm -rf "$home"
	mkdir -p "$home"
	chmod 700 "$home"
	(umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$home/password")
	if is_root; then
		chown -R "$RUN_AS:" "$home"
	fi
	local sync=()
	[[ $fsync == off ]] && sync=(--no-sync)
	as_server "$BIN/initdb" -D "$home/data" -U "$PG_USER" --pwfile="$home/password" \
		--auth-host=scram-sha-256 --auth-local=scram-sha-256 \
		--encoding=UTF8 --locale=C --no-instructions "${sync[@]}" >"$home/initdb.log" 2>&1 ||
		{
			cat "$home/initdb.log" >&2
			die "initdb failed (log above)"
		}
	local socket="'$home/data'"
	# A unix socket path is limited to 107 bytes; a deep DIR gets TCP only.
	if ((${#home} + 30 > 107)); then
		socket="''"
		say "data directory path too long for a unix socket; TCP only"
	fi
	cat >>"$home/data/postgresql.conf" <<-EOF

		# tallyq: private server (scripts/postgres.sh)
		listen_addresses = '127.0.0.1'
		unix_socket_directories = $socket
		max_connections = 400
		password_encryption = scram-sha-256
		include_if_exists = 'tallyq.conf'
	EOF
	echo "$fsync" >"$home/fsync"
	if [[ $(dirname "$home") != "$DIR" ]]; then
		echo "$home" >"$DIR/pg-home"
	fi
}

# write_runtime_conf sets the port and durability for the next start.
write_runtime_conf() {
	local home=$1 port=$2 fsync=$3
	# synchronous_commit stays on even without fsync: a commit then reaches
	# the kernel before it returns, so it survives `crash` (a killed server),
	# which fault tests rely on; only a machine crash could lose it.
	local conf="port = $port
fsync = $fsync
full_page_writes = $fsync
synchronous_commit = on"
	as_server sh -c 'cat >"$1"' _ "$home/data/tallyq.conf" <<<"$conf"
	echo "$port" >"$home/port"
	echo "$fsync" >"$home/fsync"
}

# launch starts the server; it returns 3 when the port was taken meanwhile.
launch() {
	local home=$1
	local log=$home/postgres.log
	local before=0
	[[ -f $log ]] && before=$(wc -c <"$log")
	if as_server "$BIN/pg_ctl" start -D "$home/data" -l "$log" -w -t 120 >/dev/null 2>&1; then
		return 0
	fi
	if tail -c +$((before + 1)) "$log" | grep -q -E 'could not bind|could not create any TCP/IP sockets|Address already in use'; then
		return 3
	fi
	tail -n 30 "$log" >&2 || true
	die "the server in $home did not start (log: $log)"
}

ensure_database() {
	local home=$1
	local psql=("$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(cat "$home/port")" -U "$PG_USER" -d postgres)
	local exists
	exists=$(PGPASSWORD=$(cat "$home/password") "${psql[@]}" -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")
	if [[ $exists != 1 ]]; then
		PGPASSWORD=$(cat "$home/password") "${psql[@]}" -c "CREATE DATABASE $PG_DB"
	fi
}

cmd_start() {
	local fsync="" watch_pid=""
	while (($#)); do
		case $1 in
		--fsync)
			[[ ${2:-} == on || ${2:-} == off ]] || die "--fsync takes on or off"
			fsync=$2
			shift 2
			;;
		--watch-pid)
			watch_pid=$(pid_arg "${2:-}")
			shift 2
			;;
		*) die "unknown option $1" ;;
		esac
	done
	local home
	home=$(home_for "$DIR")
	if is_running "$home"; then
		say "already running in $home"
		[[ -z $fsync || $fsync == "$(cat "$home/fsync")" ]] ||
			say "note: it runs with fsync=$(cat "$home/fsync"); stop it first to change that"
	else
		if [[ ! -f $home/data/PG_VERSION || ! -f $home/password ]]; then
			init_server "$home" "${fsync:-on}"
		fi
		[[ -n $fsync ]] || fsync=$(cat "$home/fsync" 2>/dev/null || echo on)
		local port="" tries rc
		[[ -f $home/port ]] && port=$(cat "$home/port")
		for tries in 1 2 3 4 5 6 7 8; do
			if [[ -z $port ]] || port_in_use "$port"; then
				port=$(free_port)
			fi
			write_runtime_conf "$home" "$port" "$fsync"
			rc=0
			launch "$home" || rc=$?
			[[ $rc -eq 0 ]] && break
			say "port $port was taken; trying another"
			port=""
		done
		[[ $rc -eq 0 ]] || die "could not find a port to listen on"
		say "started on 127.0.0.1:$port (fsync=$fsync, data: $home/data, log: $home/postgres.log)"
	fi
	ensure_database "$home"
	[[ -z $watch_pid ]] || watch_and_destroy "$watch_pid" "$(readlink -f "$0")" "$DIR"
	url_of "$home"
}

cmd_stop() {
	local mode=$1 home
	home=$(home_for "$DIR")
	if is_running "$home"; then
		as_server "$BIN/pg_ctl" stop -D "$home/data" -m "$mode" -w -t 120 >/dev/null
		say "stopped ($mode)"
	else
		say "not running"
	fi
}

cmd_status() {
	local home
	home=$(home_for "$DIR")
	if [[ ! -f $home/data/PG_VERSION ]]; then
		echo "not initialised"
		exit 4
	fi
	if is_running "$home"; then
		echo "running on 127.0.0.1:$(cat "$home/port") (data: $home/data)"
		exit 0
	fi
	echo "stopped (data: $home/data)"
	exit 3
}

cmd_destroy() {
	local home
	home=$(home_for "$DIR")
	if is_running "$home"; then
		as_server "$BIN/pg_ctl" stop -D "$home/data" -m immediate -w -t 60 >/dev/null || true
	fi
	rm -rf "$home"
	rm -f "$DIR/pg-home" "$DIR/.lock"
	say "destroyed $home"
}

main() {
	(($# >= 2)) || usage
	local cmd=$1
	DIR=$(server_dir "$@")
	readonly DIR
	shift 2
	BIN=$(pg_bin_dir)
	readonly BIN
	lock_dir "$DIR"
	case $cmd in
	start) cmd_start "$@" ;;
	stop) cmd_stop fast ;;
	crash) cmd_stop immediate ;;
	status) cmd_status ;;
	url) url_of "$(home_for "$DIR")" ;;
	destroy) cmd_destroy ;;
	*) usage ;;
	esac
}

main "$@"
