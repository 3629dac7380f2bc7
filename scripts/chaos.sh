#!/usr/bin/env bash
# `make chaos`: the chaos run (`tallyq bench chaos`) on each broker, against
# throwaway servers of scripts/with-servers.sh (Postgres with fsync on, a
# private RabbitMQ node), which it crashes: a 20,000-ballot election in
# chunks of 10 through tally, decryptions, compensation and combine, while a
# random worker process is SIGKILLed every 2-5 s, Postgres is crashed once
# and the RabbitMQ node is killed once. It fails unless every check passes.
#
#   scripts/chaos.sh [river|rabbitmq|both] [extra flags of tallyq bench chaos]
#
# e.g. scripts/chaos.sh both --verify (the tally then checks every proof).
# The workers' logs go to $TMPDIR/tallyq-chaos.*/workers.log.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$root"
mode=${1:-both}
[[ $# -gt 0 ]] && shift
case $mode in
both) brokers=(river rabbitmq) ;;
river | rabbitmq) brokers=("$mode") ;;
*)
	sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
	;;
esac

if [[ -z ${TALLYQ_TEST_DATABASE_URL:-} ]]; then
	go build -o bin/tallyq ./cmd/tallyq
	TALLYQ_TEST_PG_FSYNC=on TALLYQ_TEST_RABBITMQ=1 exec scripts/with-servers.sh "$0" "$mode" "$@"
fi

# The URLs go by environment, so that no password shows in a process list.
export TALLYQ_DATABASE_URL=$TALLYQ_TEST_DATABASE_URL TALLYQ_AMQP_URL=${TALLYQ_TEST_RABBITMQ_URL:-} TALLYQ_LOG_LEVEL=warn
logs=$(mktemp -d "${TMPDIR:-/tmp}/tallyq-chaos.XXXXXX")
bin/tallyq migrate up >/dev/null
for broker in "${brokers[@]}"; do
	echo "== tallyq bench chaos --broker $broker $*" >&2
	if ! bin/tallyq bench chaos --broker "$broker" --worker-log "$logs/workers.log" "$@"; then
		echo "chaos run on $broker failed; the workers' last log lines ($logs/workers.log):" >&2
		tail -n 20 "$logs/workers.log" >&2 || true
		exit 1
	fi
done
