#!/usr/bin/env bash
# Runs a command against throwaway servers, then removes them whatever the
# command's exit status, and exits with that status:
#
#   scripts/with-servers.sh go test -race ./...
#
# Started and exported for the command:
#   Postgres (always, fsync off unless TALLYQ_TEST_PG_FSYNC=on;
#     synchronous_commit is on either way):
#     TALLYQ_TEST_DATABASE_URL  superuser URL of its "tallyq" database
#     TALLYQ_TEST_PG_DIR        its directory for scripts/postgres.sh (crash, start)
#   RabbitMQ (only with TALLYQ_TEST_RABBITMQ=1, a private node):
#     TALLYQ_TEST_RABBITMQ_URL  amqp:// URL of its default vhost
#     TALLYQ_TEST_RABBITMQ_DIR  its directory for scripts/rabbitmq.sh
#
# Each server is also watched: if this script is killed, it is destroyed.
set -euo pipefail

if (($# == 0)); then
	sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
	exit 2
fi

scripts=$(cd "$(dirname "$0")" && pwd -P)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tallyq-servers.XXXXXX")

cleanup() {
	"$scripts/postgres.sh" destroy "$tmp/pg" || true
	if [[ -d $tmp/rabbitmq ]]; then
		"$scripts/rabbitmq.sh" destroy "$tmp/rabbitmq" || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TALLYQ_TEST_DATABASE_URL=$("$scripts/postgres.sh" start "$tmp/pg" --fsync "${TALLYQ_TEST_PG_FSYNC:-off}" --watch-pid $$ | tail -n 1)
TALLYQ_TEST_PG_DIR=$tmp/pg
export TALLYQ_TEST_DATABASE_URL TALLYQ_TEST_PG_DIR

# The hook for further servers: each is a scripts/NAME.sh with the same verbs.
if [[ ${TALLYQ_TEST_RABBITMQ:-} == 1 ]]; then
	TALLYQ_TEST_RABBITMQ_URL=$("$scripts/rabbitmq.sh" start "$tmp/rabbitmq" --watch-pid $$ | tail -n 1)
	TALLYQ_TEST_RABBITMQ_DIR=$tmp/rabbitmq
	export TALLYQ_TEST_RABBITMQ_URL TALLYQ_TEST_RABBITMQ_DIR
fi

status=0
"$@" || status=$?
exit "$status"
