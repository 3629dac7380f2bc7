#!/usr/bin/env bash
# Runs a private RabbitMQ node (Debian's rabbitmq-server) for tests and
# `make run`; nothing of a system node is used or touched.
#
#   scripts/rabbitmq.sh start DIR [--watch-pid PID]
#   scripts/rabbitmq.sh stop|status|url|crash|destroy DIR
#   scripts/rabbitmq.sh ctl DIR ARGS...     rabbitmqctl against this node
#
# Exit status: 0 done; 3 `status` of a stopped node, 4 of none; 5 RabbitMQ is
# not installed; other non-zero: failed (the reason is on stderr).
#
# The node has its own name (tallyq-<hash of DIR>@localhost), its own ports on
# 127.0.0.1 (AMQP, Erlang distribution, and a private epmd), its own cookie,
# config, data and logs, all in DIR/rmq/, and one user "tallyq" with a
# generated password (DIR/rmq/password, mode 600). `start` prints the AMQP URL
# as the last line of stdout; it reuses an initialised DIR, on the same ports
# when they are still free. `crash` kills the node with SIGKILL. --watch-pid:
# as in postgres.sh, destroy the node once that process has exited.
set -euo pipefail

NAME=rabbitmq.sh
# shellcheck source=scripts/lib.sh
source "$(dirname "$0")/lib.sh"

readonly RMQ_BIN=/usr/lib/rabbitmq/bin
readonly RMQ_USER=tallyq

usage() {
	sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
}

require_rabbitmq() {
	if [[ ! -x $RMQ_BIN/rabbitmq-server ]]; then
		echo "$NAME: rabbitmq-server not found: install it (Debian: apt-get install -y rabbitmq-server)" >&2
		exit 5
	fi
}

# node_env exports what makes the server and the CLI tools use this node only.
node_env() {
	local ports
	read -r -a ports <"$HOME_DIR/ports"
	export HOME=$HOME_DIR # the Erlang cookie is $HOME/.erlang.cookie
	export RABBITMQ_NODENAME="tallyq-$(printf %s "$DIR" | sha256sum | cut -c1-12)@localhost"
	export RABBITMQ_USE_LONGNAME=false
	export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
	export RABBITMQ_NODE_PORT=${ports[0]}
	export RABBITMQ_DIST_PORT=${ports[1]}
	export ERL_EPMD_PORT=${ports[2]}
	export ERL_EPMD_ADDRESS=127.0.0.1
	export RABBITMQ_CONF_ENV_FILE=$HOME_DIR/rabbitmq-env.conf
	export RABBITMQ_CONFIG_FILE=$HOME_DIR/rabbitmq.conf
	export RABBITMQ_ADVANCED_CONFIG_FILE=$HOME_DIR/advanced.config
	export RABBITMQ_ENABLED_PLUGINS_FILE=$HOME_DIR/enabled_plugins
	export RABBITMQ_MNESIA_BASE=$HOME_DIR/mnesia
	export RABBITMQ_LOG_BASE=$HOME_DIR/log
	export RABBITMQ_PID_FILE=$HOME_DIR/rabbitmq.pid
}

ctl() { "$RMQ_BIN/rabbitmqctl" -q "$@" 9>&-; }

url_of() {
	[[ -f $HOME_DIR/password && -f $HOME_DIR/ports ]] || die "no node initialised in $DIR (run: $0 start $DIR)"
	local ports
	read -r -a ports <"$HOME_DIR/ports"
	echo "amqp://$RMQ_USER:$(cat "$HOME_DIR/password")@127.0.0.1:${ports[0]}/"
}

# is_running asks the node only when its process lives: rabbitmqctl would
# start an epmd for a node that is not there.
is_running() {
	[[ -f $HOME_DIR/ports && -f $HOME_DIR/rabbitmq.pid ]] || return 1
	kill -0 "$(cat "$HOME_DIR/rabbitmq.pid")" 2>/dev/null || return 1
	node_env
	ctl status >/dev/null 2>&1
}

# epmd_port_usable: the node's epmd port is free, or our own epmd holds
# it (a crashed node leaves its epmd running).
epmd_port_usable() {
	port_in_use "$1" || return 0
	ERL_EPMD_PORT=$1 "$(epmd_bin)" -names >/dev/null 2>&1
}

epmd_bin() {
	command -v epmd || ls /usr/lib/erlang/erts-*/bin/epmd 2>/dev/null | head -n 1
}

init_node() {
	say "initialising a new node in $HOME_DIR"
	rm -rf "$HOME_DIR"
	mkdir -p "$HOME_DIR/log" "$HOME_DIR/mnesia"
	chmod 700 "$HOME_DIR"
	(umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$HOME_DIR/password")
	(umask 077 && od -An -tx1 -N20 /dev/urandom | tr -d ' \n' | tr '0-9a-f' 'A-P' >"$HOME_DIR/.erlang.cookie")
	chmod 400 "$HOME_DIR/.erlang.cookie"
	: >"$HOME_DIR/rabbitmq-env.conf"
	echo '[].' >"$HOME_DIR/enabled_plugins"
	echo '[].' >"$HOME_DIR/advanced.config"
	# default_user applies when the node first boots with empty data.
	cat >"$HOME_DIR/rabbitmq.conf" <<-EOF
		default_user = $RMQ_USER
		default_pass = $(cat "$HOME_DIR/password")
		loopback_users = none
		log.console = false
		log.file.level = info
	EOF
	chmod 600 "$HOME_DIR/rabbitmq.conf"
}

# launch starts the node and waits until it runs; it returns 3 when a port was
# taken meanwhile.
launch() {
	local log=$HOME_DIR/log/startup.log
	rm -f "$HOME_DIR/rabbitmq.pid"
	node_env
	(cd "$HOME_DIR" && exec setsid "$RMQ_BIN/rabbitmq-server" </dev/null >"$log" 2>&1) 9>&- &
	if ctl wait "$HOME_DIR/rabbitmq.pid" --timeout 120 >/dev/null 2>&1 && ctl await_startup --timeout 120 >/dev/null 2>&1; then
		return 0
	fi
	if grep -q -E 'eaddrinuse|address already in use' "$log" "$HOME_DIR"/log/*.log 2>/dev/null; then
		stop_node >/dev/null 2>&1 || true
		return 3
	fi
	tail -n 30 "$log" >&2 || true
	die "the node in $HOME_DIR did not start (logs: $HOME_DIR/log)"
}

stop_node() {
	node_env
	ctl stop "$HOME_DIR/rabbitmq.pid"
}

kill_epmd() {
	node_env
	"$(epmd_bin)" -kill >/dev/null 2>&1 || true
}

cmd_start() {
	local watch_pid=""
	while (($#)); do
		case $1 in
		--watch-pid)
			watch_pid=$(pid_arg "${2:-}")
			shift 2
			;;
		*) die "unknown option $1" ;;
		esac
	done
	if is_running; then
		say "already running in $HOME_DIR"
	else
		[[ -f $HOME_DIR/password ]] || init_node
		local ports=() tries rc=1 p
		[[ -f $HOME_DIR/ports ]] && read -r -a ports <"$HOME_DIR/ports"
		for tries in 1 2 3 4 5; do
			if ((${#ports[@]} != 3)) || port_in_use "${ports[0]}" || port_in_use "${ports[1]}" || ! epmd_port_usable "${ports[2]}"; then
				ports=()
				for _ in 1 2 3; do
					p=$(free_port "${ports[@]}")
					ports+=("$p")
				done
			fi
			echo "${ports[*]}" >"$HOME_DIR/ports"
			rc=0
			launch || rc=$?
			[[ $rc -eq 0 ]] && break
			say "a port was taken; trying others"
			ports=()
		done
		[[ $rc -eq 0 ]] || die "could not find ports to listen on"
		say "started $RABBITMQ_NODENAME: AMQP 127.0.0.1:${ports[0]}, distribution ${ports[1]}, epmd ${ports[2]} (logs: $HOME_DIR/log)"
	fi
	[[ -z $watch_pid ]] || watch_and_destroy "$watch_pid" "$(readlink -f "$0")" "$DIR"
	url_of
}

cmd_status() {
	if [[ ! -f $HOME_DIR/ports ]]; then
		echo "not initialised"
		exit 4
	fi
	if is_running; then
		echo "running: $RABBITMQ_NODENAME, AMQP 127.0.0.1:$RABBITMQ_NODE_PORT"
		exit 0
	fi
	echo "stopped ($HOME_DIR)"
	exit 3
}

cmd_crash() {
	if [[ -f $HOME_DIR/rabbitmq.pid ]] && kill -KILL "$(cat "$HOME_DIR/rabbitmq.pid")" 2>/dev/null; then
		say "killed"
	else
		say "not running"
	fi
}

cmd_destroy() {
	if [[ -f $HOME_DIR/ports ]]; then
		if is_running; then
			stop_node >/dev/null 2>&1 || cmd_crash
		fi
		kill_epmd
	fi
	rm -rf "$HOME_DIR"
	rm -f "$DIR/.lock"
	say "destroyed $HOME_DIR"
}

main() {
	(($# >= 2)) || usage
	local cmd=$1
	DIR=$(server_dir "$@")
	HOME_DIR=$DIR/rmq
	readonly DIR HOME_DIR
	shift 2
	require_rabbitmq
	lock_dir "$DIR"
	case $cmd in
	start) cmd_start "$@" ;;
	stop)
		if is_running; then stop_node >/dev/null && say "stopped"; else say "not running"; fi
		[[ ! -f $HOME_DIR/ports ]] || kill_epmd
		;;
	crash) cmd_crash ;;
	status) cmd_status ;;
	url) url_of ;;
	destroy) cmd_destroy ;;
	ctl)
		node_env
		ctl "$@"
		;;
	*) usage ;;
	esac
}

main "$@"
