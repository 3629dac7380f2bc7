# Helpers shared by the server scripts (postgres.sh, rabbitmq.sh); sourced.
# The caller sets NAME (its name in messages).

die() {
	echo "$NAME: $*" >&2
	exit 1
}

say() { echo "$NAME: $*" >&2; }

port_in_use() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# free_port prints a port below Linux's ephemeral range that nothing listens
# on and that is not among its arguments. A server must still retry when its
# bind fails: another process may take the port first.
free_port() {
	local p i taken
	for i in $(seq 1 200); do
		p=$((15000 + RANDOM % 17000))
		taken=false
		for t in "$@"; do [[ $p == "$t" ]] && taken=true; done
		if ! $taken && ! port_in_use "$p"; then
			echo "$p"
			return
		fi
	done
	die "no free TCP port found on 127.0.0.1"
}

# pid_arg VALUE: the value of --watch-pid, checked.
pid_arg() {
	[[ $1 =~ ^[0-9]+$ ]] || die "--watch-pid takes a process id"
	echo "$1"
}

# watch_and_destroy PID SCRIPT DIR: once PID has exited, runs `SCRIPT destroy
# DIR` from a detached process that holds none of the caller's output or lock
# open (callers read stdout to EOF, and fd 9 is the lock).
watch_and_destroy() {
	setsid bash -c '
		while kill -0 "$1" 2>/dev/null; do sleep 1; done
		exec "$2" destroy "$3"
	' _ "$1" "$2" "$3" </dev/null >/dev/null 2>&1 9>&- &
}

# server_dir VERB DIR: DIR as an absolute path, created for `start`.
server_dir() {
	[[ -n $2 ]] || usage
	[[ $1 != start ]] || mkdir -p "$2"
	realpath -m "$2"
}

# lock_dir DIR: one command at a time per server directory (fd 9).
lock_dir() {
	if [[ -d $1 ]]; then
		exec 9>"$1/.lock"
		flock 9
	fi
}
